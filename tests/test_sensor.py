"""Tests for the price and tariff sensors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, Platform
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import entity_registry as er
    from syrupy.assertion import SnapshotAssertion

    from tests.simulator import RunningSimulator

CURRENT = "sensor.home_current_price"


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
