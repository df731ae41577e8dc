"""Tests for the `flatpeak.get_prices` action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.const import CONF_LOCATIONS, DOMAIN
from custom_components.flatpeak.services import SERVICE_GET_PRICES
from tests.helpers import ACCOUNT_ID, HOME_ID, half_hourly_price

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion

    from tests.simulator import RunningSimulator, SimulatorState

OFFICE_ID = "loc_641b90b758fb8e6293716e41"
EXPORT_PRICE = 0.15


@pytest.fixture
def simulator_state(simulator_state: SimulatorState) -> SimulatorState:
    """Home also exports; the account has a second location, Office, not followed."""
    # Set before the entry is set up, so Home is followed with both tariffs.
    simulator_state.set_status(HOME_ID, "export", tariff_name="Outgoing Octopus")
    simulator_state.set_price_pattern(
        HOME_ID, lambda _start: EXPORT_PRICE, direction="EXPORT"
    )
    simulator_state.add_location(ACCOUNT_ID, OFFICE_ID, reference_id="Office")
    simulator_state.set_status(OFFICE_ID)
    simulator_state.set_price_pattern(OFFICE_ID, half_hourly_price)
    return simulator_state


async def _get_prices(
    hass: HomeAssistant, entry_id: str, **fields: Any
) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        SERVICE_GET_PRICES,
        {ATTR_CONFIG_ENTRY_ID: entry_id, **fields},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return response


async def test_default_window(
    hass: HomeAssistant, init_integration: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    """Without a window, the next 24 hours of import prices, in the location's time."""
    response = await _get_prices(hass, init_integration.entry_id)
    assert response == snapshot
    assert response["location_id"] == HOME_ID
    assert response["currency"] == "GBP"
    assert response["unit"] == "GBP/kWh"
    prices = response["prices"]
    # Flatpeak clips the slots to the window: 10:05-10:30 today to 10:00-10:05 tomorrow.
    assert len(prices) == 49
    assert prices[0] == {
        "start": "2026-11-25T10:05:00+00:00",
        "end": "2026-11-25T10:30:00+00:00",
        "price": 0.3,
        "confidence": 1.0,
    }
    assert prices[-1]["start"] == "2026-11-26T10:00:00+00:00"
    assert prices[-1]["end"] == "2026-11-26T10:05:00+00:00"


