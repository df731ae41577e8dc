"""FollowedLocations: the entry's locations and how platforms learn of new ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntryState

from custom_components.flatpeak.const import CONF_FOLLOW_ALL_LOCATIONS
from custom_components.flatpeak.locations.coordinator import (
    FlatpeakLocationCoordinator,
)
from tests.helpers import ACCOUNT_ID, HOME_ID, setup_entry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.simulator import SimulatorState

CABIN_ID = "loc_6a1b2c3d4e5f60718293a4b5"


async def test_a_mapping_of_the_followed_locations(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Indexed by location id, with names people know."""
    locations = init_integration.runtime_data.locations
    assert list(locations) == [HOME_ID]
    assert len(locations) == 1
    assert isinstance(locations[HOME_ID], FlatpeakLocationCoordinator)
    assert HOME_ID in locations
    assert "loc_unknown" not in locations
    assert locations.display_name(HOME_ID) == "Home"
    # A location not followed is named by its id.
    assert locations.display_name("loc_unknown") == "loc_unknown"


async def test_platforms_hear_of_each_location_now_and_later(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
) -> None:
    """`async_on_each` calls back for every location now and for one added later."""
    await setup_entry(
        hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True}
    )
    locations = mock_config_entry.runtime_data.locations
    heard: list[str] = []
    locations.async_on_each(lambda coordinator: heard.append(coordinator.location_id))
    assert heard == [HOME_ID]

    simulator_state.add_location(ACCOUNT_ID, CABIN_ID, reference_id="Cabin")
    simulator_state.set_status(CABIN_ID)
    locations.async_request_add(CABIN_ID)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert heard == [HOME_ID, CABIN_ID]
    assert locations.display_name(CABIN_ID) == "Cabin"
    assert hass.states.get("sensor.cabin_current_price") is not None


async def test_listeners_go_with_the_entry(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
) -> None:
    """After unload nothing is called back, whatever the old object is asked."""
    await setup_entry(
        hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True}
    )
    locations = mock_config_entry.runtime_data.locations
    heard: list[str] = []
    locations.async_on_each(lambda coordinator: heard.append(coordinator.location_id))
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.NOT_LOADED
    assert locations._listeners == []
    assert heard == [HOME_ID]
