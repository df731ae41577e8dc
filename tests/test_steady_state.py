"""How often the integration calls Flatpeak when nothing happens, over simulated days."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pytest_homeassistant_custom_component.common import async_fire_time_changed

from tests.helpers import HOME_ID, NOW, half_hourly_price

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.simulator import SimulatorState

STEP = timedelta(minutes=5)


async def _run_for(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, duration: timedelta
) -> None:
    elapsed = timedelta(0)
    while elapsed < duration:
        freezer.tick(STEP)
        elapsed += STEP
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


async def test_fetches_per_day_in_steady_state(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With Flatpeak's daily next_update, a location costs a handful of fetches a day.

    Slot rollovers (48 a day) and midnight cost none: states come from cached prices.
    """
    # next_update unset: the simulator advises the next 16:00, as Flatpeak does daily.
    simulator_state.set_price_pattern(HOME_ID, half_hourly_price)
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await _run_for(hass, freezer, timedelta(days=1))  # settle into the daily rhythm

    simulator_state.reset_calls()
    states_seen = set()
    elapsed = timedelta(0)
    while elapsed < timedelta(days=2):
        freezer.tick(STEP)
        elapsed += STEP
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        states_seen.add(hass.states.get("sensor.home_current_price").state)  # type: ignore[union-attr]
    per_day = simulator_state.calls_for("prices", HOME_ID) / 2
    print(f"steady state: {per_day:g} price fetches per location per day")  # noqa: T201
    assert 1 <= per_day <= 6
    # The hourly safety-net catch-up: one listing of /events an hour, per entry.
    listings = simulator_state.calls["events"] / 2
    print(f"steady state: {listings:g} event listings per entry per day")  # noqa: T201
    assert listings == 24
    # Every half-hour slot showed its own price without an extra fetch per slot.
    assert len(states_seen) >= 40
