"""Tests for when a location status shows a tariff problem gone, and the tracker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.flatpeak.api.models import Event, LocationStatus
from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.tariff.problems import (
    ActiveProblem,
    Problem,
    ProblemTracker,
    problem_resolved,
    repair_issue_id,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

NOW = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
RAISED_FOR = "trf_raised"
PAST = NOW - timedelta(days=1)
SOON = NOW + timedelta(days=8)  # within the expiring horizon (14 days)
FAR = NOW + timedelta(days=365)


def _status(
    status: str | None = "CONNECTED",
    *,
    connection_type: str = "DIRECT",
    tariff_id: str | None = RAISED_FOR,
    contract_end: datetime | None = FAR,
    with_tariff: bool = True,
) -> LocationStatus:
    """A location status whose commodity_import slot has this shape (None: no slot)."""
    slots: dict[str, Any] = {"non_commodity_export": {"status": "NOT_SUPPORTED"}}
    if status is not None:
        slot: dict[str, Any] = {"status": status, "connection_type": connection_type}
        if with_tariff:
            slot["tariff"] = {
                "id": tariff_id,
                "display_name": "Agile Octopus",
                "structure_type": "TIME_OF_DAY",
                "contract_end_date": contract_end.isoformat() if contract_end else None,
            }
        slots["commodity_import"] = slot
    return LocationStatus.from_dict(
        {"id": "loc_1", "object": "location_status", "tariff_status": slots}
    )


ACTIVE = ActiveProblem(since=NOW - timedelta(hours=1), event_id="evt_1", tariff_id=None)
ACTIVE_FOR_TARIFF = ActiveProblem(
    since=NOW - timedelta(hours=1), event_id="evt_1", tariff_id=RAISED_FOR
)

EXPIRED = Problem.TARIFF_EXPIRED
FETCH_FAILED = Problem.TARIFF_FETCH_FAILED
UPGRADE = Problem.TARIFF_UPGRADE_AVAILABLE
EXPIRING = Problem.TARIFF_EXPIRING


@pytest.mark.parametrize(
    ("problem", "active", "status", "resolved"),
    [
        # No import tariff slot at all: nothing shows any problem gone.
        *((problem, ACTIVE, _status(None), False) for problem in Problem),
        # A broken or unconnected tariff fixes nothing.
        *((problem, ACTIVE, _status("ERROR"), False) for problem in Problem),
        *((problem, ACTIVE, _status("NOT_CONNECTED"), False) for problem in Problem),
        # Expired: connected again with a contract that has not ended.
        (EXPIRED, ACTIVE, _status(contract_end=PAST), False),
        (EXPIRED, ACTIVE, _status(contract_end=NOW), False),
        (EXPIRED, ACTIVE, _status(contract_end=SOON), True),
        (EXPIRED, ACTIVE, _status(contract_end=None), True),
        (EXPIRED, ACTIVE, _status(with_tariff=False), True),
        (EXPIRED, ACTIVE, _status(connection_type="LIBRARY"), True),
        # Fetch failed: connected is enough, whatever the contract.
        (FETCH_FAILED, ACTIVE, _status(), True),
        (FETCH_FAILED, ACTIVE, _status(contract_end=PAST), True),
        (FETCH_FAILED, ACTIVE, _status(connection_type="LIBRARY"), True),
        # Upgrade available: connected DIRECT only.
        (UPGRADE, ACTIVE, _status(), True),
        (UPGRADE, ACTIVE, _status(connection_type="LIBRARY"), False),
        (UPGRADE, ACTIVE, _status(connection_type="MARKET"), False),
        (UPGRADE, ACTIVE, _status("ERROR", connection_type="DIRECT"), False),
        # Expiring: renewed (a contract end beyond the horizon, or none) ...
        (EXPIRING, ACTIVE_FOR_TARIFF, _status(contract_end=SOON), False),
        (EXPIRING, ACTIVE_FOR_TARIFF, _status(contract_end=PAST), False),
        (EXPIRING, ACTIVE_FOR_TARIFF, _status(contract_end=FAR), True),
        (EXPIRING, ACTIVE_FOR_TARIFF, _status(contract_end=None), True),
        # ... or another tariff was connected instead of the one that was expiring.
        (
            EXPIRING,
            ACTIVE_FOR_TARIFF,
            _status(tariff_id="trf_new", contract_end=SOON),
            True,
        ),
        (
            EXPIRING,
            ACTIVE_FOR_TARIFF,
            _status(tariff_id=None, contract_end=SOON),
            False,
        ),
        (EXPIRING, ACTIVE_FOR_TARIFF, _status("ERROR", tariff_id="trf_new"), False),
        # Without the raising event's tariff id only the contract end can tell.
        (EXPIRING, ACTIVE, _status(tariff_id="trf_new", contract_end=SOON), False),
        (EXPIRING, ACTIVE, _status(tariff_id="trf_new", contract_end=FAR), True),
    ],
)
def test_problem_resolved(
    problem: Problem, active: ActiveProblem, status: LocationStatus, resolved: bool
) -> None:
    """Each problem is resolved exactly by the status shapes that show it gone."""
    assert problem_resolved(problem, active, status, NOW) is resolved


def test_active_problem_round_trip() -> None:
    """What is stored reads back the same; a bad timestamp falls back to now."""
    assert ActiveProblem.from_dict(ACTIVE_FOR_TARIFF.as_dict()) == ACTIVE_FOR_TARIFF
    restored = ActiveProblem.from_dict({"since": "not a time"})
    assert restored is not None
    assert restored.event_id is None
    assert restored.tariff_id is None
    assert restored.since.tzinfo is not None


@pytest.mark.parametrize(
    ("problem", "issue_id"),
    [
        (EXPIRED, "tariff_expired_loc_1"),
        (FETCH_FAILED, "tariff_fetch_failed_loc_1"),
        (UPGRADE, "tariff_connection_upgrade_loc_1"),
    ],
)
def test_repair_issue_id(problem: Problem, issue_id: str) -> None:
    """Issue ids follow the translation keys of the Repairs issues."""
    assert repair_issue_id("loc_1", problem) == issue_id


def _event(event_type: str, event_id: str) -> Event:
    return Event.from_dict(
        {
            "id": event_id,
            "type": event_type,
            "time_created": NOW.isoformat(),
            "data": {"location_id": "loc_1", "tariff_id": RAISED_FOR},
        }
    )


async def test_tracker_persists_and_ignores_what_it_does_not_know(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Raise, clear twice (the second is a no-op), and drop unknown stored problems."""
    hass_storage[f"{DOMAIN}.entry_1.problems"] = {
        "version": 1,
        "key": f"{DOMAIN}.entry_1.problems",
        "data": {
            "problems": {
                "loc_1": {
                    "tariff_expiring": ACTIVE_FOR_TARIFF.as_dict(),
                    "tariff_renamed_since": ACTIVE.as_dict(),
                }
            }
        },
    }
    tracker = ProblemTracker(hass, "entry_1", lambda location_id: location_id.upper())
    await tracker.async_load()
    assert tracker.locations() == ["loc_1"]
    assert tracker.active("loc_1", EXPIRING) == ACTIVE_FOR_TARIFF
    assert tracker.active("loc_2", EXPIRING) is None

    changes: list[None] = []
    unsubscribe = tracker.async_add_listener(
        "loc_1", EXPIRED, lambda: changes.append(None)
    )
    other: list[None] = []
    tracker.async_add_listener("loc_1", FETCH_FAILED, lambda: other.append(None))
    tracker.async_raise("loc_1", EXPIRED, _event("tariff.expired", "evt_1"))
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "tariff_expired_loc_1")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["location"] == "LOC_1"
    tracker.async_clear("loc_1", EXPIRED)
    tracker.async_clear("loc_1", EXPIRED)
    tracker.async_clear("loc_2", FETCH_FAILED)
    assert len(changes) == 2
    assert other == []  # only the sensor of the problem that changed is woken
    assert ir.async_get(hass).async_get_issue(DOMAIN, "tariff_expired_loc_1") is None

    unsubscribe()
    tracker.async_forget_location("loc_1")
    assert len(changes) == 2
    assert tracker.locations() == []
    await tracker.async_flush()
    assert hass_storage[f"{DOMAIN}.entry_1.problems"]["data"] == {"problems": {}}
