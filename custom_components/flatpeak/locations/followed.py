"""The locations an entry follows: their coordinators, devices and whole lifecycle.

Started at set-up, added when an event names a new one, set aside when Flatpeak answers
that one does not exist, and offered to the platforms as they come.

Nothing here trusts an event alone, nor one answer: a location is added only once Flatpeak
serves it. A 404 sets a location aside with a Repairs issue, keeping its device and
entities; it is asked about again (hourly for a day, then daily, and at once when an event
names it) and followed again, with its device, entities and history, once Flatpeak knows
it. Only the user (the options, or deleting the device) or a `location.delete` event that
Flatpeak confirmed, followed by a 404, removes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from ..api.exceptions import (
    FlatpeakConnectionError,
    FlatpeakError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
    FlatpeakServerError,
)
from ..const import (
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    DEFAULT_FOLLOW_ALL_LOCATIONS,
    DOMAIN,
    LOGGER,
)
from ..entity import device_location_id
from ..errors import setup_error
from .coordinator import (
    FlatpeakLocationCoordinator,
    async_account_works,
    async_report_account_error,
)
from .snapshot import PriceSnapshots

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from ..api.client import FlatpeakClient
    from ..tariff.problems import ProblemTracker

# Each location is tried at most this often, and only so many at once: events naming
# locations cost an API call each, and a burst of them must not become a burst of calls.
ADD_RETRY_INTERVAL: Final = timedelta(minutes=10)
MAX_CONCURRENT_ADDS: Final = 4

LOCATION_MISSING_ISSUE_PREFIX: Final = "location_missing_"

# Failures that say nothing about the account: Flatpeak (or the way to it) is down.
_TRANSIENT: Final = (
    FlatpeakConnectionError,
    FlatpeakServerError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
)

# A location answered 404 is asked about again this often for PROBE_HOURLY_FOR, then
# daily: a glitch (a replica behind, a location moved between accounts and back) heals
# within the hour, at one call an hour; a location really gone costs one call a day.
PROBE_INTERVAL: Final = timedelta(hours=1)
PROBE_HOURLY_FOR: Final = timedelta(days=1)
PROBE_SLOW_INTERVAL: Final = timedelta(days=1)

type LocationListener = Callable[[FlatpeakLocationCoordinator], None]


def follows_all(entry: ConfigEntry[Any]) -> bool:
    """Whether the entry follows every location of the account, new ones too."""
    return bool(
        entry.options.get(CONF_FOLLOW_ALL_LOCATIONS, DEFAULT_FOLLOW_ALL_LOCATIONS)
    )


def chosen_locations(entry: ConfigEntry[Any]) -> set[str]:
    """Return the locations the user picked by name (none when following all)."""
    if follows_all(entry):
        return set()
    return set(entry.options.get(CONF_LOCATIONS, []))


def location_missing_issue_id(location_id: str) -> str:
    """Return the Repairs issue id of a chosen location Flatpeak no longer knows."""
    return f"{LOCATION_MISSING_ISSUE_PREFIX}{location_id}"


class FollowedLocations(Mapping[str, FlatpeakLocationCoordinator]):
    """The entry's followed locations, by id, with everything that adds or drops one."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], client: FlatpeakClient
    ) -> None:
        """Follow nothing yet: `async_start` fetches the locations to follow."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._coordinators: dict[str, FlatpeakLocationCoordinator] = {}
        self._listeners: list[LocationListener] = []
        self._problems: ProblemTracker | None = None
        # When each location named by an event was last tried, and which are being added.
        self._add_attempts: dict[str, datetime] = {}
        self._being_added: set[str] = set()
        # Locations answered 404, kept with their coordinator (and entities, if they
        # had any) while they are asked about again; since when, and the next probe.
        self._set_aside: dict[str, FlatpeakLocationCoordinator] = {}
        self._missing_since: dict[str, datetime] = {}
        self._probes: dict[str, CALLBACK_TYPE] = {}
        # Locations whose entities were added in this run.
        self._announced: set[str] = set()
        # Locations a confirmed location.delete named: their next 404 removes them.
        self._deleted: set[str] = set()
        # Each location's last data, stored so a restart without Flatpeak keeps prices.
        self._snapshots = PriceSnapshots(hass, entry.entry_id)

    @override
    def __getitem__(self, location_id: str) -> FlatpeakLocationCoordinator:
        return self._coordinators[location_id]

    @override
    def __iter__(self) -> Iterator[str]:
        return iter(self._coordinators)

    @override
    def __len__(self) -> int:
        return len(self._coordinators)

    def display_name(self, location_id: str) -> str:
        """Return how people know a location: its name when followed, else its id."""
        coordinator = self._coordinators.get(location_id)
        if coordinator is None or coordinator.data is None:
            return location_id
        return coordinator.data.location.display_name

    async def async_start(self, problems: ProblemTracker) -> None:
        """Fetch every followed location; fail set-up only for reasons worth a retry."""
        self._problems = problems
        self._entry.async_on_unload(self._cancel_probes)
        await self._snapshots.async_load()
        self._entry.async_on_unload(self._snapshots.async_close)
        await self._async_start_coordinators(await self._async_location_ids())
        kept = set(self._coordinators) | set(self._set_aside)
        self._snapshots.async_keep_only(kept)
        self._sync_missing_location_issues(set(self._set_aside))
        # Problems of locations no longer followed would never be reconciled again.
        for location_id in problems.locations():
            if location_id not in kept:
                problems.async_forget_location(location_id)
        # A location set aside keeps its device (and entities' settings) until it is
        # back or removed.
        self._remove_stale_devices(kept)
        self.async_on_each(self._reconcile_problems)
        self.async_on_each(self._keep_snapshot)

    def is_set_aside(self, location_id: str) -> bool:
        """Whether a location is set aside after Flatpeak answered that it is missing."""
        return location_id in self._set_aside

    async def _async_location_ids(self) -> list[str]:
        if not follows_all(self._entry):
            return list(self._entry.options.get(CONF_LOCATIONS, []))
        try:
            locations = await self._client.list_locations()
        except FlatpeakError as err:
            # As for a location's first fetch: a disabled account or a refused API
            # release cannot be retried away, and Repairs says why.
            async_report_account_error(self._hass, self._entry, err)
            stored = self._snapshots.stored_location_ids()
            if isinstance(err, _TRANSIENT) and stored:
                # Flatpeak cannot be reached: start with the locations whose prices
                # were stored, which then serve them. Locations created meanwhile
                # come with their events, or at the next start.
                LOGGER.warning(
                    "Cannot list the Flatpeak locations (%s); starting with the %d "
                    "whose prices were stored",
                    err,
                    len(stored),
                )
                return stored
            raise setup_error(err) from err
        # The account answers: its issues raised before are over, even when there is
        # no location whose fetch would say so.
        async_account_works(self._hass, self._entry)
        return [location.id for location in locations]

    def _new_coordinator(self, location_id: str) -> FlatpeakLocationCoordinator:
        return FlatpeakLocationCoordinator(
            self._hass, self._entry, self._client, location_id, self._async_drop_missing
        )

    async def _async_start_coordinators(self, location_ids: list[str]) -> None:
        coordinators = {
            location_id: self._new_coordinator(location_id)
            for location_id in location_ids
        }
        for location_id, coordinator in coordinators.items():
            # Served if Flatpeak cannot be reached now, while they cover the time.
            if restored := await self._snapshots.async_restore(location_id):
                coordinator.async_start_from(restored)
        # Every refresh is awaited before a failure is raised, so none is left running.
        results = await asyncio.gather(
            *(c.async_config_entry_first_refresh() for c in coordinators.values()),
            return_exceptions=True,
        )
        errors: list[BaseException] = []
        missing: list[FlatpeakLocationCoordinator] = []
        for coordinator, result in zip(
            list(coordinators.values()), results, strict=True
        ):
            if coordinator.location_missing:
                # Deleted in Flatpeak while Home Assistant was down, or a glitch:
                # nothing to retry the entry for, and no reason to keep the other
                # locations down. It is set aside and asked about again.
                missing.append(coordinator)
                del coordinators[coordinator.location_id]
            elif isinstance(result, BaseException):
                errors.append(result)
        if errors:
            for coordinator in [*coordinators.values(), *missing]:
                await coordinator.async_shutdown()
            # Errors that a retry cannot fix win over those it can.
            raise next(
                (
                    err
                    for kind in (ConfigEntryAuthFailed, ConfigEntryError)
                    for err in errors
                    if isinstance(err, kind)
                ),
                errors[0],
            )
        self._coordinators.update(coordinators)
        self._announced.update(coordinators)
        for coordinator in missing:
            self._set_aside_missing(coordinator)

    @callback
    def async_on_each(self, add: LocationListener) -> None:
        """Call `add` for every location now and for each one added while loaded."""
        for coordinator in self._coordinators.values():
            add(coordinator)
        self._listeners.append(add)

        @callback
        def remove() -> None:
            self._listeners.remove(add)

        self._entry.async_on_unload(remove)

    @callback
    def _async_announce(self, coordinator: FlatpeakLocationCoordinator) -> None:
        self._coordinators[coordinator.location_id] = coordinator
        self._announced.add(coordinator.location_id)
        for listener in list(self._listeners):
            listener(coordinator)

    @callback
    def _reconcile_problems(self, coordinator: FlatpeakLocationCoordinator) -> None:
        """Clear problems whenever a fresh status shows them gone."""
        problems = self._problems
        if problems is None:
            return

        @callback
        def reconcile() -> None:
            data = coordinator.data
            if data is not None and data.status is not None:
                problems.async_reconcile(
                    coordinator.location_id, data.status, data.fetched_at
                )

        reconcile()
        unsubscribe: CALLBACK_TYPE = coordinator.async_add_listener(reconcile)
        self._entry.async_on_unload(unsubscribe)

    @callback
    def _keep_snapshot(self, coordinator: FlatpeakLocationCoordinator) -> None:
        """Store the location's data after each successful fetch."""

        @callback
        def store() -> None:
            if (
                coordinator.last_update_success
                and not coordinator.location_missing
                and coordinator.data is not None
            ):
                self._snapshots.async_update(coordinator.location_id, coordinator.data)

        store()
        self._entry.async_on_unload(coordinator.async_add_listener(store))

    @callback
    def async_request_add(self, location_id: str) -> None:
        """Start following a new location in the background, at a bounded rate."""
        now = dt_util.utcnow()
        attempts = self._add_attempts
        for stale in [
            loc for loc, at in attempts.items() if now - at >= ADD_RETRY_INTERVAL
        ]:
            del attempts[stale]
        if location_id in self._set_aside:
            # Known already, set aside after a 404: asked about again instead.
            self.async_request_probe(location_id)
            return
        if (
            location_id in self._coordinators
            or location_id in attempts
            or len(self._being_added) >= MAX_CONCURRENT_ADDS
        ):
            LOGGER.debug("Not adding Flatpeak location %s now", location_id)
            return
        attempts[location_id] = now
        self._being_added.add(location_id)
        self._entry.async_create_background_task(
            self._hass,
            self._async_add(location_id),
            f"{DOMAIN} add location {location_id}",
        )

    async def async_follow(self, location_id: str) -> bool:
        """Follow a location now, waiting for it: one the user just connected a tariff to.

        Not rate-limited like the additions events ask for: a person asked for it,
        once. Returns whether the location is followed.
        """
        if location_id in self._coordinators:
            return True
        if location_id in self._being_added:
            return False
        self._add_attempts[location_id] = dt_util.utcnow()
        self._being_added.add(location_id)
        await self._async_add(location_id)
        return location_id in self._coordinators

    async def _async_add(self, location_id: str) -> None:
        try:
            # Asked first, so a location that does not exist costs no coordinator.
            await self._client.get_location(location_id)
        except FlatpeakError as err:
            LOGGER.warning(
                "Could not add Flatpeak location %s now: %s", location_id, err
            )
            self._being_added.discard(location_id)
            return
        coordinator = self._new_coordinator(location_id)
        await coordinator.async_refresh()
        self._being_added.discard(location_id)
        if not coordinator.last_update_success or location_id in self._coordinators:
            LOGGER.warning(
                "Could not add Flatpeak location %s now; it is added at the next reload",
                location_id,
            )
            await coordinator.async_shutdown()
            return
        LOGGER.info("Following new Flatpeak location %s", location_id)
        self._async_announce(coordinator)

    @callback
    def _async_drop_missing(self, location_id: str) -> None:
        """Set aside a location Flatpeak answers does not exist; remove it if deleted."""
        coordinator = self._coordinators.pop(location_id, None) or self._set_aside.get(
            location_id
        )
        if coordinator is None:
            # Not followed yet (a first fetch): its starter decides.
            return
        if location_id in self._deleted:
            self._async_remove(location_id, coordinator)
            LOGGER.info(
                "Flatpeak location %s was deleted; its device is removed", location_id
            )
            return
        self._set_aside_missing(coordinator)

    @callback
    def _set_aside_missing(self, coordinator: FlatpeakLocationCoordinator) -> None:
        """Keep a location answered 404, with its device, and ask about it again."""
        location_id = coordinator.location_id
        if location_id not in self._set_aside:
            self._set_aside[location_id] = coordinator
            self._missing_since[location_id] = dt_util.utcnow()
            self._report_missing(location_id)
        self._schedule_probe(location_id)

    @callback
    def _schedule_probe(self, location_id: str) -> None:
        """Ask about a set-aside location hourly for a day, then daily."""
        if unsub := self._probes.pop(location_id, None):
            unsub()
        missing_for = dt_util.utcnow() - self._missing_since[location_id]
        delay = (
            PROBE_INTERVAL if missing_for < PROBE_HOURLY_FOR else PROBE_SLOW_INTERVAL
        )

        @callback
        def probe(_now: datetime) -> None:
            self._probes.pop(location_id, None)
            self._start_probe(location_id)

        self._probes[location_id] = async_call_later(
            self._hass,
            delay,
            HassJob(probe, f"{DOMAIN} probe {location_id}", cancel_on_shutdown=True),
        )

    @callback
    def async_request_probe(self, location_id: str) -> None:
        """Ask about a set-aside location now, because an event named it (rate-limited)."""
        now = dt_util.utcnow()
        last = self._add_attempts.get(location_id)
        if location_id not in self._set_aside or (
            last is not None and now - last < ADD_RETRY_INTERVAL
        ):
            return
        self._add_attempts[location_id] = now
        self._start_probe(location_id)

    @callback
    def async_note_deleted(self, location_id: str) -> None:
        """Remember a confirmed `location.delete`: the 404 that follows removes it."""
        if location_id in self._coordinators or location_id in self._set_aside:
            self._deleted.add(location_id)
        if location_id in self._set_aside:
            # Its coordinator does not poll: ask now, so the 404 comes.
            self._start_probe(location_id)

    @callback
    def _start_probe(self, location_id: str) -> None:
        self._entry.async_create_background_task(
            self._hass, self._async_probe(location_id), f"{DOMAIN} probe {location_id}"
        )

    async def _async_probe(self, location_id: str) -> None:
        coordinator = self._set_aside.get(location_id)
        if coordinator is None:
            return
        # A 404 calls back _async_drop_missing, which schedules the next probe (or
        # removes a deleted location); any other failure is retried on schedule.
        await coordinator.async_refresh()
        if location_id not in self._set_aside:
            return
        if coordinator.location_missing or not coordinator.last_update_success:
            if location_id not in self._probes:
                self._schedule_probe(location_id)
            return
        self._async_restore(location_id)

    @callback
    def _async_restore(self, location_id: str) -> None:
        """Follow again a set-aside location Flatpeak knows again."""
        coordinator = self._set_aside.pop(location_id)
        self._missing_since.pop(location_id, None)
        self._deleted.discard(location_id)
        if unsub := self._probes.pop(location_id, None):
            unsub()
        ir.async_delete_issue(
            self._hass, DOMAIN, location_missing_issue_id(location_id)
        )
        LOGGER.info("Flatpeak knows location %s again; following it", location_id)
        if location_id in self._announced:
            # Its entities are still there, on this coordinator: they come back.
            self._coordinators[location_id] = coordinator
        else:
            self._async_announce(coordinator)

    @callback
    def async_stop_following(self, location_id: str) -> None:
        """Stop following a set-aside location whose device the user deleted."""
        if coordinator := self._set_aside.get(location_id):
            self._async_remove(location_id, coordinator, device=False)

    @callback
    def _async_remove(
        self,
        location_id: str,
        coordinator: FlatpeakLocationCoordinator,
        *,
        device: bool = True,
    ) -> None:
        """Stop following a location for good: coordinator, problems, issue, device."""
        self._coordinators.pop(location_id, None)
        self._set_aside.pop(location_id, None)
        self._missing_since.pop(location_id, None)
        self._deleted.discard(location_id)
        if unsub := self._probes.pop(location_id, None):
            unsub()
        self._entry.async_create_background_task(
            self._hass, coordinator.async_shutdown(), f"{DOMAIN} stop {location_id}"
        )
        if self._problems is not None:
            self._problems.async_forget_location(location_id)
        self._snapshots.async_forget(location_id)
        ir.async_delete_issue(
            self._hass, DOMAIN, location_missing_issue_id(location_id)
        )
        if location_id in chosen_locations(self._entry):
            # The options would name it at every start: they follow what was removed.
            self._hass.config_entries.async_update_entry(
                self._entry,
                options={
                    **self._entry.options,
                    CONF_LOCATIONS: [
                        loc
                        for loc in self._entry.options.get(CONF_LOCATIONS, [])
                        if loc != location_id
                    ],
                },
            )
        if not device:
            return
        registry = dr.async_get(self._hass)
        if found := registry.async_get_device_by_identifier(
            (DOMAIN, location_id), self._entry.entry_id
        ):
            registry.async_remove_device(found.id)

    @callback
    def _cancel_probes(self) -> None:
        for unsub in self._probes.values():
            unsub()
        self._probes.clear()

    @callback
    def _report_missing(self, location_id: str) -> None:
        """Tell the user that a location no longer exists at Flatpeak, for now."""
        LOGGER.warning(
            "Flatpeak has no location %s (any more); its device is kept and Flatpeak "
            "is asked about it again hourly, then daily. If it was deleted, remove it "
            "in the integration's options or delete its device",
            location_id,
        )
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            location_missing_issue_id(location_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="location_missing",
            translation_placeholders={
                "location_id": location_id,
                "title": self._entry.title,
            },
            data={"entry_id": self._entry.entry_id, "location_id": location_id},
        )

    @callback
    def _sync_missing_location_issues(self, missing: set[str]) -> None:
        """Drop the Repairs issues of locations that are not missing any more."""
        registry = ir.async_get(self._hass)
        for (domain, issue_id), issue in list(registry.issues.items()):
            data = issue.data or {}
            if (
                domain == DOMAIN
                and issue_id.startswith(LOCATION_MISSING_ISSUE_PREFIX)
                and data.get("entry_id") == self._entry.entry_id
                and data.get("location_id") not in missing
            ):
                ir.async_delete_issue(self._hass, DOMAIN, issue_id)

    def _remove_stale_devices(self, followed: set[str]) -> None:
        """Drop devices of locations the entry no longer follows."""
        registry = dr.async_get(self._hass)
        for device in dr.async_entries_for_config_entry(registry, self._entry.entry_id):
            # Target windows' devices (no location) come and go with their subentries.
            location_id = device_location_id(device)
            if location_id is not None and location_id not in followed:
                registry.async_remove_device(device.id)
