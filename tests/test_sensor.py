"""Tests for the price and tariff sensors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, Platform
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)

from custom_components.flatpeak.const import (
    CONF_LOCATIONS,
    CONF_PRICE_RESOLUTION,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
)
from tests.helpers import HOME_ID, LONDON, NOW
from tests.simulator.state import PriceSlot

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import entity_registry as er
    from syrupy.assertion import SnapshotAssertion

    from tests.simulator import RunningSimulator, SimulatorState

CURRENT = "sensor.home_current_price"


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return state.state if state else None


@pytest.mark.parametrize("platforms", [[Platform.SENSOR]])
async def test_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every sensor of the default location, with states and attributes."""
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_current_price_is_energy_dashboard_ready(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The current price has a <currency>/kWh unit and a measurement state class."""
    state = hass.states.get(CURRENT)
    assert state is not None
    assert state.state == "0.3"  # 10:00-10:30 is slot 20: 0.10 + 0.20
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP/kWh"
    assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    assert len(state.attributes["raw_today"]) == 96
    assert len(state.attributes["raw_tomorrow"]) == 96
    assert state.attributes["raw_today"][0]["value"] == 0.1
    assert state.attributes["tomorrow_valid"] is True


async def test_rollover_at_slot_boundaries_without_api_calls(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """States change exactly at the boundary, from the cached prices."""
    prices_calls = simulator.state.calls["prices"]
    freezer.move_to(datetime(2026, 11, 25, 10, 29, 59, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(CURRENT).state == "0.3"

    freezer.move_to(datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(CURRENT).state == "0.31"
    assert hass.states.get("sensor.home_next_price").state == "0.32"
    assert simulator.state.calls["prices"] == prices_calls


TOMORROW_SENSORS = (
    "sensor.home_lowest_price_tomorrow",
    "sensor.home_highest_price_tomorrow",
    "sensor.home_average_price_tomorrow",
)


async def test_tomorrow_figures(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Tomorrow's lowest, highest and average, with the times they apply."""
    lowest = hass.states.get("sensor.home_lowest_price_tomorrow")
    assert lowest is not None
    assert lowest.state == "0.1"  # 00:00-00:30 tomorrow
    assert lowest.attributes["start"] == datetime(2026, 11, 26, tzinfo=LONDON)
    assert lowest.attributes["end"] == datetime(2026, 11, 26, 0, 30, tzinfo=LONDON)
    highest = hass.states.get("sensor.home_highest_price_tomorrow")
    assert highest is not None
    assert highest.state == "0.57"
    average = hass.states.get("sensor.home_average_price_tomorrow")
    assert average is not None
    assert float(average.state) == pytest.approx(0.335)
    assert average.attributes["end"] == datetime(2026, 11, 27, tzinfo=LONDON)


async def test_tomorrow_figures_wait_for_all_of_tomorrow(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Part of tomorrow is not tomorrow: the figures stay unavailable until it is all in."""
    start = datetime(2026, 11, 25, tzinfo=UTC)
    simulator_state.set_prices(
        HOME_ID,
        [
            PriceSlot(
                start + timedelta(hours=h), start + timedelta(hours=h + 1), h / 10
            )
            for h in range(36)
        ],
    )
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for entity_id in TOMORROW_SENSORS:
        assert _state(hass, entity_id) == STATE_UNAVAILABLE
    current = hass.states.get(CURRENT)
    assert current is not None
    assert current.attributes["tomorrow_valid"] is False
    assert len(current.attributes["raw_tomorrow"]) == 48  # the known half, in quarters
    assert _state(hass, "sensor.home_lowest_price_today") == "0.0"


async def test_price_resolution_changes_the_series_only(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Choosing hourly cells in the options reloads the entry; the state stays."""
    before = hass.states.get(CURRENT)
    assert before is not None
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_LOCATIONS: [HOME_ID],
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
            CONF_PRICE_RESOLUTION: "60",
        },
    )
    await hass.async_block_till_done()
    after = hass.states.get(CURRENT)
    assert after is not None
    assert after.state == before.state
    assert len(after.attributes["raw_today"]) == 24
    # 10:00-11:00 holds the half hours at 0.30 and 0.31.
    assert after.attributes["raw_today"][10]["value"] == 0.305
    assert after.attributes["raw_today"][10]["start"] == datetime(
        2026, 11, 25, 10, tzinfo=LONDON
    )
