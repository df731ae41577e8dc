"""The cheapest-window action and a target window, over the real REST API.

The answers are checked against a brute-force search over the simulator's own prices.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from tests.simulator.demo import (
    DEMO_HOME_ID,
    DEMO_WORKSHOP_ID,
    EXPORT_PRICE,
    agile_price,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

LONDON = ZoneInfo("Europe/London")
SLOT = timedelta(minutes=30)


def _night() -> tuple[datetime, datetime]:
    """Tomorrow 00:00 to 07:00 in London: prices Home Assistant has already fetched."""
    midnight = datetime.combine(
        datetime.now(LONDON).date() + timedelta(days=1),
        datetime.min.time(),
        tzinfo=LONDON,
    )
    return midnight, midnight.replace(hour=7)


def _slots(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """The simulator's half-hour slots of [start, end), by local start time."""
    slots = []
    moment = start.astimezone(LONDON)
    while moment < end:
        slots.append((moment, agile_price(moment)))
        moment = (moment.astimezone(ZoneInfo("UTC")) + SLOT).astimezone(LONDON)
    return slots


def _cheapest_run(
    slots: list[tuple[datetime, float]], count: int
) -> list[tuple[datetime, float]]:
    """Every run of `count` slots, the cheapest first-found (earliest) one."""
    runs = [slots[i : i + count] for i in range(len(slots) - count + 1)]
    return min(runs, key=lambda run: sum(price for _, price in run))


async def _find(stack: Stack, **fields: Any) -> dict[str, Any]:
    answer = await stack.hass.request(
        "POST",
        "/api/services/flatpeak/find_cheapest_window?return_response",
        {"config_entry_id": stack.entry_id, "location_id": DEMO_HOME_ID, **fields},
    )
    return dict(answer["service_response"])


async def test_find_cheapest_window_over_rest(stack: Stack) -> None:
    """The cheapest 3 hours overnight are the simulator's cheapest six slots in a row."""
    start, end = _night()
    response = await _find(
        stack,
        duration="03:00:00",
        earliest_start=start.isoformat(),
        latest_end=end.isoformat(),
    )
    expected = _cheapest_run(_slots(start, end), 6)
    assert response["location_id"] == DEMO_HOME_ID
    assert response["currency"] == "GBP"
    assert response["unit"] == "GBP/kWh"
    assert response["duration"] == 3 * 3600
    assert response["start"] == expected[0][0].isoformat()
    assert response["end"] == (expected[-1][0] + SLOT).isoformat()
    assert [(s["start"], s["price"]) for s in response["slots"]] == [
        (moment.isoformat(), pytest.approx(price)) for moment, price in expected
    ]
    assert response["average_price"] == pytest.approx(
        sum(price for _, price in expected) / 6
    )


async def test_cheapest_set_and_dearest_window_over_rest(stack: Stack) -> None:
    """Non-contiguous: the cheapest four slots; export: the dearest window."""
    start, end = _night()
    slots = _slots(start, end)
    response = await _find(
        stack,
        duration="02:00:00",
        earliest_start=start.isoformat(),
        latest_end=end.isoformat(),
        contiguous=False,
    )
    cheapest = sorted(sorted(slots, key=lambda slot: slot[1])[:4])
    assert [s["start"] for s in response["slots"]] == [
        moment.isoformat() for moment, _ in cheapest
    ]
    dearest = await _find(
        stack,
        location_id=DEMO_WORKSHOP_ID,
        duration="01:00:00",
        earliest_start=start.isoformat(),
        latest_end=end.isoformat(),
        direction="export",
    )
    # The Workshop sells at one flat price: every hour ties, so the earliest wins.
    assert dearest["location_id"] == DEMO_WORKSHOP_ID
    assert dearest["start"] == start.isoformat()
    assert dearest["average_price"] == pytest.approx(EXPORT_PRICE)


async def test_refusal_over_rest(stack: Stack) -> None:
    """Prices beyond what is known are refused with the translated message."""
    start, _ = _night()
    answer = await stack.hass.request(
        "POST",
        "/api/services/flatpeak/find_cheapest_window?return_response",
        {
            "config_entry_id": stack.entry_id,
            "location_id": DEMO_HOME_ID,
            "duration": "01:00:00",
            "latest_end": (start + timedelta(days=3)).isoformat(),
        },
        expect=400,
    )
    assert "are not known for all of" in answer["message"]


def _coming_period() -> tuple[datetime, datetime]:
    """A daily period that has not started yet and whose prices are known."""
    now = datetime.now(LONDON)
    if now.hour >= 7:
        return _night()
    today = datetime.combine(now.date(), datetime.min.time(), tzinfo=LONDON)
    return today.replace(hour=8), today.replace(hour=15)


