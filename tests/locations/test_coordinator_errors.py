"""Errors a retry cannot fix are not retried as if they were transient.

A rate limit's advice is followed within reason, a disabled account is said in Repairs
and asked about seldom, a body we cannot read is not re-read every five minutes, and a
location Flatpeak no longer has is dropped instead of being asked for forever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest

from custom_components.flatpeak import async_remove_config_entry_device
from custom_components.flatpeak.api.client import API_VERSION
from custom_components.flatpeak.const import (
    ACCOUNT_DISABLED_RETRY_INTERVAL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    DOMAIN,
    FALLBACK_UPDATE_INTERVAL,
    MAX_UPDATE_INTERVAL,
    TRANSIENT_RETRY_INTERVAL,
)
from custom_components.flatpeak.locations.followed import (
    PROBE_INTERVAL,
    PROBE_SLOW_INTERVAL,
)
from tests.helpers import (
    ACCOUNT_ID,
    HOME_ID,
    WEBHOOK_PATH,
    FlatpeakDeliveries,
    advance_time as _advance,
    make_event,
    move_time_to as _move_to,
    setup_entry as _setup,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.simulator import RunningSimulator, SimulatorState

CURRENT = "sensor.home_current_price"
# Flatpeak's next_update for Home is 16:00: the first poll after set-up.
AFTER_NEXT_UPDATE = datetime(2026, 11, 25, 16, 1, tzinfo=UTC)
CABIN_ID = "loc_cabin"
CLIENT = "custom_components.flatpeak.api.client"


def _api_calls(state: SimulatorState) -> int:
    """Requests that a poll of Home makes, whichever of them the account reaches."""
    return sum(state.calls[route] for route in ("login", "location", "prices"))


def _sensor_state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _flatpeak_issues(hass: HomeAssistant) -> set[str]:
    return {
        issue_id for (domain, issue_id) in ir.async_get(hass).issues if domain == DOMAIN
    }


# -- rate limits --------------------------------------------------------------------------


async def test_retry_after_of_years_is_capped(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Retry-After: 315360000 (ten years) delays the next poll by at most six hours."""
    simulator.state.inject_fault(
        "location", status=429, headers={"Retry-After": "315360000"}, times=None
    )
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval is not None
    assert coordinator.update_interval <= MAX_UPDATE_INTERVAL
    calls = simulator.state.calls["location"]

    await _advance(hass, freezer, MAX_UPDATE_INTERVAL + timedelta(seconds=1))
    assert simulator.state.calls["location"] == calls + 1
    # Prices fetched before still cover now: the sensor kept its value throughout.
    state = hass.states.get(CURRENT)
    assert state is not None
    assert state.state != "unavailable"


# -- disabled account --------------------------------------------------------------------


@pytest.mark.parametrize(
    "follow_all", [False, True], ids=["chosen locations", "all locations"]
)
async def test_disabled_account_at_setup_is_an_error_not_a_retry_loop(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    follow_all: bool,
) -> None:
    """Set-up fails for good, Repairs says why, and nothing polls Flatpeak meanwhile.

    Following every location, set-up first lists them: the same answer applies there.
    """
    simulator_state.set_account_disabled(ACCOUNT_ID)
    await _setup(
        hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: follow_all}
    )

    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"account_disabled_{mock_config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "account_disabled"
    calls = _api_calls(simulator_state)
    for _ in range(3):
        await _advance(hass, freezer, timedelta(minutes=30))
    assert _api_calls(simulator_state) == calls
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR


async def test_account_disabled_while_running(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Repairs says so, Flatpeak is asked every six hours, the issue goes once enabled."""
    state = simulator.state
    issue_id = f"account_disabled_{init_integration.entry_id}"
    state.set_account_disabled(ACCOUNT_ID)
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
    assert issue_id in _flatpeak_issues(hass)
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval == ACCOUNT_DISABLED_RETRY_INTERVAL

    calls = _api_calls(state)
    await _advance(
        hass, freezer, ACCOUNT_DISABLED_RETRY_INTERVAL - timedelta(minutes=1)
    )
    assert _api_calls(state) == calls
    assert issue_id in _flatpeak_issues(hass)

    state.set_account_disabled(ACCOUNT_ID, False)
    await _advance(hass, freezer, timedelta(minutes=2))
    assert _api_calls(state) > calls
    assert coordinator.last_update_success
    assert issue_id not in _flatpeak_issues(hass)
    assert init_integration.state is ConfigEntryState.LOADED


async def test_account_disabled_issue_clears_without_locations(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Following every location of an account that has none, the issue still clears.

    No location's fetch can say the account works again; listing the locations does.
    """
    simulator_state.remove_location(HOME_ID)
    simulator_state.set_account_disabled(ACCOUNT_ID)
    await _setup(hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True})
    issue_id = f"account_disabled_{mock_config_entry.entry_id}"
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert issue_id in _flatpeak_issues(hass)

    simulator_state.set_account_disabled(ACCOUNT_ID, False)
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert not mock_config_entry.runtime_data.locations
    assert issue_id not in _flatpeak_issues(hass)


