"""The locations an entry follows: their coordinators, devices and whole lifecycle.

Started at set-up, added when an event names a new one, set aside or dropped when
Flatpeak answers that one does not exist, and offered to the platforms as they come.

Nothing here trusts an event alone: a location is added only once Flatpeak serves it,
and dropped only once Flatpeak answers that it does not exist. A location the user chose
is never removed from the entry's options by Home Assistant; it is set aside with a
Repairs issue until it exists again or the user removes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import dt as dt_util

from ..api.exceptions import FlatpeakAccountDisabledError, FlatpeakError
from ..const import (
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    DEFAULT_FOLLOW_ALL_LOCATIONS,
    DOMAIN,
    LOGGER,
)
from ..entity import device_location_id
from ..errors import setup_error
from .coordinator import FlatpeakLocationCoordinator, async_report_account_disabled

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

    from ..api.client import FlatpeakClient
    from ..tariff.problems import ProblemTracker

# Each location is tried at most this often, and only so many at once: events naming
# locations cost an API call each, and a burst of them must not become a burst of calls.
ADD_RETRY_INTERVAL: Final = timedelta(minutes=10)
MAX_CONCURRENT_ADDS: Final = 4

LOCATION_MISSING_ISSUE_PREFIX: Final = "location_missing_"

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
        await self._async_start_coordinators(await self._async_location_ids())
        chosen = chosen_locations(self._entry)
        self._sync_missing_location_issues(chosen - set(self._coordinators))
        # Problems of locations no longer followed would never be reconciled again.
        for location_id in problems.locations():
            if location_id not in self._coordinators:
                problems.async_forget_location(location_id)
        # A chosen location that is missing keeps its device (and entities' settings)
        # until the user removes it from the options.
        self._remove_stale_devices(set(self._coordinators) | chosen)
        self.async_on_each(self._reconcile_problems)

    async def _async_location_ids(self) -> list[str]:
        if not follows_all(self._entry):
            return list(self._entry.options.get(CONF_LOCATIONS, []))
        try:
            locations = await self._client.list_locations()
        except FlatpeakAccountDisabledError as err:
            # As for a location's first fetch: retrying cannot help, Repairs says why.
            async_report_account_disabled(self._hass, self._entry)
            raise setup_error(err) from err
        except FlatpeakError as err:
            raise setup_error(err) from err
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
        # Every refresh is awaited before a failure is raised, so none is left running.
        results = await asyncio.gather(
            *(c.async_config_entry_first_refresh() for c in coordinators.values()),
            return_exceptions=True,
        )
        errors: list[BaseException] = []
        for coordinator, result in zip(
            list(coordinators.values()), results, strict=True
        ):
            if coordinator.location_missing:
                # Deleted in Flatpeak while Home Assistant was down: nothing to retry
                # for, and no reason to keep the other locations down.
                await coordinator.async_shutdown()
                del coordinators[coordinator.location_id]
            elif isinstance(result, BaseException):
                errors.append(result)
        if errors:
            for coordinator in coordinators.values():
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
    def async_request_add(self, location_id: str) -> None:
        """Start following a new location in the background, at a bounded rate."""
        now = dt_util.utcnow()
        attempts = self._add_attempts
        for stale in [
            loc for loc, at in attempts.items() if now - at >= ADD_RETRY_INTERVAL
        ]:
            del attempts[stale]
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
        """Stop following a location Flatpeak answers does not exist."""
        coordinator = self._coordinators.pop(location_id, None)
        if coordinator is None:
            return
        self._entry.async_create_background_task(
            self._hass, coordinator.async_shutdown(), f"{DOMAIN} stop {location_id}"
        )
        if self._problems is not None:
            self._problems.async_forget_location(location_id)
        if location_id in chosen_locations(self._entry):
            self._report_missing(location_id)
            return
        registry = dr.async_get(self._hass)
        if device := registry.async_get_device_by_identifier(
            (DOMAIN, location_id), self._entry.entry_id
        ):
            registry.async_remove_device(device.id)
        LOGGER.info(
            "Flatpeak location %s was deleted; its device is removed", location_id
        )

    @callback
    def _report_missing(self, location_id: str) -> None:
        """Tell the user that a location they chose no longer exists at Flatpeak."""
        LOGGER.warning(
            "Flatpeak has no location %s any more; it is not followed until it exists "
            "again and the integration is reloaded. If it was deleted, remove it in the "
            "integration's options",
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
        """Make Repairs show exactly the chosen locations that are missing now."""
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
        for location_id in missing:
            self._report_missing(location_id)

    def _remove_stale_devices(self, followed: set[str]) -> None:
        """Drop devices of locations the entry no longer follows."""
        registry = dr.async_get(self._hass)
        for device in dr.async_entries_for_config_entry(registry, self._entry.entry_id):
            # Target windows' devices (no location) come and go with their subentries.
            location_id = device_location_id(device)
            if location_id is not None and location_id not in followed:
                registry.async_remove_device(device.id)