async def test_target_window_over_rest(stack: Stack) -> None:
    """A target window added from the entry's page: its sensor is on the oracle's slots."""
    hass = stack.hass
    start, end = _coming_period()
    flow = await hass.request(
        "POST",
        "/api/config/config_entries/subentries/flow",
        {"handler": [stack.entry_id, "target_window"]},
    )
    assert flow["type"] == "form"
    result = await hass.request(
        "POST",
        f"/api/config/config_entries/subentries/flow/{flow['flow_id']}",
        {
            "name": "Dishwasher",
            "location_id": DEMO_HOME_ID,
            "duration": {"hours": 2, "minutes": 0},
            "period_start": start.strftime("%H:%M:%S"),
            "period_end": end.strftime("%H:%M:%S"),
            "contiguous": True,
            "direction": "import",
        },
    )
    assert result["type"] == "create_entry"
    expected = _cheapest_run(_slots(start, end), 4)
    state = await hass.wait_for_state(
        "binary_sensor.home_dishwasher",
        lambda s: s["attributes"].get("next_start") is not None,
    )
    assert state["state"] == "off"
    assert state["attributes"]["next_start"] == expected[0][0].isoformat()
    assert state["attributes"]["next_end"] == (expected[-1][0] + SLOT).isoformat()

    # Deleted again: the sensor goes, and the rest of the run is unaffected.
    async with hass.websocket() as ws:
        entries = await ws.command(
            "config_entries/subentries/list", entry_id=stack.entry_id
        )
        (subentry,) = [e for e in entries if e["title"] == "Dishwasher"]
        await ws.command(
            "config_entries/subentries/delete",
            entry_id=stack.entry_id,
            subentry_id=subentry["subentry_id"],
        )
        await ws.close()
    assert await hass.state("binary_sensor.home_dishwasher") is None


async def test_target_window_options_and_update_over_rest(stack: Stack) -> None:
    """A capped window in the real hass, then changed for the period by the action."""
    hass = stack.hass
    start, end = _coming_period()
    slots = _slots(start, end)
    # A cap at the fourth lowest price: about four half hours qualify, six are wanted.
    cap = sorted(price for _, price in slots)[3]
    eligible = [slot for slot in slots if slot[1] <= cap]

    def cheapest(count: int) -> list[str]:
        chosen = sorted(eligible, key=lambda slot: (slot[1], slot[0]))[:count]
        return sorted(moment.isoformat() for moment, _ in chosen)

    flow = await hass.request(
        "POST",
        "/api/config/config_entries/subentries/flow",
        {"handler": [stack.entry_id, "target_window"]},
    )
    result = await hass.request(
        "POST",
        f"/api/config/config_entries/subentries/flow/{flow['flow_id']}",
        {
            "name": "Battery",
            "location_id": DEMO_HOME_ID,
            "duration": {"hours": 3, "minutes": 0},
            "period_start": start.strftime("%H:%M:%S"),
            "period_end": end.strftime("%H:%M:%S"),
            "contiguous": False,
            "direction": "import",
            "max_price": cap,
        },
    )
    assert result["type"] == "create_entry"
    entity_id = "binary_sensor.home_battery"
    state = await hass.wait_for_state(entity_id, lambda s: s["attributes"].get("slots"))
    assert [slot["start"] for slot in state["attributes"]["slots"]] == cheapest(6)
    assert state["attributes"]["status"] == (
        "shortened" if len(eligible) < 6 else "chosen"
    )
    assert state["attributes"]["changed_until"] is None

    await hass.request(
        "POST",
        "/api/services/flatpeak/update_target_window",
        {"entity_id": entity_id, "duration": "01:00:00"},
    )
    state = await hass.wait_for_state(
        entity_id, lambda s: s["attributes"].get("changed_until") is not None
    )
    assert state["attributes"]["changed_until"] == end.isoformat()
    assert [slot["start"] for slot in state["attributes"]["slots"]] == cheapest(2)
    assert state["attributes"]["duration"] == 3600

    answer = await hass.request(
        "POST",
        "/api/services/flatpeak/update_target_window",
        {"entity_id": entity_id, "duration": "24:00:00"},
        expect=400,
    )
    assert "does not fit between" in answer["message"]

    async with hass.websocket() as ws:
        entries = await ws.command(
            "config_entries/subentries/list", entry_id=stack.entry_id
        )
        (subentry,) = [e for e in entries if e["title"] == "Battery"]
        await ws.command(
            "config_entries/subentries/delete",
            entry_id=stack.entry_id,
            subentry_id=subentry["subentry_id"],
        )
        await ws.close()
    assert await hass.state(entity_id) is None