async def test_explicit_window(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An explicit window in summer comes back in the location's summer time."""
    response = await _get_prices(
        hass,
        init_integration.entry_id,
        location_id=HOME_ID,
        start="2026-07-01T00:00:00+01:00",
        end="2026-07-02T00:00:00+01:00",
        direction="import",
    )
    prices = response["prices"]
    assert len(prices) == 48
    assert prices[0] == {
        "start": "2026-07-01T00:00:00+01:00",
        "end": "2026-07-01T00:30:00+01:00",
        "price": 0.1,
        "confidence": 1.0,
    }
    assert prices[-1]["end"] == "2026-07-02T00:00:00+01:00"


async def test_window_given_as_datetimes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Automations may pass datetime objects; only an end means start is now."""
    response = await _get_prices(
        hass,
        init_integration.entry_id,
        end=datetime(2026, 11, 25, 11, tzinfo=UTC),
    )
    assert [slot["start"] for slot in response["prices"]] == [
        "2026-11-25T10:05:00+00:00",
        "2026-11-25T10:30:00+00:00",
    ]


async def test_export_direction(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """Export prices come from the export tariff."""
    calls = simulator.state.calls["prices"]
    response = await _get_prices(hass, init_integration.entry_id, direction="export")
    prices = response["prices"]
    assert len(prices) == 49
    assert {slot["price"] for slot in prices} == {EXPORT_PRICE}
    assert simulator.state.calls["prices"] == calls + 1


async def test_naive_datetimes_in_home_assistant_time_zone(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A window without an offset is read in Home Assistant's time zone."""
    # Differs from the location's zone, so the two cannot be confused.
    await hass.config.async_set_time_zone("America/New_York")
    response = await _get_prices(
        hass,
        init_integration.entry_id,
        start="2026-11-26 00:00:00",
        end="2026-11-26 01:00:00",
    )
    assert [slot["start"] for slot in response["prices"]] == [
        "2026-11-26T05:00:00+00:00",
        "2026-11-26T05:30:00+00:00",
    ]


async def test_location_required_with_several_locations(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An entry following two locations needs to be told which one."""
    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_LOCATIONS: [HOME_ID, OFFICE_ID]},
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED

    with pytest.raises(ServiceValidationError) as err:
        await _get_prices(hass, init_integration.entry_id)
    assert err.value.translation_key == "location_required"
    assert err.value.translation_placeholders == {
        "locations": f"{HOME_ID}, {OFFICE_ID}"
    }

    response = await _get_prices(hass, init_integration.entry_id, location_id=OFFICE_ID)
    assert response["location_id"] == OFFICE_ID


@pytest.mark.parametrize("location_id", [OFFICE_ID, "loc_unknown"])
async def test_location_not_found(
    hass: HomeAssistant, init_integration: MockConfigEntry, location_id: str
) -> None:
    """A location the entry does not follow is refused before any request."""
    with pytest.raises(ServiceValidationError) as err:
        await _get_prices(hass, init_integration.entry_id, location_id=location_id)
    assert err.value.translation_key == "location_not_found"
    assert err.value.translation_placeholders == {"location_id": location_id}
    # Home Assistant drops the final full stop of translated messages.
    assert str(err.value) == f"The entry does not follow location {location_id}"


async def test_entry_not_found(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An unknown entry id, or another integration's entry, is refused."""
    other = MockConfigEntry(domain="other_integration", title="Other")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await _get_prices(hass, "no_such_entry")
    assert err.value.translation_key == "service_config_entry_not_found"
    assert err.value.translation_placeholders == {
        "domain": "flatpeak",
        "entry_id": "no_such_entry",
    }
    with pytest.raises(ServiceValidationError) as err:
        await _get_prices(hass, other.entry_id)
    assert err.value.translation_key == "service_config_entry_wrong_domain"
    assert err.value.translation_placeholders == {
        "domain": "flatpeak",
        "entry_title": "Other",
    }


async def test_entry_not_loaded(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An unloaded entry cannot answer."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await _get_prices(hass, init_integration.entry_id)
    assert err.value.translation_key == "service_config_entry_not_loaded"
    assert err.value.translation_placeholders == {
        "domain": "flatpeak",
        "entry_title": "Flatpeak",
    }


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-26T00:00:00+00:00", "2026-11-26T00:00:00+00:00"),
        ("2026-11-26T00:00:00+00:00", "2026-11-25T00:00:00+00:00"),
        ("2026-11-26T00:00:00+00:00", "2027-02-24T00:00:01+00:00"),
    ],
    ids=["empty", "end_before_start", "over_90_days"],
)
async def test_invalid_window(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    start: str,
    end: str,
) -> None:
    """The end must follow the start by at most 90 days."""
    calls = simulator.state.calls["prices"]
    with pytest.raises(ServiceValidationError) as err:
        await _get_prices(hass, init_integration.entry_id, start=start, end=end)
    assert err.value.translation_key == "invalid_window"
    assert simulator.state.calls["prices"] == calls


async def test_ninety_days_is_allowed(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Exactly 90 days is the longest window."""
    response = await _get_prices(
        hass,
        init_integration.entry_id,
        start="2026-11-26T00:00:00+00:00",
        end="2027-02-24T00:00:00+00:00",
    )
    assert len(response["prices"]) == 90 * 48


@pytest.mark.parametrize(
    "fields",
    [{"direction": "local"}, {"start": "tomorrow"}, {"unknown": 1}],
    ids=["direction", "start", "extra_field"],
)
async def test_schema_errors(
    hass: HomeAssistant, init_integration: MockConfigEntry, fields: dict[str, Any]
) -> None:
    """Malformed fields are refused by the schema."""
    with pytest.raises(probatio.Invalid):
        await _get_prices(hass, init_integration.entry_id, **fields)


async def test_prices_unavailable(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """Flatpeak's 422 (e.g. pending_connect) is reported with its code."""
    simulator.state.set_prices_error(HOME_ID, "pending_connect")
    with pytest.raises(HomeAssistantError) as err:
        await _get_prices(hass, init_integration.entry_id)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "prices_unavailable"
    assert err.value.translation_placeholders == {
        "code": "pending_connect",
        "location_id": HOME_ID,
    }
    assert str(err.value) == (
        f"Flatpeak has no prices for {HOME_ID} right now (pending_connect)"
    )


async def test_server_error(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """A 5xx is a connection problem, not the user's."""
    simulator.state.inject_fault("prices", status=500)
    with pytest.raises(HomeAssistantError) as err:
        await _get_prices(hass, init_integration.entry_id)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "cannot_connect"
    assert str(err.value).startswith("Cannot reach Flatpeak: ")
    assert not hass.config_entries.flow.async_progress()


async def test_authentication_error_starts_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """A key refused even after a fresh login starts re-authentication."""
    logins = simulator.state.calls["login"]
    simulator.state.inject_fault("prices", status=401, times=2)
    with pytest.raises(HomeAssistantError) as err:
        await _get_prices(hass, init_integration.entry_id)
    assert err.value.translation_key == "invalid_auth"
    assert simulator.state.calls["login"] == logins + 1
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress()
    assert [(flow["handler"], flow["context"]["source"]) for flow in flows] == [
        (DOMAIN, SOURCE_REAUTH)
    ]
    assert flows[0]["context"]["entry_id"] == init_integration.entry_id


async def test_bearer_refused_once_is_renewed(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """An expired bearer is renewed silently; no reauth."""
    simulator.state.inject_fault("prices", status=401)
    response = await _get_prices(hass, init_integration.entry_id)
    assert len(response["prices"]) == 49
    assert not hass.config_entries.flow.async_progress()
