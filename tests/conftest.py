"""Shared fixtures: the integration is loaded from this repository."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
import importlib
import json
from typing import TYPE_CHECKING, Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
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
from tests.simulator import RunningSimulator, SimulatorState, start_simulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from types import ModuleType

    from aiohttp import ClientResponse
    from aiohttp.test_utils import TestClient
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


ACCOUNT_ID = "acc_661677911f2197045e6cf1b1"
LIVE_KEY = "sk_live_65e88ad8b13031c26a39c06c"
TEST_KEY = "sk_test_687b8977879fd796a86faa03"
HOME_ID = "loc_641b90b758fb8e6293716e40"
WEBHOOK_ID = "0123456789abcdef" * 4
LONDON = ZoneInfo("Europe/London")
# A Wednesday in winter, when Europe/London is UTC: slot times read the same in both.
NOW = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)


def half_hourly_price(start: datetime) -> tuple[float, float]:
    """Price 0.10 at local midnight rising 0.01 per half hour; tomorrow is a forecast."""
    local = start.astimezone(LONDON)
    index = local.hour * 2 + local.minute // 30
    return round(0.10 + index / 100, 4), 1.0 if local.date() <= NOW.date() else 0.8


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


WEBHOOK_PATH = f"/api/webhook/{WEBHOOK_ID}"


def make_event(
    event_type: str,
    *,
    event_id: str,
    location_id: str = HOME_ID,
    tariff_id: str | None = "trf_69665bd289b104fb993db999",
    live_mode: bool = True,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """Build an event as Flatpeak delivers it (tariff.* data shape unless location.*)."""
    if event_type.startswith("location."):
        data: dict[str, Any] = {
            "id": location_id,
            "object": "location",
            "live_mode": live_mode,
            "account_id": account_id,
        }
    else:
        data = {
            "live_mode": live_mode,
            "location_id": location_id,
            "tariff_id": tariff_id,
            "account_id": account_id,
        }
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "time_created": NOW.isoformat(),
        "data": data,
    }


class FlatpeakDeliveries:
    """Posts events to the webhook the way Flatpeak delivers them, unsigned.

    Flatpeak delivers only events it has: each event posted is first kept in the
    simulator's event list (owned as its data says), so that reading it back finds it.
    Junk that Flatpeak never sent is posted with `hass_client_no_auth` instead.
    """

    def __init__(self, client: TestClient, state: SimulatorState) -> None:
        """Post through `client`; keep the events in `state`."""
        self._client = client
        self._state = state

    async def post(self, path: str, **kwargs: Any) -> ClientResponse:
        """POST a delivery; an event object in `json` is also one of Flatpeak's events."""
        event = kwargs.get("json")
        if isinstance(raw := kwargs.get("data"), str | bytes):
            with contextlib.suppress(ValueError):
                event = json.loads(raw)
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            self._state.store_event(
                event,
                account_id=data.get("account_id", ACCOUNT_ID),
                live_mode=data.get("live_mode", True),
            )
        return await self._client.post(path, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """Everything else is the test client's."""
        return getattr(self._client, name)


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


async def advance_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Move the frozen clock on and let the timers and refreshes it starts finish."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    # Coordinators refresh in background tasks.
    await hass.async_block_till_done(wait_background_tasks=True)


async def move_time_to(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> None:
    """Move the frozen clock to `moment`, as `advance_time` does."""
    freezer.move_to(moment)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def setup_entry(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    **options: Any,
) -> None:
    """Set an entry up at NOW in London, with these options changed first."""
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    if options:
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, **options}
        )
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
