"""Fixtures for the Connect flows: an entry that reaches the simulator's Connect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core_config import async_process_ha_core_config
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CONNECT_API_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from tests.helpers import ACCOUNT_ID, HOME_ID, LIVE_KEY, WEBHOOK_ID
from tests.simulator.connect import seed_connect_providers

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.simulator import RunningSimulator, SimulatorState
    from tests.simulator.connect import ConnectProviders

# The address Home Assistant is reached at in these tests (no browser drives them).
INTERNAL_URL = "http://homeassistant.local:8123"


@pytest.fixture
def providers(simulator_state: SimulatorState) -> ConnectProviders:
    """The simulator's seeded providers: DIRECT Octopus, library British Gas, EDF."""
    return seed_connect_providers(simulator_state)


@pytest.fixture
async def ha_url(hass: HomeAssistant) -> str:
    """Give Home Assistant an internal URL, which Connect's callbacks are built on."""
    await async_process_ha_core_config(hass, {"internal_url": INTERNAL_URL})
    return INTERNAL_URL


@pytest.fixture
def connect_entry(
    simulator: RunningSimulator, providers: ConnectProviders
) -> MockConfigEntry:
    """An entry following Home, whose Connect URL is the simulator's."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flatpeak",
        unique_id=f"{ACCOUNT_ID}_live",
        data={
            CONF_ACCOUNT_ID: ACCOUNT_ID,
            CONF_API_KEY: LIVE_KEY,
            CONF_API_URL: simulator.url,
            CONF_CONNECT_API_URL: simulator.connect_url,
            CONF_WEBHOOK_ID: WEBHOOK_ID,
        },
        options={
            CONF_LOCATIONS: [HOME_ID],
            CONF_FOLLOW_ALL_LOCATIONS: False,
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        },
    )
