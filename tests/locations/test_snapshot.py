"""Each location's last prices and status survive a restart, even one without Flatpeak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.helpers.json import prepare_save_json
import pytest

from custom_components.flatpeak.const import (
    CONF_FOLLOW_ALL_LOCATIONS,
    TRANSIENT_RETRY_INTERVAL,
)
from custom_components.flatpeak.locations.snapshot import (
    PriceSnapshots,
    snapshot_json,
)
from tests.helpers import (
    HOME_ID,
    NOW,
    advance_time,
    move_time_to,
    setup_entry,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.flatpeak.locations.coordinator import LocationData
    from tests.simulator import RunningSimulator, SimulatorState

CURRENT = "sensor.home_current_price"
TARIFF = "sensor.home_tariff"
PROBLEM = "binary_sensor.home_tariff_expired"


def _key(entry: MockConfigEntry) -> str:
    return f"flatpeak.{entry.entry_id}.prices"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def _restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Stop the entry as Home Assistant does when it stops, and start it again."""
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_restart_while_flatpeak_is_down_keeps_prices(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """The entry loads from the stored prices; slots roll over; a fetch follows."""
    await setup_entry(hass, mock_config_entry, freezer)
    assert _state(hass, CURRENT) == "0.3"
    # Written within the save delay after the fetch, without waiting for the unload.
    await advance_time(hass, freezer, timedelta(seconds=11))
    assert HOME_ID in hass_storage[_key(mock_config_entry)]["data"]["locations"]

    simulator_state.inject_fault("*", status=503, times=None)
    await _restart(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _state(hass, CURRENT) == "0.3"
    assert _state(hass, TARIFF) == "Agile Octopus"
    assert _state(hass, PROBLEM) == "off"

    # 10:30: the next slot, from the stored prices alone.
    prices_calls = simulator_state.calls["prices"]
    await move_time_to(hass, freezer, datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    assert _state(hass, CURRENT) == "0.31"
    assert simulator_state.calls["prices"] == prices_calls

    # Flatpeak answers again: the next try fetches.
    simulator_state.clear_faults()
    simulator_state.set_price_pattern(
        HOME_ID, lambda _start: (0.2, 1.0), next_update=None
    )
    await advance_time(hass, freezer, TRANSIENT_RETRY_INTERVAL)
    assert _state(hass, CURRENT) == "0.2"


async def test_following_all_restart_while_flatpeak_is_down_keeps_prices(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Locations cannot be listed: the ones whose prices were stored are followed."""
    await setup_entry(
        hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True}
    )
    simulator_state.inject_fault("*", status=503, times=None)
    await _restart(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert list(mock_config_entry.runtime_data.locations) == [HOME_ID]
    assert _state(hass, CURRENT) == "0.3"


async def test_stored_prices_are_served_only_while_they_cover_now(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Stored prices that end before now do not pass for current ones: set-up retries."""
    await setup_entry(hass, mock_config_entry, freezer)
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    # Today and tomorrow were fetched; two days later they cover nothing.
    freezer.move_to(NOW + timedelta(days=2))
    simulator_state.inject_fault("*", status=503, times=None)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_disabled_account_with_stored_prices_is_still_an_error(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Stored prices do not turn a disabled account into a set-up retry loop."""
    await setup_entry(hass, mock_config_entry, freezer)
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    simulator_state.set_account_disabled(mock_config_entry.data["account_id"])
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR


@pytest.mark.parametrize(
    "stored",
    [
        # A newer release's format of this store.
        {"version": 1, "minor_version": 1, "data": {"format": 2, "locations": {}}},
        # A newer release's Store version.
        {"version": 2, "minor_version": 1, "data": {"format": 1, "locations": {}}},
        # Not an object where a location's data should be.
        {"version": 1, "minor_version": 1, "data": {"format": 1, "locations": []}},
        # A location's prices damaged.
        {
            "version": 1,
            "minor_version": 1,
            "data": {
                "format": 1,
                "locations": {
                    HOME_ID: {
                        "location": {"id": HOME_ID},
                        "import_prices": {"object": "price", "data": "oops"},
                        "fetched_at": "2026-11-25T10:00:00+00:00",
                    }
                },
            },
        },
        # A location's data without its location.
        {
            "version": 1,
            "minor_version": 1,
            "data": {"format": 1, "locations": {HOME_ID: {"status": None}}},
        },
    ],
    ids=["other format", "other store version", "not an object", "damaged", "partial"],
)
async def test_other_or_damaged_stored_prices_are_ignored(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    stored: dict[str, Any],
) -> None:
    """A warning, never a failed set-up: Flatpeak up, the entry loads as ever."""
    hass_storage[_key(mock_config_entry)] = {"key": _key(mock_config_entry), **stored}
    await setup_entry(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert _state(hass, CURRENT) == "0.3"
    assert any(
        record.levelno == logging.WARNING and "stored" in record.getMessage()
        for record in caplog.records
    )


async def test_damaged_stored_prices_while_flatpeak_is_down_retry_set_up(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Unusable stored prices are as none: Flatpeak down, set-up retries, no crash."""
    hass_storage[_key(mock_config_entry)] = {
        "key": _key(mock_config_entry),
        "version": 1,
        "minor_version": 1,
        "data": {"format": 1, "locations": {HOME_ID: {"location": "x"}}},
    }
    simulator_state.inject_fault("*", status=503, times=None)
    await setup_entry(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_removed_entry_takes_its_stored_prices(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Removing the entry deletes the store."""
    await setup_entry(hass, mock_config_entry, freezer)
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    assert _key(mock_config_entry) in hass_storage
    await hass.config_entries.async_remove(mock_config_entry.entry_id)
    assert _key(mock_config_entry) not in hass_storage


async def _stored_size(
    hass: HomeAssistant, entry: MockConfigEntry
) -> tuple[LocationData, int]:
    data = entry.runtime_data.locations[HOME_ID].data
    _mode, written = prepare_save_json(
        {
            "version": 1,
            "minor_version": 1,
            "key": _key(entry),
            "data": {"format": 1, "locations": {HOME_ID: snapshot_json(data)}},
        }
    )
    return data, len(written)


@pytest.mark.parametrize(
    ("slot_minutes", "limit"), [(30, 32_768), (15, 65_536)], ids=["30 min", "15 min"]
)
async def test_stored_data_round_trips_and_stays_small(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    slot_minutes: int,
    limit: int,
) -> None:
    """What is read back is what was stored; today and tomorrow take tens of KiB.

    Sizes as Home Assistant writes them (indented JSON), one location, import only:
    26.9 kB with half-hourly slots, 50.7 kB with quarter-hourly ones (measured).
    """
    simulator_state.set_price_pattern(
        HOME_ID,
        lambda start: (round(0.1 + start.minute / 1000, 4), 0.8),
        slot_minutes=slot_minutes,
    )
    await setup_entry(hass, mock_config_entry, freezer)
    data, size = await _stored_size(hass, mock_config_entry)
    assert size < limit, size

    snapshots = PriceSnapshots(hass, "round_trip")
    await snapshots.async_load()
    snapshots.async_update(HOME_ID, data)
    await snapshots.async_close()
    # As after a restart: only what was written is left.
    restarted = PriceSnapshots(hass, "round_trip")
    await restarted.async_load()
    restored = await restarted.async_restore(HOME_ID)
    assert restored is not None
    assert restored.location == data.location
    assert restored.status == data.status
    assert restored.import_prices == data.import_prices
    assert restored.export_prices == data.export_prices
    assert restored.fetched_at == data.fetched_at
    assert restored.zone == data.zone
    assert _state(hass, CURRENT) != STATE_UNAVAILABLE
