"""Tests for setting up, unloading and reloading a Flatpeak entry."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.flatpeak import async_remove_config_entry_device
from custom_components.flatpeak.const import (
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    DOMAIN,
    TRANSIENT_RETRY_INTERVAL,
)
from tests.helpers import ACCOUNT_ID, HOME_ID, LIVE_KEY, NOW, advance_time

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.simulator import RunningSimulator, SimulatorState


async def _setup(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    **options: object,
) -> None:
    freezer.move_to(NOW)
    if entry.entry_id not in {e.entry_id for e in hass.config_entries.async_entries()}:
        entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_unload_and_reload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """Unloading stops everything; reloading brings the same entities back."""
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.home_current_price").state == "0.3"  # type: ignore[union-attr]

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("sensor.home_current_price").state == STATE_UNAVAILABLE  # type: ignore[union-attr]

    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.home_current_price").state == "0.3"  # type: ignore[union-attr]
    assert simulator.state.calls["login"] == 2


async def test_follow_all_locations_discovers_every_location(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An entry that follows all locations picks up ones added since set-up."""
    simulator_state.add_location(ACCOUNT_ID, "loc_cabin", reference_id="Cabin")
    simulator_state.set_status("loc_cabin")
    simulator_state.set_price_pattern("loc_cabin", lambda _start: (0.2, 1.0))
    await _setup(
        hass,
        mock_config_entry,
        freezer,
        **{CONF_FOLLOW_ALL_LOCATIONS: True},
    )

    devices = dr.async_entries_for_config_entry(
        device_registry, mock_config_entry.entry_id
    )
    assert sorted(device.name for device in devices) == ["Cabin", "Home"]
    assert hass.states.get("sensor.cabin_current_price").state == "0.2"  # type: ignore[union-attr]


async def test_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Each location is a service device named after it."""
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), init_integration.entry_id
    )
    assert device is not None
    assert device.name == "Home"
    assert device.manufacturer == "Flatpeak"
    assert device.entry_type is dr.DeviceEntryType.SERVICE


@pytest.mark.parametrize(
    ("route", "follow_all"),
    [("location", False), ("locations", True)],
)
async def test_api_down_at_setup_retries(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    route: str,
    follow_all: bool,
) -> None:
    """Connection problems at start-up make Home Assistant retry the entry later."""
    simulator_state.inject_fault(route, status=503, times=None)
    await _setup(
        hass,
        mock_config_entry,
        freezer,
        **{CONF_FOLLOW_ALL_LOCATIONS: follow_all},
    )
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_prices_down_at_setup_loads_without_prices(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Only the prices failing: the entry loads with its status; prices follow."""
    simulator_state.inject_fault("prices", status=503, times=None)
    await _setup(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.home_current_price").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert hass.states.get("sensor.home_tariff").state == "Agile Octopus"  # type: ignore[union-attr]

    simulator_state.clear_faults()
    await advance_time(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert hass.states.get("sensor.home_current_price").state == "0.3"  # type: ignore[union-attr]


@pytest.mark.parametrize("follow_all", [False, True])
async def test_auth_failure_at_setup_starts_reauth(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    follow_all: bool,
) -> None:
    """A refused key fails set-up and asks the user for a new one."""
    simulator_state.revoke_key(LIVE_KEY)
    await _setup(
        hass,
        mock_config_entry,
        freezer,
        **{CONF_FOLLOW_ALL_LOCATIONS: follow_all},
    )
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_one_missing_location_is_set_aside(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A chosen location Flatpeak no longer has does not keep the others down.

    The entry loads with the rest, Repairs names the missing one, its device stays,
    and Flatpeak is asked about it again only at the hourly re-probe.
    """
    mock_config_entry.add_to_hass(hass)
    device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={(DOMAIN, "loc_missing")},
    )
    await _setup(
        hass,
        mock_config_entry,
        freezer,
        locations=[HOME_ID, "loc_missing"],
    )
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert list(mock_config_entry.runtime_data.locations) == [HOME_ID]
    assert hass.states.get("sensor.home_current_price").state == "0.3"  # type: ignore[union-attr]
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "location_missing_loc_missing")
    assert issue is not None
    assert issue.translation_key == "location_missing"
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, "loc_missing"), mock_config_entry.entry_id
    )
    assert mock_config_entry.options[CONF_LOCATIONS] == [HOME_ID, "loc_missing"]
    calls = simulator_state.calls_for("location", "loc_missing")
    assert calls == 1
    freezer.tick(timedelta(hours=7))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Asked again at the hourly re-probe (not more often), and still set aside.
    assert calls < simulator_state.calls_for("location", "loc_missing") <= calls + 7
    assert list(mock_config_entry.runtime_data.locations) == [HOME_ID]
    assert ir.async_get(hass).async_get_issue(DOMAIN, "location_missing_loc_missing")

    # Once the user removes it from the options, the issue and the device go.
    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_LOCATIONS: [HOME_ID]},
    )
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, "location_missing_loc_missing") is None
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, "loc_missing"), mock_config_entry.entry_id
        )
        is None
    )


async def test_stale_devices_removed(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Devices of locations the entry no longer follows are removed at set-up."""
    mock_config_entry.add_to_hass(hass)
    stale = device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={(DOMAIN, "loc_gone")},
        name="Old flat",
    )
    await _setup(hass, mock_config_entry, freezer)
    assert device_registry.async_get(stale.id) is None
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), mock_config_entry.entry_id
    )


async def test_remove_device_only_when_not_followed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Users can delete a device only for a location the entry does not follow."""
    followed = device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), init_integration.entry_id
    )
    assert followed is not None
    assert not await async_remove_config_entry_device(hass, init_integration, followed)
    other = device_registry.async_get_or_create(
        config_entry_id=init_integration.entry_id,
        identifiers={(DOMAIN, "loc_other")},
    )
    assert await async_remove_config_entry_device(hass, init_integration, other)