# -- an account on a newer API release -----------------------------------------------------

# Flatpeak answers 422 api_version_not_supported to a Flatpeak-Version older than the
# account's default; the simulator speaks one release, so sending an older one is
# what a newer account default looks like.
OLDER_API_VERSION = "2024-08-24.zero"


@pytest.mark.parametrize(
    "follow_all", [False, True], ids=["chosen locations", "all locations"]
)
async def test_newer_api_release_at_setup_says_so(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    follow_all: bool,
) -> None:
    """Set-up fails for good with the release named, and Repairs says what to do."""
    with patch(f"{CLIENT}.API_VERSION", OLDER_API_VERSION):
        await _setup(
            hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: follow_all}
        )
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    assert mock_config_entry.reason is not None
    assert API_VERSION in mock_config_entry.reason
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"api_version_not_supported_{mock_config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "api_version_not_supported"
    assert issue.translation_placeholders == {
        "title": mock_config_entry.title,
        "api_version": API_VERSION,
    }


async def test_newer_api_release_while_running(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Repairs says so, prices stay while they cover now, and it clears once answered."""
    issue_id = f"api_version_not_supported_{init_integration.entry_id}"
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    with patch(f"{CLIENT}.API_VERSION", OLDER_API_VERSION):
        # The bearer token is renewed with the refused version too.
        simulator.state.expire_tokens()
        await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
        assert issue_id in _flatpeak_issues(hass)
        assert coordinator.update_interval == ACCOUNT_DISABLED_RETRY_INTERVAL
        assert not coordinator.last_update_success

    await _advance(hass, freezer, ACCOUNT_DISABLED_RETRY_INTERVAL)
    assert coordinator.last_update_success
    assert issue_id not in _flatpeak_issues(hass)


# -- malformed bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"object": "price", "data": "not a list"}, "<html>proxy error</html>"],
    ids=["wrong shape", "not json"],
)
async def test_malformed_price_body_is_retried_hourly(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    body: Any,
) -> None:
    """A body we cannot read will not read better in five minutes: retried after 1 h."""
    state = simulator.state
    state.inject_fault("prices", status=200, body=body, times=None)
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    assert coordinator.update_interval == FALLBACK_UPDATE_INTERVAL
    calls = state.calls["prices"]

    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    await _advance(hass, freezer, TRANSIENT_RETRY_INTERVAL + timedelta(seconds=1))
    assert state.calls["prices"] == calls
    await _advance(hass, freezer, FALLBACK_UPDATE_INTERVAL)
    assert state.calls["prices"] == calls + 1


# -- a location deleted at Flatpeak while running ----------------------------------------


def _bring_back(state: SimulatorState, location_id: str, name: str) -> None:
    """Flatpeak knows the location again (its prices were never forgotten)."""
    state.add_location(ACCOUNT_ID, location_id, reference_id=name)
    state.set_status(location_id)


async def test_chosen_location_gone_while_running_is_set_aside_and_asked_again(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A 404 sets it aside: asked hourly for a day, then daily; back with its entities.

    The Repairs issue stays until Flatpeak knows it again; the options never change.
    """
    state = simulator.state
    sensor = entity_registry.async_get(CURRENT)
    assert sensor is not None
    before = state.calls_for("location", HOME_ID)
    state.remove_location(HOME_ID)
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)

    assert state.calls_for("location", HOME_ID) == before + 1
    assert HOME_ID not in init_integration.runtime_data.locations
    assert f"location_missing_{HOME_ID}" in _flatpeak_issues(hass)
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), init_integration.entry_id
    )
    assert _sensor_state(hass, CURRENT) == "unavailable"

    # Hourly for the first day.
    for hour in range(1, 25):
        await _advance(hass, freezer, PROBE_INTERVAL)
        assert state.calls_for("location", HOME_ID) == before + 1 + hour
    # Then daily: nothing more within the day.
    await _advance(hass, freezer, PROBE_SLOW_INTERVAL - timedelta(minutes=1))
    assert state.calls_for("location", HOME_ID) == before + 25
    await _advance(hass, freezer, timedelta(minutes=2))
    assert state.calls_for("location", HOME_ID) == before + 26
    assert f"location_missing_{HOME_ID}" in _flatpeak_issues(hass)

    _bring_back(state, HOME_ID, "Home")
    await _advance(hass, freezer, PROBE_SLOW_INTERVAL)
    assert HOME_ID in init_integration.runtime_data.locations
    assert f"location_missing_{HOME_ID}" not in _flatpeak_issues(hass)
    # The same entity, with its id and history, shows prices again.
    assert entity_registry.async_get(CURRENT) == sensor
    assert _sensor_state(hass, CURRENT) not in ("unavailable", "unknown")
    assert init_integration.options[CONF_LOCATIONS] == [HOME_ID]
    assert init_integration.state is ConfigEntryState.LOADED


