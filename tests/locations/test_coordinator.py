"""Tests for fetching, scheduling and keeping prices through failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import TYPE_CHECKING

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
import pytest

from custom_components.flatpeak.const import (
    FALLBACK_UPDATE_INTERVAL,
    PRICES_UNAVAILABLE_RETRY,
    TRANSIENT_RETRY_INTERVAL,
    UPDATE_JITTER_SECONDS,
)
from tests.helpers import (
    HOME_ID,
    LIVE_KEY,
    NOW,
    advance_time as _advance,
    move_time_to as _move_to,
)
from tests.simulator import PriceSlot, RunningSimulator, SimulatorState

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import (
        MockConfigEntry,
    )

CURRENT = "sensor.home_current_price"
NEXT = "sensor.home_next_price"
TARIFF = "sensor.home_tariff"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_refetch_follows_next_update(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The next fetch is at Flatpeak's next_update (16:00), with a little jitter."""
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    until_next = datetime(2026, 11, 25, 16, tzinfo=UTC) - NOW
    assert coordinator.update_interval is not None
    assert until_next <= coordinator.update_interval
    assert coordinator.update_interval <= until_next + timedelta(
        seconds=UPDATE_JITTER_SECONDS
    )
    calls = simulator.state.calls["prices"]
    await _advance(hass, freezer, until_next - timedelta(minutes=1))
    assert simulator.state.calls["prices"] == calls
    await _advance(hass, freezer, timedelta(minutes=2))
    assert simulator.state.calls["prices"] == calls + 1


