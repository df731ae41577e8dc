"""Apply accepted Flatpeak events: bus event, entities, problems, refreshes, locations.

The one way in for an event: webhook deliveries and catch-up both end here, so an event
has the same effect whichever way it arrives, the event log makes sure it has it once,
and what it changed is stored before the caller answers or moves on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send

from ..const import DOMAIN, LOGGER
from ..locations.followed import follows_all
from ..tariff.problems import PROBLEM_BY_EVENT_TYPE

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from ..api.models import Event
    from ..locations.followed import FollowedLocations
    from ..tariff.problems import ProblemTracker
    from .event_log import EventLog

# Contract: the Home Assistant bus event fired once per accepted Flatpeak event.
EVENT_FLATPEAK: Final = "flatpeak_event"

# The types that concern one location: its event entity and device triggers offer these.
LOCATION_EVENT_TYPES: Final = (
    "tariff.expired",
    "tariff.fetch.failed",
    "tariff.connection.upgrade",
    "tariff.expiring",
    "location.update",
    "connect_session.complete",
    "schedule.created",
)

_REFRESH_TYPES: Final = frozenset(
    {"location.update", "connect_session.complete", "location.delete"}
)
_ADD_TYPES: Final = frozenset({"location.create", "connect_session.complete"})


class Outcome(StrEnum):
    """What happened to an event handed to the applier."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


def entity_event_type(event_type: str) -> str:
    """Return the event entity's type for a Flatpeak type (`tariff.expired` → `tariff_expired`)."""
    return event_type.replace(".", "_")


def location_event_signal(entry_id: str, location_id: str) -> str:
    """Return the dispatcher signal a location's entities receive its events on."""
    return f"{DOMAIN}_{entry_id}_{location_id}_event"


class EventApplier:
    """Applies accepted events of one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        account: tuple[str, bool],
        event_log: EventLog,
        problems: ProblemTracker,
        locations: FollowedLocations,
    ) -> None:
        """Apply events of `account` (id, live mode) to these collaborators.

        `locations` is the entry's live set: locations added or dropped later are
        seen here too.
        """
        self._hass = hass
        self._entry = entry
        self._account_id, self._live_mode = account
        self._event_log = event_log
        self._problems = problems
        self._locations = locations

    async def async_apply(self, event: Event) -> Outcome:
        """Apply an event once and store what it changed before returning."""
        outcome = self._apply(event)
        if outcome is Outcome.APPLIED:
            # The id is in the journal already (recorded while applying); a problem
            # the event raised must be as safe, or a crash now would leave the event
            # recorded as applied with its effect lost. No write when none changed.
            await self._problems.async_flush()
        return outcome

    def _apply(self, event: Event) -> Outcome:
        """Apply an event once; other accounts' and modes' events are ignored."""
        if not self._is_ours(event):
            LOGGER.debug(
                "Ignoring Flatpeak event %s of another account or mode", event.id
            )
            return Outcome.IGNORED
        if not self._event_log.record(event.id):
            LOGGER.debug("Flatpeak event %s was already applied", event.id)
            return Outcome.DUPLICATE
        location_id = event.location_id
        followed = location_id is not None and location_id in self._locations
        self._fire_bus_event(event)
        if location_id is None:
            return Outcome.APPLIED
        if event.type == "location.delete":
            # Confirmed (signed, or read back from Flatpeak): the 404 it leads to
            # removes the location, where a 404 alone only sets it aside.
            self._locations.async_note_deleted(location_id)
        if followed:
            self._apply_to_location(event, location_id)
        elif self._locations.is_set_aside(location_id):
            # Named by an event after a 404: ask Flatpeak about it again now.
            self._locations.async_request_probe(location_id)
        elif event.type in _ADD_TYPES and follows_all(self._entry):
            self._locations.async_request_add(location_id)
        return Outcome.APPLIED

    def _fire_bus_event(self, event: Event) -> None:
        self._hass.bus.async_fire(
            EVENT_FLATPEAK,
            {
                "event_id": event.id,
                "type": event.type,
                "location_id": event.location_id,
                "tariff_id": event.tariff_id,
                "account_id": event.account_id,
                "live_mode": event.live_mode,
                "time_created": (
                    event.time_created.isoformat() if event.time_created else None
                ),
                "data": dict(event.data),
                # Contract: whenever the location has a device, a set-aside one too.
                "device_id": self._device_id(event.location_id),
                "config_entry_id": self._entry.entry_id,
            },
        )

    def _apply_to_location(self, event: Event, location_id: str) -> None:
        """Tell the location's entities, raise its problem, refresh what changed."""
        async_dispatcher_send(
            self._hass,
            location_event_signal(self._entry.entry_id, location_id),
            event,
        )
        if problem := PROBLEM_BY_EVENT_TYPE.get(event.type):
            self._problems.async_raise(location_id, problem, event)
        if event.type in _REFRESH_TYPES:
            # location.delete too: the event alone does not remove anything; the
            # refresh asks Flatpeak, and a location it no longer knows is dropped.
            self._entry.async_create_task(
                self._hass,
                self._locations[location_id].async_request_refresh_for_event(),
                f"{DOMAIN} refresh {location_id}",
            )

    def _is_ours(self, event: Event) -> bool:
        if event.account_id is not None and event.account_id != self._account_id:
            return False
        return event.live_mode is None or event.live_mode == self._live_mode

    def _device_id(self, location_id: str | None) -> str | None:
        if location_id is None:
            return None
        device = dr.async_get(self._hass).async_get_device_by_identifier(
            (DOMAIN, location_id), self._entry.entry_id
        )
        return device.id if device else None
