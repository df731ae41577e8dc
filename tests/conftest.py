"""Shared fixtures: the integration is loaded from this repository."""

from __future__ import annotations

from datetime import UTC, datetime
import importlib
from typing import TYPE_CHECKING
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension

# Importing the package first makes Home Assistant's loader use this repository's copy.
from custom_components import flatpeak
from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from tests.helpers import (
    ACCOUNT_ID,
    HOME_ID,
    LIVE_KEY,
    NOW,
    TEST_KEY,
    WEBHOOK_ID,
    FlatpeakDeliveries,
    half_hourly_price,
)
from tests.simulator import RunningSimulator, SimulatorState, start_simulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from types import ModuleType

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.const import Platform
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
    from syrupy.assertion import SnapshotAssertion


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load custom integrations in tests that start it."""
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory per test: the event journal is a real file in it."""
    return hass_tmp_config_dir


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise Home Assistant objects stably (no random ids) in snapshots."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def cloud(hass: HomeAssistant) -> ModuleType:
    """Home Assistant Cloud's module, counted as loaded (no account is involved)."""
    hass.config.components.add("cloud")
    return importlib.import_module("homeassistant.components.cloud")


@pytest.fixture
def simulator_state() -> SimulatorState:
    """An account with one location, Home, with half-hourly import prices."""
    state = SimulatorState()
    state.add_account(ACCOUNT_ID, [LIVE_KEY, TEST_KEY])
    state.add_location(ACCOUNT_ID, HOME_ID, reference_id="Home")
    state.set_status(
        HOME_ID,
        tariff_name="Agile Octopus",
        contract_end_date=datetime(2027, 6, 30, tzinfo=UTC),
    )
    state.set_price_pattern(
        HOME_ID,
        half_hourly_price,
        next_update=datetime(2026, 11, 25, 16, tzinfo=UTC),
        last_updated=datetime(2026, 11, 25, 9, tzinfo=UTC),
    )
    return state


@pytest.fixture
async def simulator(
    socket_enabled: None, simulator_state: SimulatorState
) -> AsyncIterator[RunningSimulator]:
    """The simulator, serving on loopback."""
    async with await start_simulator(simulator_state) as running:
        yield running


@pytest.fixture
def mock_config_entry(simulator: RunningSimulator) -> MockConfigEntry:
    """A config entry for the account, following Home."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flatpeak",
        unique_id=f"{ACCOUNT_ID}_live",
        data={
            CONF_ACCOUNT_ID: ACCOUNT_ID,
            CONF_API_KEY: LIVE_KEY,
            CONF_API_URL: simulator.url,
            CONF_WEBHOOK_ID: WEBHOOK_ID,
        },
        options={
            CONF_LOCATIONS: [HOME_ID],
            CONF_FOLLOW_ALL_LOCATIONS: False,
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        },
    )


@pytest.fixture
def platforms() -> list[Platform] | None:
    """Platforms to set up; None for all (parametrize to snapshot one platform)."""
    return None


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    platforms: list[Platform] | None,
) -> MockConfigEntry:
    """Set the entry up at NOW."""
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.flatpeak.PLATFORMS", platforms or flatpeak.PLATFORMS):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
def flatpeak_client(
    hass_client_no_auth: ClientSessionGenerator, simulator_state: SimulatorState
) -> Callable[[], Awaitable[FlatpeakDeliveries]]:
    """Make clients that post deliveries as Flatpeak does (see FlatpeakDeliveries)."""

    async def make() -> FlatpeakDeliveries:
        return FlatpeakDeliveries(await hass_client_no_auth(), simulator_state)

    return make


@pytest.fixture
async def webhook_client(
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    simulator_state: SimulatorState,
) -> FlatpeakDeliveries:
    """A client posting deliveries to the entry's webhook as Flatpeak does (unsigned)."""
    return FlatpeakDeliveries(await hass_client_no_auth(), simulator_state)