async def test_fallback_interval_without_next_update(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Without next_update the prices are refetched hourly."""
    simulator_state.inject_fault(
        "prices",
        status=200,
        body={
            "object": "price",
            "location_id": HOME_ID,
            "currency_code": "GBP",
            "data": [
                {
                    "valid_from": (NOW - timedelta(hours=1)).isoformat(),
                    "valid_to": (NOW + timedelta(days=2)).isoformat(),
                    "price": {"value": 0.2, "confidence": 1},
                }
            ],
        },
    )
    freezer.move_to(NOW)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval == FALLBACK_UPDATE_INTERVAL
    assert _state(hass, CURRENT) == "0.2"


@pytest.mark.parametrize(
    "code", ["pending_connect", "no_tariff_connected", "no_price_data"]
)
async def test_prices_unavailable_then_available(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    code: str,
) -> None:
    """A 422 makes prices unavailable, logs once, and retries every 15 minutes."""
    simulator_state.set_prices_error(HOME_ID, code)
    freezer.move_to(NOW)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _state(hass, CURRENT) == STATE_UNAVAILABLE
    assert _state(hass, NEXT) == STATE_UNAVAILABLE
    assert _state(hass, TARIFF) == "Agile Octopus"  # what is known stays shown
    coordinator = mock_config_entry.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval == PRICES_UNAVAILABLE_RETRY

    calls = simulator_state.calls["prices"]
    await _advance(hass, freezer, timedelta(minutes=14))
    assert simulator_state.calls["prices"] == calls
    await _advance(hass, freezer, timedelta(minutes=2))
    assert simulator_state.calls["prices"] == calls + 1
    assert caplog.text.count(f"no prices for {HOME_ID} yet ({code})") == 1

    simulator_state.set_prices_error(HOME_ID, None)
    await _advance(hass, freezer, PRICES_UNAVAILABLE_RETRY + timedelta(seconds=1))
    assert _state(hass, CURRENT) == "0.31"  # 10:36, in the 10:30 slot
    assert caplog.text.count("available again") == 1


async def test_transient_errors_keep_prices_while_they_cover_now(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """API down: last prices stay while they cover now, then unavailable, then back."""
    caplog.set_level(logging.INFO)
    simulator.state.inject_fault("location", status=503, times=None)
    coordinator = init_integration.runtime_data.locations[HOME_ID]

    # Next fetch at 16:00 fails; the cached prices cover today and tomorrow.
    await _move_to(hass, freezer, datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    assert _state(hass, CURRENT) == str(round(0.10 + 32 / 100, 4))
    assert coordinator.update_interval == TRANSIENT_RETRY_INTERVAL
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert caplog.text.count("keeping the last prices") == 1

    # Past the end of tomorrow nothing covers now: unavailable, logged once.
    await _move_to(hass, freezer, datetime(2026, 11, 27, 0, 1, tzinfo=UTC))
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert _state(hass, CURRENT) == STATE_UNAVAILABLE
    assert not coordinator.last_update_success
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert caplog.text.count("Error fetching flatpeak") == 1

    simulator.state.clear_faults()
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert coordinator.last_update_success
    assert _state(hass, CURRENT) == "0.1"
    assert caplog.text.count("reachable again") == 1


async def test_rate_limit_honours_retry_after(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 429 with Retry-After delays the next attempt at least that long."""
    simulator.state.inject_fault(
        "location", status=429, headers={"Retry-After": "1200"}, times=None
    )
    await _move_to(hass, freezer, datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval == timedelta(seconds=1200)
    calls = simulator.state.calls["location"]
    await _advance(hass, freezer, timedelta(seconds=1100))
    assert simulator.state.calls["location"] == calls
    assert _state(hass, CURRENT) != STATE_UNAVAILABLE


async def test_revoked_key_starts_reauth(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """When Flatpeak refuses the key, the user is asked to re-authenticate."""
    simulator.state.revoke_key(LIVE_KEY)
    await _move_to(hass, freezer, datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert flows[0]["context"]["entry_id"] == init_integration.entry_id


@pytest.mark.parametrize(
    ("slot_minutes", "boundary", "before", "after"),
    [
        (15, datetime(2026, 11, 25, 10, 15, tzinfo=UTC), "0.5", "0.51"),
        (120, datetime(2026, 11, 25, 12, tzinfo=UTC), "0.15", "0.16"),
    ],
)
async def test_rollover_with_other_slot_lengths(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    slot_minutes: int,
    boundary: datetime,
    before: str,
    after: str,
) -> None:
    """Quarter-hour and two-hour slots roll over at their own boundaries."""

    def by_index(start: datetime) -> tuple[float, float]:
        index = (start.hour * 60 + start.minute) // slot_minutes
        return round(0.10 + index / 100, 4), 1.0

    simulator_state.set_price_pattern(HOME_ID, by_index, slot_minutes=slot_minutes)
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    calls = simulator_state.calls["prices"]

    await _move_to(hass, freezer, boundary - timedelta(seconds=1))
    assert _state(hass, CURRENT) == before
    await _move_to(hass, freezer, boundary)
    assert _state(hass, CURRENT) == after
    assert simulator_state.calls["prices"] == calls
    cells = hass.states.get(CURRENT).attributes["raw_today"]  # type: ignore[union-attr]
    # The default grid is 15 minutes whatever the slot length.
    assert len(cells) == 96
    assert all(cell["end"] - cell["start"] == timedelta(minutes=15) for cell in cells)


@pytest.mark.parametrize(
    ("day", "cells", "before", "after"),
    [
        # Clocks go forward at 01:00 UTC (01:00 GMT becomes 02:00 BST): 23 hours.
        (datetime(2026, 3, 29, 0, 10, tzinfo=UTC), 92, "0.11", "0.14"),
        # Clocks go back at 01:00 UTC (02:00 BST becomes 01:00 GMT): 25 hours.
        (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), 100, "0.13", "0.12"),
    ],
)
async def test_dst_change_days(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    day: datetime,
    cells: int,
    before: str,
    after: str,
) -> None:
    """Days of 23 and 25 hours have 92 and 100 quarter-hour cells and roll over right."""
    freezer.move_to(day)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(CURRENT)
    assert state is not None
    assert len(state.attributes["raw_today"]) == cells
    assert len(state.attributes["raw_tomorrow"]) == 96

    change = day.replace(hour=1, minute=0)
    await _move_to(hass, freezer, change - timedelta(seconds=1))
    assert _state(hass, CURRENT) == before
    await _move_to(hass, freezer, change)
    assert _state(hass, CURRENT) == after


async def test_prices_not_covering_tomorrow(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With only today's prices, tomorrow is empty and the last slot has no next."""
    start = datetime(2026, 11, 25, tzinfo=UTC)
    simulator_state.set_prices(
        HOME_ID,
        [
            PriceSlot(
                start + timedelta(hours=h), start + timedelta(hours=h + 1), h / 10
            )
            for h in range(24)
        ],
    )
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(CURRENT)
    assert state is not None
    assert state.state == "1.0"
    assert state.attributes["raw_tomorrow"] == []
    assert state.attributes["tomorrow_valid"] is False
    assert len(state.attributes["raw_today"]) == 96

    await _move_to(hass, freezer, datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    assert _state(hass, CURRENT) == "2.3"
    assert _state(hass, NEXT) == STATE_UNAVAILABLE
    assert _state(hass, "sensor.home_highest_price_today") == "2.3"


async def test_export_sensor_follows_export_tariff(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The export price sensor appears once an export tariff is connected."""
    assert hass.states.get("sensor.home_current_export_price") is None
    simulator.state.set_status(HOME_ID, "export", tariff_name="Outgoing")
    simulator.state.set_price_pattern(
        HOME_ID, lambda _start: (0.15, 1.0), direction="EXPORT"
    )
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get("sensor.home_current_export_price")
    assert state is not None
    assert state.state == "0.15"
    assert len(state.attributes["raw_today"]) == 96

    # An export feed that cannot be served leaves import prices alone.
    simulator.state.set_prices_error(HOME_ID, "no_price_data", direction="EXPORT")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, "sensor.home_current_export_price") == STATE_UNAVAILABLE
    assert _state(hass, CURRENT) == "0.3"


# -- status and prices fail apart ----------------------------------------------------------

PROBLEM = "binary_sensor.home_tariff_expired"
# api-facts.md §3: the status supports one tariff of each kind; Flatpeak refuses others.
UNSUPPORTED_STATUS = {
    "object": "error",
    "type": "invalid_request",
    "code": "unsupported_combination",
    "message": "Unsupported combination of tariff elements",
}


async def test_location_without_a_status_keeps_its_prices(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Status refused (422): prices and their entities as ever; problems unknown.

    Said once, at debug level, however many fetches meet it.
    """
    caplog.set_level(logging.DEBUG, logger="custom_components.flatpeak")
    simulator_state.inject_fault(
        "location_status", status=422, body=UNSUPPORTED_STATUS, times=None
    )
    freezer.move_to(NOW)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _state(hass, CURRENT) == "0.3"
    assert _state(hass, NEXT) == "0.31"
    assert _state(hass, PROBLEM) == STATE_UNKNOWN
    assert _state(hass, TARIFF) == STATE_UNKNOWN
    await _move_to(hass, freezer, datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    assert _state(hass, CURRENT) == "0.42"
    assert simulator_state.calls["prices"] >= 2
    assert caplog.text.count("gives no status for") == 1
    assert not [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and record.name == "custom_components.flatpeak"
        and "status" in record.getMessage()
    ]


async def test_status_failing_leaves_prices_fetching(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The status unreachable: new prices arrive, the status last read is kept."""
    state = simulator.state
    state.inject_fault("location_status", status=503, times=None)
    state.set_price_pattern(HOME_ID, lambda _start: (0.2, 1.0), next_update=None)
    await _move_to(hass, freezer, datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    assert _state(hass, CURRENT) == "0.2"
    assert _state(hass, TARIFF) == "Agile Octopus"
    assert _state(hass, PROBLEM) == "off"
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    # Read before the failure: problems raised after it are not judged by it.
    assert coordinator.data.fetched_at == NOW


async def test_prices_failing_leave_the_status_fetching(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The prices unreachable: a new status arrives, the last prices stay."""
    state = simulator.state
    state.inject_fault("prices", status=503, times=None)
    state.set_status(HOME_ID, tariff_name="Octopus Go")
    await _move_to(hass, freezer, datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    assert _state(hass, TARIFF) == "Octopus Go"
    assert _state(hass, CURRENT) == "0.42"
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval == TRANSIENT_RETRY_INTERVAL
    assert caplog.text.count("keeping the last prices") == 1

    state.clear_faults()
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert coordinator.update_interval != TRANSIENT_RETRY_INTERVAL
    assert caplog.text.count("reachable again") == 1
