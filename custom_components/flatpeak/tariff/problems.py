"""Tariff problems per location: raised by events, cleared by the location's status.

The set of active problems is persisted, so problem sensors and Repairs survive a restart,
and is the single source both of them read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from ..api.models import TariffConnectionStatus
from ..const import DOMAIN, FLATPEAK_DASHBOARD_URL, LOGGER
from ..store import ThrottledStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..api.models import Event, LocationStatus, TariffSlotStatus

SAVE_DELAY: Final = 1.0
# Flatpeak sends tariff.expiring 7 to 10 days before the contract ends; a contract that
# now ends further out than this has been renewed.
EXPIRING_HORIZON: Final = timedelta(days=14)


class Problem(StrEnum):
    """A tariff problem; the value is the binary sensor's key."""

    TARIFF_EXPIRED = "tariff_expired"
    TARIFF_FETCH_FAILED = "tariff_fetch_failed"
    TARIFF_UPGRADE_AVAILABLE = "tariff_upgrade_available"
    TARIFF_EXPIRING = "tariff_expiring"


PROBLEM_BY_EVENT_TYPE: Final = {
    "tariff.expired": Problem.TARIFF_EXPIRED,
    "tariff.fetch.failed": Problem.TARIFF_FETCH_FAILED,
    "tariff.connection.upgrade": Problem.TARIFF_UPGRADE_AVAILABLE,
    "tariff.expiring": Problem.TARIFF_EXPIRING,
}

# Problems that need the user to act in Flatpeak get a Repairs issue.
REPAIR_ISSUE_BY_PROBLEM: Final = {
    Problem.TARIFF_EXPIRED: "tariff_expired",
    Problem.TARIFF_FETCH_FAILED: "tariff_fetch_failed",
    Problem.TARIFF_UPGRADE_AVAILABLE: "tariff_connection_upgrade",
}


@dataclass(frozen=True, slots=True)
class ActiveProblem:
    """When a problem was raised, and by which event."""

    since: datetime
    event_id: str | None
    tariff_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """Serialise for storage and attributes."""
        return {
            "since": self.since.isoformat(),
            "event_id": self.event_id,
            "tariff_id": self.tariff_id,
        }

    @classmethod
    def from_dict(cls, data: object) -> ActiveProblem | None:
        """Read back what `as_dict` stored; None when it is malformed."""
        if not isinstance(data, dict):
            return None
        event_id, tariff_id = data.get("event_id"), data.get("tariff_id")
        if not all(
            value is None or isinstance(value, str) for value in (event_id, tariff_id)
        ):
            return None
        since = data.get("since")
        parsed = dt_util.parse_datetime(since) if isinstance(since, str) else None
        now = dt_util.utcnow()
        # The problem is kept when only its time is unreadable: it stands since now.
        # A time ahead of now (stored by releases that took an event's time as it
        # came) would make every later status look older, so it could never clear.
        if parsed is None or parsed.tzinfo is None or parsed > now:
            parsed = now
        return cls(since=parsed, event_id=event_id, tariff_id=tariff_id)


def problem_resolved(
    problem: Problem, active: ActiveProblem, status: LocationStatus, now: datetime
) -> bool:
    """Whether a location status shows that a problem is gone."""
    tariff = status.commodity_import
    if tariff is None:
        return False
    connected = tariff.status == TariffConnectionStatus.CONNECTED
    match problem:
        case Problem.TARIFF_FETCH_FAILED:
            return connected
        case Problem.TARIFF_UPGRADE_AVAILABLE:
            return connected and tariff.connection_type == "DIRECT"
        case Problem.TARIFF_EXPIRED:
            return connected and _contract_ends_after(tariff, now)
        case Problem.TARIFF_EXPIRING:  # pragma: no branch  (the match is exhaustive)
            return connected and (
                _other_tariff(tariff, active)
                or _contract_ends_after(tariff, now + EXPIRING_HORIZON)
            )


def _contract_ends_after(tariff: TariffSlotStatus, moment: datetime) -> bool:
    end = tariff.tariff.contract_end_date if tariff.tariff else None
    return end is None or end > moment


def _other_tariff(tariff: TariffSlotStatus, active: ActiveProblem) -> bool:
    current = tariff.tariff.id if tariff.tariff else None
    return bool(active.tariff_id and current and current != active.tariff_id)