async def test_missing_at_setup_is_asked_again_and_comes_back(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A location missing at start-up gets its entities once Flatpeak knows it."""
    simulator_state.remove_location(HOME_ID)
    await _setup(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert f"location_missing_{HOME_ID}" in _flatpeak_issues(hass)
    assert hass.states.get(CURRENT) is None

    _bring_back(simulator_state, HOME_ID, "Home")
    await _advance(hass, freezer, PROBE_INTERVAL)
    assert HOME_ID in mock_config_entry.runtime_data.locations
    assert f"location_missing_{HOME_ID}" not in _flatpeak_issues(hass)
    assert _sensor_state(hass, CURRENT) == "0.32"  # 11:05, the 11:00 slot


async def test_followed_all_location_gone_is_kept_until_deletion_is_confirmed(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Following every location, a 404 alone keeps the device; location.delete removes it."""
    simulator_state.add_location(ACCOUNT_ID, CABIN_ID, reference_id="Cabin")
    simulator_state.set_status(CABIN_ID)
    simulator_state.set_price_pattern(
        CABIN_ID, lambda _start: 0.2, next_update=datetime(2026, 11, 25, 16, tzinfo=UTC)
    )
    await _setup(hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True})
    runtime = mock_config_entry.runtime_data
    assert set(runtime.locations) == {HOME_ID, CABIN_ID}

    simulator_state.remove_location(CABIN_ID)
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
    assert set(runtime.locations) == {HOME_ID}
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, CABIN_ID), mock_config_entry.entry_id
    )
    assert f"location_missing_{CABIN_ID}" in _flatpeak_issues(hass)
    assert _sensor_state(hass, "sensor.cabin_current_price") == "unavailable"

    # Flatpeak's location.delete, read back (confirmed), then Flatpeak's 404: gone.
    client = FlatpeakDeliveries(await hass_client_no_auth(), simulator_state)
    response = await client.post(
        WEBHOOK_PATH,
        json=make_event(
            "location.delete", event_id="evt_cabin_deleted", location_id=CABIN_ID
        ),
    )
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, CABIN_ID), mock_config_entry.entry_id
        )
        is None
    )
    assert not any(
        issue.startswith("location_missing_") for issue in _flatpeak_issues(hass)
    )
    assert hass.states.get("sensor.cabin_current_price") is None
    calls = simulator_state.calls_for("location", CABIN_ID)
    await _advance(hass, freezer, PROBE_SLOW_INTERVAL + timedelta(hours=1))
    assert simulator_state.calls_for("location", CABIN_ID) == calls
    assert _sensor_state(hass, CURRENT) not in ("unavailable", "unknown")


async def test_deleting_a_set_aside_device_stops_asking(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The user deleting the device of a missing location removes it for good."""
    state = simulator.state
    state.remove_location(HOME_ID)
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), init_integration.entry_id
    )
    assert device is not None
    assert await async_remove_config_entry_device(hass, init_integration, device)
    assert f"location_missing_{HOME_ID}" not in _flatpeak_issues(hass)
    assert init_integration.options[CONF_LOCATIONS] == []
    calls = state.calls_for("location", HOME_ID)
    await _advance(hass, freezer, PROBE_SLOW_INTERVAL)
    assert state.calls_for("location", HOME_ID) == calls


async def test_event_naming_a_set_aside_location_asks_at_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A confirmed event about it (Flatpeak knows it again) brings it back now."""
    state = simulator.state
    state.remove_location(HOME_ID)
    await _move_to(hass, freezer, AFTER_NEXT_UPDATE)
    assert HOME_ID not in init_integration.runtime_data.locations

    _bring_back(state, HOME_ID, "Home")
    client = FlatpeakDeliveries(await hass_client_no_auth(), state)
    response = await client.post(
        WEBHOOK_PATH, json=make_event("location.update", event_id="evt_home_back")
    )
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert HOME_ID in init_integration.runtime_data.locations
    assert f"location_missing_{HOME_ID}" not in _flatpeak_issues(hass)
    assert _sensor_state(hass, CURRENT) == "0.42"