class ProblemTracker:
    """Active problems of one config entry's locations, persisted and mirrored in Repairs."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        location_name: Callable[[str], str],
    ) -> None:
        """Prepare; call `async_load` before use."""
        self._hass = hass
        self._entry_id = entry_id
        self._location_name = location_name
        self._store = ThrottledStore(
            hass, f"{DOMAIN}.{entry_id}.problems", self._as_stored, SAVE_DELAY
        )
        self._problems: dict[str, dict[Problem, ActiveProblem]] = {}
        # Keyed by location and problem: a change wakes only the sensor it concerns.
        self._listeners: dict[tuple[str, Problem], list[Callable[[], None]]] = {}

    async def async_load(self) -> None:
        """Restore the problems that were active before the restart.

        Entries that are malformed are dropped with a warning: a problem still there is
        raised again by Flatpeak's next event or seen in the location's status.
        """
        stored = await self._store.async_load()
        locations = stored.get("problems", {})
        dropped = not isinstance(locations, dict)
        for location_id, problems in locations.items() if not dropped else ():
            if not isinstance(location_id, str) or not isinstance(problems, dict):
                dropped = True
                continue
            restored: dict[Problem, ActiveProblem] = {}
            for key, value in problems.items():
                active = ActiveProblem.from_dict(value)
                if key not in Problem.__members__.values() or active is None:
                    dropped = True
                    continue
                restored[Problem(key)] = active
            self._problems[location_id] = restored
        if dropped:
            LOGGER.warning(
                "Dropped malformed entries from the stored Flatpeak problems"
            )

    def active(self, location_id: str, problem: Problem) -> ActiveProblem | None:
        """Return the problem if it is active for the location."""
        return self._problems.get(location_id, {}).get(problem)

    def locations(self) -> list[str]:
        """Return the locations that have any active problem."""
        return [loc for loc, problems in self._problems.items() if problems]

    @callback
    def async_add_listener(
        self, location_id: str, problem: Problem, listener: Callable[[], None]
    ) -> CALLBACK_TYPE:
        """Call `listener` whenever this location's problem is raised or cleared."""
        listeners = self._listeners.setdefault((location_id, problem), [])
        listeners.append(listener)
        return lambda: listeners.remove(listener)

    @callback
    def async_raise(self, location_id: str, problem: Problem, event: Event) -> None:
        """Mark a problem active because of an event."""
        active = self.active(location_id, problem)
        if active is not None and active.tariff_id == event.tariff_id:
            # Reported again (Flatpeak repeats these): it stands since the first report.
            return
        now = dt_util.utcnow()
        # A creation time ahead of our clock would make every later status look older
        # than the problem, so it could never be cleared.
        since = min(event.time_created, now) if event.time_created else now
        self._problems.setdefault(location_id, {})[problem] = ActiveProblem(
            since=since,
            event_id=event.id,
            tariff_id=event.tariff_id,
        )
        self._sync_repair(location_id, problem)
        self._changed(location_id, problem)

    @callback
    def async_clear(self, location_id: str, problem: Problem) -> None:
        """Mark a problem resolved."""
        if self._problems.get(location_id, {}).pop(problem, None) is None:
            return
        LOGGER.info("Flatpeak %s resolved for %s", problem, location_id)
        self._sync_repair(location_id, problem)
        self._changed(location_id, problem)

    @callback
    def async_reconcile(
        self, location_id: str, status: LocationStatus, fetched_at: datetime
    ) -> None:
        """Clear the problems a status read after they were raised shows are gone."""
        for problem, active in list(self._problems.get(location_id, {}).items()):
            if fetched_at > active.since and problem_resolved(
                problem, active, status, fetched_at
            ):
                self.async_clear(location_id, problem)

    @callback
    def async_forget_location(self, location_id: str) -> None:
        """Drop a deleted location's problems and Repairs."""
        for problem in list(self._problems.get(location_id, {})):
            self.async_clear(location_id, problem)
        self._problems.pop(location_id, None)

    @callback
    def async_sync_repairs(self) -> None:
        """Make Repairs show exactly the active problems (after a restart)."""
        for location_id, problems in self._problems.items():
            for problem in problems:
                self._sync_repair(location_id, problem)

    def _sync_repair(self, location_id: str, problem: Problem) -> None:
        translation_key = REPAIR_ISSUE_BY_PROBLEM.get(problem)
        if translation_key is None:
            return
        issue_id = repair_issue_id(location_id, problem)
        if self.active(location_id, problem) is None:
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=translation_key,
            translation_placeholders={
                "location": self._location_name(location_id),
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
            },
            data={
                "entry_id": self._entry_id,
                "location_id": location_id,
                "problem": str(problem),
            },
        )

    def _changed(self, location_id: str, problem: Problem) -> None:
        self._store.schedule_save()
        for listener in list(self._listeners.get((location_id, problem), ())):
            listener()

    def _as_stored(self) -> dict[str, Any]:
        return {
            "problems": {
                location_id: {
                    str(problem): active.as_dict()
                    for problem, active in problems.items()
                }
                for location_id, problems in self._problems.items()
                if problems
            }
        }

    async def async_flush(self) -> None:
        """Write the state now, not after the save delay, if it changed."""
        await self._store.async_flush()

    async def async_close(self) -> None:
        """Write what changed and stop writing (when the entry is unloaded)."""
        await self._store.async_close()

    async def async_remove(self) -> None:
        """Delete the stored state when the entry is removed."""
        await self._store.async_remove()


def repair_issue_id(location_id: str, problem: Problem) -> str:
    """Return the Repairs issue id for a location's problem."""
    return f"{REPAIR_ISSUE_BY_PROBLEM[problem]}_{location_id}"
