"""Flatpeak Connect in Home Assistant's flows, against the simulator's Connect.

Every Connect route, action and error of connect.md §2 is walked here through the
options flow (tariff settings, adding a location), set-up without locations, and the
Repairs fix flows of the three tariff problems.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.api.client import FlatpeakClient
from custom_components.flatpeak.api.connect_models import (
    ConnectRouteOptions,
    ConnectToken,
)
from custom_components.flatpeak.const import (
    CONF_API_KEY,
    CONF_CONNECT_API_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    DOMAIN,
)
from custom_components.flatpeak.tariff import connect_flow
from custom_components.flatpeak.tariff.callback import STATE_PARAM
from tests.helpers import (
    ACCOUNT_ID,
    HOME_ID,
    LIVE_KEY,
    NOW,
    TEST_KEY,
    WEBHOOK_PATH,
    follow_provider_login,
    setup_entry,
)
from tests.simulator.app import ApiError, error_object
from tests.simulator.connect import add_provider
from tests.simulator.connect_model import LaterPage

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.simulator import RunningSimulator, SimulatorState
    from tests.simulator.connect import ConnectProviders

pytestmark = pytest.mark.usefixtures("ha_url")

type Result = dict[str, Any]

EXPIRED_END = datetime(2026, 11, 1, tzinfo=UTC)
FUTURE_END = datetime(2027, 6, 30, tzinfo=UTC)


async def _loaded(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    **options: Any,
) -> MockConfigEntry:
    # Repairs first: its views cannot be added once a test client has started.
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    await setup_entry(hass, entry, freezer, **options)
    return entry


async def _options(hass: HomeAssistant, entry: MockConfigEntry, choice: str) -> Result:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    return await _choose(hass, result, choice)


async def _choose(hass: HomeAssistant, result: Result, choice: str) -> Result:
    """Choose a menu option of an options flow."""
    assert result["type"] is FlowResultType.MENU, result
    assert choice in result["menu_options"], result["menu_options"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": choice}
    )


async def _submit(hass: HomeAssistant, result: Result, data: dict[str, Any]) -> Result:
    assert result["type"] is FlowResultType.FORM, result
    return await hass.config_entries.options.async_configure(result["flow_id"], data)


async def _tariff_settings(
    hass: HomeAssistant, entry: MockConfigEntry, location_id: str = HOME_ID
) -> Result:
    """Open the tariff settings of a location in the options."""
    result = await _options(hass, entry, "tariff_settings")
    assert result["step_id"] == "tariff_settings"
    return await _submit(hass, result, {"location_id": location_id})


async def _to_providers(hass: HomeAssistant, result: Result) -> Result:
    """From a summary, change the tariff and open the provider choice."""
    result = await _choose(hass, result, "edit")
    assert result["step_id"] == "provider_select_menu"
    result = await _choose(hass, result, "provider_select")
    assert result["step_id"] == "provider_select"
    return result


def _session(simulator_state: SimulatorState) -> Any:
    """Return the connect token of the most recent session."""
    return list(simulator_state.connect.tokens.values())[-1]


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


# -- tariff settings: the summary and its actions ----------------------------------------


async def test_tariff_settings_summary(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """A connected tariff opens on its summary: text placeholders and Connect's actions."""
    entry = await _loaded(hass, connect_entry, freezer)
    status_calls = simulator_state.calls["location_status"]
    result = await _tariff_settings(hass, entry)
    # connect.md §6: the status is read each time the settings are opened.
    assert simulator_state.calls["location_status"] == status_calls + 1
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "tariff_summary"
    assert result["menu_options"] == [
        "wrong_tariff",
        "edit",
        "disconnect",
        "back",
        "close",
    ]
    placeholders = result["description_placeholders"]
    assert placeholders["location"] == "Home"
    assert placeholders["provider"] == "Octopus Energy"
    assert placeholders["tariff"] == "Agile Octopus"
    assert placeholders["structure"] == "TIME_OF_DAY"
    assert placeholders["connection_type"] == "DIRECT"
    assert placeholders["status"] == "CONNECTED"
    assert placeholders["contract_end"] == "2027-06-30"
    # 48 half-hour prices rising all day: a range, not 48 lines.
    assert placeholders["rates"] == "0.1000 to 0.5700 GBP/kWh, changing 48 times"
    token = _session(simulator_state)
    assert token.location_id == HOME_ID
    assert (
        token.connect_url
        == "http://homeassistant.local:8123/api/flatpeak/connect/return"
    )
    assert (
        token.callback_url == "http://homeassistant.local:8123/api/flatpeak/connect/end"
    )

    # WRONG_TARIFF is reported once; the summary then no longer offers it.
    result = await _choose(hass, result, "wrong_tariff")
    assert result["step_id"] == "tariff_summary"
    assert "wrong_tariff" not in result["menu_options"]
    assert simulator_state.connect.wrong_tariff_reports == [token.id]

    # CLOSE ends the session in Connect, and the flow here (never in the browser).
    prices_calls = simulator_state.calls["prices"]
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_closed"
    assert token.ended
    await hass.async_block_till_done()
    # The location's prices are read again after its tariff settings were open.
    assert simulator_state.calls["prices"] > prices_calls


async def test_back_from_first_page_leaves(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """BACK on the first page ends the session (Busbar's wording, connect.md §2)."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    result = await _choose(hass, result, "back")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_closed"


async def test_edit_to_library_tariff(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """EDIT, a library provider and tariff: the summary shows it, the sensor follows."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    options = result["data_schema"].schema["provider"].config["options"]
    assert {option["label"] for option in options} == {
        "Octopus Energy",
        "British Gas",
        "EDF Energy",
    }
    result = await _submit(hass, result, {"provider": providers.library_id})
    assert result["step_id"] == "tariff_select_menu"
    assert result["menu_options"] == [
        "tariff_select",
        "tariff_missing",
        "back",
        "close",
    ]
    # BACK goes to the provider choice, and forward again.
    result = await _choose(hass, result, "back")
    assert result["step_id"] == "provider_select_menu"
    result = await _choose(hass, result, "provider_select")
    result = await _submit(hass, result, {"provider": providers.library_id})
    result = await _choose(hass, result, "tariff_select")
    result = await _submit(hass, result, {"tariff": providers.standard_tariff_id})
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["tariff"] == "Standard Variable"
    assert result["description_placeholders"]["connection_type"] == "LIBRARY"
    assert result["description_placeholders"]["rates"] == ("- All day: 0.2450 GBP/kWh")
    result = await _choose(hass, result, "close")
    assert result["reason"] == "connect_closed"
    await hass.async_block_till_done()
    assert _state(hass, "sensor.home_tariff") == "Standard Variable"
    assert _state(hass, "sensor.home_current_price") == "0.245"


async def test_manual_time_of_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """PROVIDER_MISSING, a name, TIME_OF_DAY: the cover is checked before sending."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    result = await _choose(hass, result, "edit")
    result = await _choose(hass, result, "provider_missing")
    assert result["step_id"] == "provider_name_capture_menu"
    assert result["menu_options"] == [
        "provider_name_capture",
        "address_change",
        "back",
        "close",
    ]
    result = await _choose(hass, result, "provider_name_capture")
    result = await _submit(hass, result, {"provider": "  Acme Power "})
    assert result["step_id"] == "tariff_structure_select"
    options = result["data_schema"].schema["options"].config["options"]
    assert options == ["FIXED", "TIME_OF_DAY", "MARKET"]
    result = await _submit(hass, result, {"options": "TIME_OF_DAY"})
    assert result["step_id"] == "rate_tod_capture"
    assert result["description_placeholders"]["provider"] == "Acme Power"

    calls = simulator_state.calls["connect"]
    # A night that overlaps the day is refused here, before anything is sent.
    result = await _submit(
        hass,
        result,
        {
            "valid_from": "07:00:00",
            "valid_to": "23:00:00",
            "cost": 0.3,
            "night_valid_from": "22:00:00",
            "night_valid_to": "07:00:00",
            "night_cost": 0.1,
        },
    )
    assert result["step_id"] == "rate_tod_capture"
    assert result["errors"] == {"base": "overlap_in_time_period"}
    # A gap is refused too.
    result = await _submit(
        hass,
        result,
        {
            "valid_from": "07:00:00",
            "valid_to": "22:00:00",
            "cost": 0.3,
            "night_valid_from": "23:00:00",
            "night_valid_to": "07:00:00",
            "night_cost": 0.1,
        },
    )
    assert result["errors"] == {"base": "gap_in_time_period"}
    # A zero price is refused too.
    result = await _submit(
        hass,
        result,
        {"valid_from": "07:00:00", "valid_to": "22:00:00", "cost": 0, "night_cost": 1},
    )
    assert result["errors"] == {"cost": "price_invalid"}
    assert simulator_state.calls["connect"] == calls

    # The night fills the rest of the day when its times are left out.
    result = await _submit(
        hass,
        result,
        {
            "valid_from": "07:00:00",
            "valid_to": "22:00:00",
            "cost": 0.3,
            "night_cost": 0.1,
        },
    )
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["rates"] == (
        "- 00:00 to 07:00: 0.1000 GBP/kWh\n"
        "- 07:00 to 22:00: 0.3000 GBP/kWh\n"
        "- 22:00 to 00:00: 0.1000 GBP/kWh"
    )
    assert result["description_placeholders"]["provider"] == "Acme Power"
    capture = _session(simulator_state).capture
    assert [(p.start, p.end, p.cost) for p in capture.periods] == [
        (420, 1320, 0.3),
        (1320, 420, 0.1),
    ]


async def test_address_change_market_region(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """ADDRESS_CHANGE, Connect's address error, MARKET with surcharge and region."""
    danish = add_provider(simulator_state, "Nordlys", country_codes=("DK",))
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    result = await _choose(hass, result, "edit")
    result = await _choose(hass, result, "address_change")
    assert result["step_id"] == "postal_address_capture"
    assert set(result["data_schema"].schema) >= {"city", "country_code", "post_code"}

    # A country Connect has no time zone for: its error, with its message, here.
    calls = simulator_state.calls["connect"]
    result = await _submit(hass, result, {"city": "Tokyo", "country_code": "JP"})
    assert simulator_state.calls["connect"] == calls + 1
    assert result["step_id"] == "postal_address_capture"
    assert result["errors"] == {"base": "connect_error"}
    assert result["description_placeholders"]["connect_code"] == "timezone_not_found"
    assert result["description_placeholders"]["connect_message"] == (
        "No time zone is known for this address"
    )

    result = await _submit(
        hass,
        result,
        {"address_line1": "Nyhavn 1", "city": "København", "country_code": "dk"},
    )
    result = await _choose(hass, result, "provider_select")
    result = await _submit(hass, result, {"provider": danish.id})
    result = await _submit(hass, result, {"options": "MARKET"})
    assert result["step_id"] == "surcharge_capture"
    result = await _submit(hass, result, {"fixed": 0.02, "percentage": 10})
    assert result["step_id"] == "region_select"
    result = await _submit(hass, result, {"region": "DK2"})
    assert result["step_id"] == "tariff_summary"
    capture = _session(simulator_state).capture
    assert capture.postal_address["country_code"] == "DK"
    assert capture.surcharge == {"fixed": 0.02, "percentage": 10.0}
    assert capture.region == "DK2"


async def test_optional_pages_name_and_contract_term(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """tariff_name_capture and contract_term_capture, when the token asks for them."""
    entry = await _loaded(hass, connect_entry, freezer)
    with patch.object(
        connect_flow,
        "ROUTE_OPTIONS",
        ConnectRouteOptions(tariff_name_capture=True, contract_term_capture=True),
    ):
        result = await _to_providers(hass, await _tariff_settings(hass, entry))
        result = await _submit(hass, result, {"provider": providers.manual_id})
        result = await _submit(hass, result, {"options": "FIXED"})
        result = await _submit(hass, result, {"cost": 0.245})
        assert result["step_id"] == "tariff_name_capture"
        result = await _submit(hass, result, {"tariff": "Fix 24"})
        assert result["step_id"] == "contract_term_capture"
        result = await _submit(
            hass,
            result,
            {"contract_end_date": "2027-03-31", "contract_term_type": "FIXED"},
        )
    assert result["step_id"] == "tariff_summary"
    placeholders = result["description_placeholders"]
    assert placeholders["tariff"] == "Fix 24"
    assert placeholders["contract_end"] == "2027-03-31"
    capture = _session(simulator_state).capture
    assert capture.cost == 0.245
    assert capture.contract_end_date == "2027-03-31T00:00:00Z"
    assert capture.contract_term_type == "FIXED"


async def test_disconnect_needs_confirmation(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """DISCONNECT is confirmed first; then the tariff is gone and prices with it."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    result = await _choose(hass, result, "disconnect")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "disconnect"
    assert (
        simulator_state.statuses[HOME_ID]["commodity_import"]["status"] == "CONNECTED"
    )
    result = await _submit(hass, result, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_closed"
    assert simulator_state.statuses[HOME_ID]["commodity_import"]["status"] == (
        "NOT_CONNECTED"
    )
    assert _session(simulator_state).complete_action == "DISCONNECT"
    await hass.async_block_till_done()
    assert _state(hass, "sensor.home_current_price") == "unavailable"


@pytest.mark.parametrize("outcome", ["PENDING", "FAILED"])
async def test_direct_login_outcomes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
    outcome: str,
) -> None:
    """A DIRECT login that is pending or failed: its page, text and actions."""
    direct = simulator_state.connect.providers[providers.direct_id].direct
    assert direct is not None
    direct.outcome = outcome  # type: ignore[assignment]
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.direct_id})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    back = await follow_provider_login(
        result["url"], providers.direct_username, providers.direct_password
    )
    client = await hass_client_no_auth()
    response = await client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert response.status == HTTPStatus.OK
    result = await hass.config_entries.options.async_configure(result["flow_id"])
    route = {
        "PENDING": "tariff_connection_pending",
        "FAILED": "tariff_connection_failed",
    }[outcome]
    assert result["step_id"] == route
    assert result["menu_options"] == ["edit", "disconnect", "back", "close"]
    assert result["description_placeholders"]["provider"] == "Octopus Energy"
    assert result["description_placeholders"]["connection_type"] == "DIRECT"
    # EDIT from here chooses again.
    result = await _choose(hass, result, "edit")
    assert result["step_id"] == "provider_select_menu"


async def test_direct_login_declined_falls_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Declining the provider's login falls back to its library (connect.md §3.6)."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.direct_id})
    back = await follow_provider_login(result["url"], None, None, decline=True)
    client = await hass_client_no_auth()
    parts = urlsplit(back)
    assert (await client.get(f"{parts.path}?{parts.query}")).status == HTTPStatus.OK
    result = await hass.config_entries.options.async_configure(result["flow_id"])
    assert result["step_id"] == "tariff_select_menu"


async def test_redirect_that_carries_the_token(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """fp_cot is added to the provider's URL only where Connect left it out (§3.2)."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.direct_id})
    query = parse_qs(urlsplit(result["url"]).query)
    assert query["fp_cot"] == [_session(simulator_state).id]
    assert len(query[STATE_PARAM]) == 1

    simulator_state.connect.redirect_url_has_token = True
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.direct_id})
    query = parse_qs(urlsplit(result["url"]).query)
    assert query["fp_cot"] == [_session(simulator_state).id]


@pytest.mark.parametrize("end_route", ["session_complete", "complete_tariff"])
async def test_session_complete_ends_the_flow(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    end_route: str,
) -> None:
    """Zero's `session_complete` and the legacy `complete_tariff` end it too (§2, §4)."""
    simulator_state.connect.end_route = end_route  # type: ignore[assignment]
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    result = await _choose(hass, result, "wrong_tariff")
    prices_calls = simulator_state.calls["prices"]
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_closed"
    assert _session(simulator_state).route == end_route
    await hass.async_block_till_done()
    # Ended as with Anode's redirect: the location's prices are read again.
    assert simulator_state.calls["prices"] > prices_calls


# -- faults -------------------------------------------------------------------------------


async def test_expired_token_starts_a_new_session(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """An expired token: a new session, said so, and on from its first page."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    first = _session(simulator_state)
    first.expires_at = NOW
    result = await _submit(hass, result, {"provider": providers.library_id})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "connect_restarted"
    second = _session(simulator_state)
    assert second.id != first.id
    assert second.location_id == HOME_ID
    result = await _submit(hass, result, {})
    assert result["step_id"] == "tariff_summary"


async def test_connect_unreachable_changes_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """Connect down: cannot_connect on the same step; resubmitting goes on."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    simulator_state.inject_fault("connect", status=503)
    result = await _submit(hass, result, {"provider": providers.library_id})
    assert result["step_id"] == "provider_select"
    assert result["errors"] == {"base": "cannot_connect"}
    assert _session(simulator_state).route == "provider_select"
    result = await _submit(hass, result, {"provider": providers.library_id})
    assert result["step_id"] == "tariff_select_menu"

    # A menu's action that fails is offered again on a retry step.
    simulator_state.inject_fault("connect", status=503)
    result = await _choose(hass, result, "tariff_missing")
    assert result["step_id"] == "connect_retry"
    assert result["errors"] == {"base": "cannot_connect"}
    result = await _submit(hass, result, {})
    assert result["step_id"] == "tariff_structure_select"


async def test_flatpeak_unreachable_at_start(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """No token can be created: a retry step, and no session was opened."""
    entry = await _loaded(hass, connect_entry, freezer)
    simulator_state.inject_fault("connect_token_create", status=503, times=None)
    result = await _tariff_settings(hass, entry)
    assert result["step_id"] == "connect_retry"
    assert result["errors"] == {"base": "cannot_connect"}
    assert simulator_state.connect.tokens == {}
    simulator_state.clear_faults()
    result = await _submit(hass, result, {})
    assert result["step_id"] == "tariff_summary"


async def test_refused_key_starts_reauth(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """Flatpeak refuses the key when the token is created: reauth, as elsewhere."""
    entry = await _loaded(hass, connect_entry, freezer)
    simulator_state.inject_fault("connect_token_create", status=401, times=None)
    result = await _tariff_settings(hass, entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_required"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_live_mode_must_match(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
) -> None:
    """A token of the other mode (live or test) than the entry's is not used."""
    entry = await _loaded(hass, connect_entry, freezer)
    create = FlatpeakClient.create_connect_token

    async def other_mode(client: FlatpeakClient, **kwargs: Any) -> ConnectToken:
        return replace(await create(client, **kwargs), live_mode=False)

    with patch.object(FlatpeakClient, "create_connect_token", other_mode):
        result = await _tariff_settings(hass, entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_live_mode_mismatch"


async def test_two_flows_for_one_location(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Two sessions for Home at once keep their own pages and provider logins."""
    entry = await _loaded(hass, connect_entry, freezer)
    first = await _to_providers(hass, await _tariff_settings(hass, entry))
    first_token = _session(simulator_state)
    second = await _to_providers(hass, await _tariff_settings(hass, entry))
    second_token = _session(simulator_state)
    assert first_token.id != second_token.id

    first = await _submit(hass, first, {"provider": providers.direct_id})
    second = await _submit(hass, second, {"provider": providers.library_id})
    assert first["type"] is FlowResultType.EXTERNAL_STEP
    assert second["step_id"] == "tariff_select_menu"

    # The first flow's login comes back and advances the first flow only.
    back = await follow_provider_login(
        first["url"], providers.direct_username, providers.direct_password
    )
    client = await hass_client_no_auth()
    parts = urlsplit(back)
    assert (await client.get(f"{parts.path}?{parts.query}")).status == HTTPStatus.OK
    first = await hass.config_entries.options.async_configure(first["flow_id"])
    assert first["step_id"] == "tariff_summary"
    assert first["description_placeholders"]["connection_type"] == "DIRECT"
    second = await _choose(hass, second, "tariff_select")
    second = await _submit(hass, second, {"tariff": providers.economy7_tariff_id})
    assert second["step_id"] == "tariff_summary"
    assert second["description_placeholders"]["tariff"] == "Economy 7"
    assert first_token.capture.connection_type == "DIRECT"
    assert second_token.capture.connection_type == "LIBRARY"


# -- adding a location ----------------------------------------------------------------------


async def _add_location(
    hass: HomeAssistant, result: Result, providers: ConnectProviders, name: str
) -> Result:
    """Walk Connect from the name of a new location to its summary: EDF, fixed rate."""
    assert result["step_id"] == "add_location"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"location_reference_id": name}
    )
    assert result["step_id"] == "postal_address_capture"
    result = await _submit(
        hass,
        result,
        {
            "address_line1": "1 Sea Lane",
            "city": "Whitby",
            "post_code": "YO21 3PU",
            "country_code": "GB",
        },
    )
    result = await _choose(hass, result, "provider_select")
    result = await _submit(hass, result, {"provider": providers.manual_id})
    result = await _submit(hass, result, {"options": "FIXED"})
    result = await _submit(hass, result, {"cost": 0.2})
    assert result["step_id"] == "tariff_summary"
    return result


async def test_add_location_following_all(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """A new location is followed at once, its id from the token, not the webhook."""
    entry = await _loaded(
        hass, connect_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True}
    )
    hass.config.location_name = "Home"
    result = await _options(hass, entry, "add_location")
    # Home Assistant's name for the home is taken by Home: the next one is offered.
    suggested = next(iter(result["data_schema"].schema)).description
    assert suggested == {"suggested_value": "Home 2"}
    result = await _add_location(hass, result, providers, "Cottage")
    token = _session(simulator_state)
    assert token.location_reference_id == "Cottage"
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "location_added"
    new_id = token.location_id
    assert new_id in entry.runtime_data.locations
    await hass.async_block_till_done()
    assert _state(hass, "sensor.cottage_current_price") == "0.2"
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, new_id), entry.entry_id
    )
    assert device is not None
    assert device.name == "Cottage"


async def test_add_location_to_chosen_locations(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """An entry of chosen locations gets the new one in its options, and reloads."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _options(hass, entry, "add_location")
    result = await _add_location(hass, result, providers, "Cottage")
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    new_id = _session(simulator_state).location_id
    assert entry.options[CONF_LOCATIONS] == [HOME_ID, new_id]
    await hass.async_block_till_done()
    assert _state(hass, "sensor.cottage_current_price") == "0.2"


async def test_set_up_adds_first_location(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    providers: ConnectProviders,
) -> None:
    """An account without locations adds its first from set-up, and follows it."""
    simulator_state.add_account("acc_new", ["sk_live_new"])
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "account_id": "acc_new",
            "api_key": "sk_live_new",
            "advanced": {
                "api_url": simulator.url,
                CONF_CONNECT_API_URL: simulator.connect_url,
            },
        },
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "no_locations"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "add_location"}
    )
    assert result["step_id"] == "add_location"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"location_reference_id": "Flat"}
    )
    assert result["step_id"] == "postal_address_capture"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"city": "Leeds", "country_code": "GB"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "provider_select"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": providers.library_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "tariff_select"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"tariff": providers.economy7_tariff_id}
    )
    assert result["step_id"] == "tariff_summary"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "close"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    new_id = _session(simulator_state).location_id
    assert result["options"][CONF_LOCATIONS] == [new_id]
    assert result["options"][CONF_FOLLOW_ALL_LOCATIONS] is True
    assert result["result"].data[CONF_CONNECT_API_URL] == simulator.connect_url
    await hass.async_block_till_done()
    assert hass.states.get("sensor.flat_current_price") is not None


# -- Repairs: fix it here ---------------------------------------------------------------------


async def _raise_problem(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    hass_client_no_auth: ClientSessionGenerator,
    event_type: str,
) -> None:
    """Deliver a tariff event Flatpeak has, as Flatpeak does."""
    event = simulator_state.make_tariff_event(event_type, HOME_ID)
    client = await hass_client_no_auth()
    response = await client.post(WEBHOOK_PATH, json=event)
    assert response.status == HTTPStatus.OK
    await hass.async_block_till_done(wait_background_tasks=True)


async def _fix(hass: HomeAssistant, issue_id: str) -> Result:
    """Open an issue's fix flow and choose to fix it here."""
    manager = hass.data[REPAIRS_DOMAIN]["flow_manager"]
    result: Result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["connect", "confirm"]
    step: Result = await manager.async_configure(
        result["flow_id"], {"next_step_id": "connect"}
    )
    return step


async def _repair(hass: HomeAssistant, result: Result, data: dict[str, Any]) -> Result:
    manager = hass.data[REPAIRS_DOMAIN]["flow_manager"]
    step: Result = await manager.async_configure(result["flow_id"], data)
    return step


def _issues(hass: HomeAssistant) -> list[str]:
    return [i for (domain, i) in ir.async_get(hass).issues if domain == DOMAIN]


async def test_repair_expired_tariff_here(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Expired: Connect opens at the provider choice; a fixed rate clears the issue."""
    simulator_state.set_status(HOME_ID, contract_end_date=EXPIRED_END)
    await _loaded(hass, connect_entry, freezer)
    await _raise_problem(hass, simulator_state, hass_client_no_auth, "tariff.expired")
    assert _state(hass, "binary_sensor.home_tariff_expired") == STATE_ON
    tariff_id = simulator_state.tariff_id(HOME_ID)

    result = await _fix(hass, f"tariff_expired_{HOME_ID}")
    token = _session(simulator_state)
    assert (token.location_id, token.tariff_id, token.edit_tariff) == (
        HOME_ID,
        tariff_id,
        True,
    )
    assert result["step_id"] == "provider_select_menu"
    assert result["description_placeholders"]["location"] == "Home"
    result = await _repair(hass, result, {"next_step_id": "provider_select"})
    result = await _repair(hass, result, {"provider": providers.manual_id})
    result = await _repair(hass, result, {"options": "FIXED"})
    result = await _repair(hass, result, {"cost": 0.27})
    assert result["step_id"] == "tariff_summary"
    result = await _repair(hass, result, {"next_step_id": "close"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _issues(hass) == []
    assert _state(hass, "binary_sensor.home_tariff_expired") == STATE_OFF
    assert _state(hass, "sensor.home_current_price") == "0.27"


async def test_repair_fetch_failed_here(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Fetch failed: Connect opens on the failed page; a library tariff fixes it."""
    simulator_state.set_status(HOME_ID, status="ERROR", contract_end_date=FUTURE_END)
    await _loaded(hass, connect_entry, freezer)
    await _raise_problem(
        hass, simulator_state, hass_client_no_auth, "tariff.fetch.failed"
    )
    result = await _fix(hass, f"tariff_fetch_failed_{HOME_ID}")
    assert result["step_id"] == "tariff_connection_failed"
    result = await _repair(hass, result, {"next_step_id": "edit"})
    result = await _repair(hass, result, {"next_step_id": "provider_select"})
    result = await _repair(hass, result, {"provider": providers.library_id})
    result = await _repair(hass, result, {"next_step_id": "tariff_select"})
    result = await _repair(hass, result, {"tariff": providers.standard_tariff_id})
    result = await _repair(hass, result, {"next_step_id": "close"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _issues(hass) == []
    assert _state(hass, "binary_sensor.home_tariff_fetch_failed") == STATE_OFF


async def test_repair_upgrade_through_provider_login(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Upgrade: the summary, EDIT, the DIRECT provider's login and back: issue closed."""
    simulator_state.set_status(
        HOME_ID, connection_type="LIBRARY", contract_end_date=FUTURE_END
    )
    await _loaded(hass, connect_entry, freezer)
    await _raise_problem(
        hass, simulator_state, hass_client_no_auth, "tariff.connection.upgrade"
    )
    result = await _fix(hass, f"tariff_connection_upgrade_{HOME_ID}")
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["connection_type"] == "LIBRARY"
    result = await _repair(hass, result, {"next_step_id": "edit"})
    result = await _repair(hass, result, {"next_step_id": "provider_select"})
    result = await _repair(hass, result, {"provider": providers.direct_id})
    # Repairs' dialog shows no text on an external step: a step says what comes first.
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "provider_login"
    assert result["description_placeholders"]["provider"] == "Octopus Energy"
    result = await _repair(hass, result, {})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["step_id"] == "session_redirect"
    assert result["url"].startswith(f"{simulator_state.connect.base_url}/providers/")

    back = await follow_provider_login(
        result["url"], providers.direct_username, providers.direct_password
    )
    assert back.startswith(
        "http://homeassistant.local:8123/api/flatpeak/connect/return?"
    )
    client = await hass_client_no_auth()
    parts = urlsplit(back)
    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status == HTTPStatus.OK
    assert "Close this tab" in await response.text()
    result = await _repair(hass, result, {})
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["connection_type"] == "DIRECT"
    result = await _repair(hass, result, {"next_step_id": "close"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert _issues(hass) == []
    assert _state(hass, "binary_sensor.home_connection_upgrade_available") == STATE_OFF


async def test_repair_still_broken_after_connect(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Leaving Connect without fixing it keeps the issue, and says so."""
    simulator_state.set_status(
        HOME_ID, connection_type="LIBRARY", contract_end_date=FUTURE_END
    )
    await _loaded(hass, connect_entry, freezer)
    await _raise_problem(
        hass, simulator_state, hass_client_no_auth, "tariff.connection.upgrade"
    )
    result = await _fix(hass, f"tariff_connection_upgrade_{HOME_ID}")
    result = await _repair(hass, result, {"next_step_id": "close"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["errors"] == {"base": "still_present"}
    assert _issues(hass) == [f"tariff_connection_upgrade_{HOME_ID}"]


async def test_old_entry_without_connect_url(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
) -> None:
    """An entry of the previous release has no connect_api_url: the default serves."""
    data = dict(connect_entry.data)
    del data[CONF_CONNECT_API_URL]
    old = MockConfigEntry(
        domain=DOMAIN,
        title=connect_entry.title,
        unique_id=connect_entry.unique_id,
        data=data,
        options=dict(connect_entry.options),
    )
    entry = await _loaded(hass, old, freezer)
    assert entry.state is ConfigEntryState.LOADED
    result = await entry.start_reconfigure_flow(hass)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
    }
    assert suggested[CONF_CONNECT_API_URL] == "https://connect.flatpeak.com"
    assert (entry.data["account_id"], entry.data["api_key"]) == (ACCOUNT_ID, LIVE_KEY)


async def test_tariff_settings_status_unreadable(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """The status cannot be read: the choice stays, with cannot_connect; then it opens."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _options(hass, entry, "tariff_settings")
    simulator_state.inject_fault("location_status", status=503)
    result = await _submit(hass, result, {"location_id": HOME_ID})
    assert result["step_id"] == "tariff_settings"
    assert result["errors"] == {"base": "cannot_connect"}
    assert simulator_state.connect.tokens == {}
    result = await _submit(hass, result, {"location_id": HOME_ID})
    assert result["step_id"] == "tariff_summary"


async def test_tariff_settings_without_locations(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
) -> None:
    """An account without locations has no tariff settings to open: add one instead."""
    entry = await _loaded(hass, connect_entry, freezer)
    with patch.object(FlatpeakClient, "list_locations", return_value=[]):
        result = await _options(hass, entry, "tariff_settings")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_locations"


async def test_add_location_found_by_name(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """The token cannot be read back: the new location is found by its name."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _options(hass, entry, "add_location")
    result = await _add_location(hass, result, providers, "Cottage")
    simulator_state.inject_fault("connect_tariff_token_retrieve", status=500)
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_LOCATIONS] == [
        HOME_ID,
        _session(simulator_state).location_id,
    ]
    await hass.async_block_till_done()


async def test_set_up_refuses_plain_http_connect_url(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """The Connect API URL is held to the API URL's rule: https, or this machine."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "account_id": ACCOUNT_ID,
            "api_key": LIVE_KEY,
            "advanced": {
                "api_url": simulator.url,
                CONF_CONNECT_API_URL: "http://connect.example.com",
            },
        },
    )
    assert result["errors"] == {"base": "insecure_api_url"}


# -- pages the simple walks do not reach ----------------------------------------------


ADVANCED_TARIFF = {
    "market_rates": False,
    "contract_start_date": None,
    "contract_end_date": None,
    "schedule": [
        {
            "months": ["All"],
            "dates": [],
            "days_and_hours": [
                {
                    "days": ["All"],
                    "hours": [
                        {
                            "valid_from": "00:00:00",
                            "valid_to": "00:00:00",
                            "rate": [
                                {
                                    "fixed": 0.19,
                                    "to_kwh": None,
                                    "surcharge_fixed": 0,
                                    "surcharge_percentage": 0,
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ],
}


async def test_advanced_capture(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """ADVANCED, when the token asks for it: the schedule as an object (§2)."""
    entry = await _loaded(hass, connect_entry, freezer)
    with patch.object(
        connect_flow,
        "ROUTE_OPTIONS",
        ConnectRouteOptions(advanced_tariff_capture=True),
    ):
        result = await _to_providers(hass, await _tariff_settings(hass, entry))
    assert _session(simulator_state).route_options == {"advanced_tariff_capture": True}
    result = await _submit(hass, result, {"provider": providers.manual_id})
    options = result["data_schema"].schema["options"].config["options"]
    assert options == ["FIXED", "TIME_OF_DAY", "MARKET", "ADVANCED"]
    result = await _submit(hass, result, {"options": "ADVANCED"})
    assert result["step_id"] == "rate_advanced_capture"
    assert result["description_placeholders"]["provider"] == "EDF Energy"
    (field,) = result["data_schema"].schema
    # Connect's empty tariff is offered to fill in.
    assert field.description["suggested_value"]["schedule"] == []

    # Connect refuses a schedule without entries: said on the same step, kept.
    empty = {**ADVANCED_TARIFF, "schedule": []}
    result = await _submit(hass, result, {"tariff": empty})
    assert result["step_id"] == "rate_advanced_capture"
    assert result["errors"] == {"base": "connect_error"}
    assert result["description_placeholders"]["connect_code"] == "data_json_invalid"
    (field,) = result["data_schema"].schema
    assert field.description["suggested_value"] == empty

    result = await _submit(hass, result, {"tariff": ADVANCED_TARIFF})
    assert result["step_id"] == "tariff_summary"
    placeholders = result["description_placeholders"]
    assert placeholders["structure"] == "ADVANCED"
    assert placeholders["rates"] == "- All day: 0.1900 GBP/kWh"
    assert _session(simulator_state).capture.advanced == ADVANCED_TARIFF


async def test_page_of_a_later_release(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """A route Connect adds later is a menu of the actions known here (§2, §7)."""
    simulator_state.connect.later_pages["tariff_summary"] = LaterPage(
        route="tariff_review",
        actions=("CONTINUE", "EDIT", "BACK", "CLOSE"),
        data={"review": {"deadline": "2026-12-01"}},
    )
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.manual_id})
    result = await _submit(hass, result, {"options": "FIXED"})
    result = await _submit(hass, result, {"cost": 0.22})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "connect_page"
    # CONTINUE means nothing here: the known actions and a way out are offered.
    assert result["menu_options"] == ["edit", "back", "close"]
    assert result["description_placeholders"]["route"] == "tariff_review"
    assert result["description_placeholders"]["location"] == "Home"

    # BACK: the page before it; on from there, Connect does not show it again.
    result = await _choose(hass, result, "back")
    assert result["step_id"] == "rate_fixed_capture"
    result = await _submit(hass, result, {"cost": 0.23})
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["rates"] == "- All day: 0.2300 GBP/kWh"

    # Its known actions work as anywhere: EDIT from a later page chooses again.
    simulator_state.connect.later_pages["provider_select"] = LaterPage(
        route="provider_news", actions=("EDIT", "CLOSE")
    )
    result = await _choose(hass, result, "edit")
    assert result["step_id"] == "connect_page"
    assert result["menu_options"] == ["edit", "close"]
    result = await _choose(hass, result, "edit")
    assert result["step_id"] == "provider_select_menu"
    result = await _choose(hass, result, "close")
    assert result["reason"] == "connect_closed"


async def test_error_route_shown_on_the_step(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """Connect's `error` render route reads as its error object: on the same step (§2)."""
    simulator_state.connect.error_route = True
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    result = await _choose(hass, result, "edit")
    result = await _choose(hass, result, "address_change")
    # A city of spaces is no city: Connect is asked, and answers city_missing.
    result = await _submit(hass, result, {"city": "  ", "country_code": "GB"})
    assert result["step_id"] == "postal_address_capture"
    assert result["errors"] == {"base": "connect_error"}
    placeholders = result["description_placeholders"]
    assert (placeholders["connect_code"], placeholders["connect_message"]) == (
        "city_missing",
        "city is required",
    )
    assert _session(simulator_state).route == "postal_address_capture"
    result = await _submit(hass, result, {"city": "Leeds", "country_code": "GB"})
    assert result["step_id"] == "provider_select_menu"


async def _login_back(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    result: Result,
    providers: ConnectProviders,
) -> Result:
    """Log in on the provider's page and come back, as the browser does."""
    assert result["type"] is FlowResultType.EXTERNAL_STEP, result
    back = await follow_provider_login(
        result["url"], providers.direct_username, providers.direct_password
    )
    client = await hass_client_no_auth()
    parts = urlsplit(back)
    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status == HTTPStatus.OK
    return await hass.config_entries.options.async_configure(result["flow_id"])


async def test_dismiss_direct_from_pending(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """DISMISS_DIRECT, where the pending page lists it: the provider's library."""
    simulator_state.connect.web_actions = True
    direct = simulator_state.connect.providers[providers.direct_id].direct
    assert direct is not None
    direct.outcome = "PENDING"
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.direct_id})
    result = await _login_back(hass, hass_client_no_auth, result, providers)
    assert result["step_id"] == "tariff_connection_pending"
    assert result["menu_options"] == [
        "edit",
        "disconnect",
        "dismiss_direct",
        "back",
        "close",
    ]
    result = await _choose(hass, result, "dismiss_direct")
    assert result["step_id"] == "tariff_select_menu"
    result = await _choose(hass, result, "tariff_select")
    options = result["data_schema"].schema["tariff"].config["options"]
    assert [option["label"] for option in options] == [
        "Octopus Go: Cheap nights from 00:30 to 05:30"
    ]
    result = await _submit(hass, result, {"tariff": options[0]["value"]})
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["connection_type"] == "LIBRARY"


async def test_reconnect_from_failed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """RECONNECT, where the failed page lists it: the provider's login again."""
    simulator_state.connect.web_actions = True
    direct = simulator_state.connect.providers[providers.direct_id].direct
    assert direct is not None
    direct.outcome = "FAILED"
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _to_providers(hass, await _tariff_settings(hass, entry))
    result = await _submit(hass, result, {"provider": providers.direct_id})
    first_url = result["url"]
    result = await _login_back(hass, hass_client_no_auth, result, providers)
    assert result["step_id"] == "tariff_connection_failed"
    assert result["menu_options"] == [
        "edit",
        "disconnect",
        "reconnect",
        "back",
        "close",
    ]
    direct.outcome = "CONNECTED"
    result = await _choose(hass, result, "reconnect")
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["step_id"] == "session_redirect"
    # A new state for the new login: the first one was used up.
    assert (
        parse_qs(urlsplit(result["url"]).query)[STATE_PARAM]
        != parse_qs(urlsplit(first_url).query)[STATE_PARAM]
    )
    result = await _login_back(hass, hass_client_no_auth, result, providers)
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["connection_type"] == "DIRECT"
    assert result["description_placeholders"]["tariff"] == "Agile Octopus"


# -- Connect's validation errors, each on the step that caused it ------------------------

# How each form page is reached from the tariff summary (with every optional page on).
_EDIT = ("choose", "edit")
_PROVIDERS = ("choose", "provider_select")
PAGE_PATHS: dict[str, list[tuple[str, Any]]] = {
    "postal_address_capture": [_EDIT, ("choose", "address_change")],
    "provider_select": [_EDIT, _PROVIDERS],
    "provider_name_capture": [
        _EDIT,
        ("choose", "provider_missing"),
        ("choose", "provider_name_capture"),
    ],
    "tariff_select": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "library"}),
        ("choose", "tariff_select"),
    ],
    "tariff_structure_select": [_EDIT, _PROVIDERS, ("submit", {"provider": "manual"})],
    "rate_fixed_capture": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "manual"}),
        ("submit", {"options": "FIXED"}),
    ],
    "rate_tod_capture": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "manual"}),
        ("submit", {"options": "TIME_OF_DAY"}),
    ],
    "rate_advanced_capture": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "manual"}),
        ("submit", {"options": "ADVANCED"}),
    ],
    "surcharge_capture": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "manual"}),
        ("submit", {"options": "MARKET"}),
    ],
    "region_select": [
        _EDIT,
        ("choose", "address_change"),
        ("submit", {"city": "Aarhus", "country_code": "DK"}),
        _PROVIDERS,
        ("submit", {"provider": "danish"}),
        ("submit", {"options": "MARKET"}),
        ("submit", {"fixed": 0.02, "percentage": 10}),
    ],
    "tariff_name_capture": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "manual"}),
        ("submit", {"options": "FIXED"}),
        ("submit", {"cost": 0.2}),
    ],
    "contract_term_capture": [
        _EDIT,
        _PROVIDERS,
        ("submit", {"provider": "manual"}),
        ("submit", {"options": "FIXED"}),
        ("submit", {"cost": 0.2}),
        ("submit", {"tariff": "Fix 20"}),
    ],
}
# What is typed on each page when Connect is to refuse it by an injected answer.
VALID_INPUT: dict[str, dict[str, Any]] = {
    "postal_address_capture": {"city": "Leeds", "country_code": "GB"},
    "provider_select": {"provider": "manual"},
    "provider_name_capture": {"provider": "Acme Power"},
    "tariff_select": {"tariff": "standard"},
    "tariff_structure_select": {"options": "FIXED"},
    "rate_fixed_capture": {"cost": 0.2},
    "rate_tod_capture": {
        "valid_from": "07:00:00",
        "valid_to": "22:00:00",
        "cost": 0.3,
        "night_cost": 0.1,
    },
    "rate_advanced_capture": {"tariff": ADVANCED_TARIFF},
    "surcharge_capture": {"fixed": 0.02, "percentage": 10},
    "region_select": {"region": "DK2"},
    "tariff_name_capture": {"tariff": "Fix 20"},
    "contract_term_capture": {
        "contract_end_date": "2027-03-31",
        "contract_term_type": "FIXED",
    },
}
# connect.md §2, each page's error codes (Zero's and Busbar's extra ones too). Where
# what is typed here reaches Connect as it is, the input makes the simulator refuse
# it by its own rules; otherwise (the form's own checks stop it first) the simulator
# is made to answer the code, to prove how it is shown.
PAGE_ERRORS: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
    "postal_address_capture": [
        ("city_missing", {"city": "   ", "country_code": "GB"}),
        ("country_code_missing", {"city": "Leeds", "country_code": " "}),
        ("country_code_invalid", {"city": "Leeds", "country_code": "GBR"}),
        ("timezone_not_found", {"city": "Tokyo", "country_code": "JP"}),
        ("data_json_invalid", None),
        ("address_line1_missing", None),
        ("post_code_missing", None),
        ("geo_location_not_found", None),
    ],
    "provider_select": [
        ("provider_not_found", {"provider": "Acme Power"}),
        ("provider_id_invalid", {"provider": "danish"}),
        ("provider_id_missing", None),
        ("data_json_invalid", None),
    ],
    "provider_name_capture": [
        ("provider_name_missing", {"provider": "   "}),
        ("data_json_invalid", None),
    ],
    "tariff_select": [
        ("tariff_id_missing", None),
        ("tariff_not_found", None),
        ("tariff_id_invalid", None),
        ("data_json_invalid", None),
    ],
    "tariff_structure_select": [
        ("option_invalid", None),
        ("option_not_supported", None),
        ("data_json_invalid", None),
    ],
    "rate_fixed_capture": [
        ("cost_value_zero", None),
        ("cost_value_negative", None),
        ("data_json_invalid", None),
    ],
    "rate_tod_capture": [
        ("cost_value_zero", None),
        ("cost_value_negative", None),
        ("valid_from_invalid", None),
        ("valid_to_invalid", None),
        ("gap_in_time_period", None),
        ("incomplete_time_period", None),
        ("data_json_invalid", None),
    ],
    "rate_advanced_capture": [
        ("data_json_invalid", {"tariff": {**ADVANCED_TARIFF, "schedule": []}}),
    ],
    "surcharge_capture": [
        ("surcharge_percentage_invalid", None),
        ("market_region_invalid", None),
        ("geo_location_not_found", None),
        ("data_json_invalid", None),
    ],
    "region_select": [("data_json_invalid", None)],
    "tariff_name_capture": [
        ("tariff_name_missing", {"tariff": "   "}),
        ("data_json_invalid", None),
    ],
    "contract_term_capture": [
        ("date_format_invalid", None),
        ("data_json_invalid", None),
    ],
}


def _resolve(
    data: dict[str, Any], providers: ConnectProviders, danish: str
) -> dict[str, Any]:
    """Put the seeded ids in for the names the tables use."""
    ids = {
        "library": providers.library_id,
        "manual": providers.manual_id,
        "standard": providers.standard_tariff_id,
        "danish": danish,
    }
    return {
        key: ids.get(value, value) if isinstance(value, str) else value
        for key, value in data.items()
    }


def _refuse_next(simulator_state: SimulatorState, route: str, code: str) -> str:
    """Make Connect answer the next request with a validation error object (§2)."""
    message = f"Flatpeak says: {code.replace('_', ' ')}"
    body = error_object(
        simulator_state,
        ApiError(
            400,
            code,
            message,
            error_type="invalid_request",
            context=f"connect.{route}",
            live_mode=True,
        ),
    )
    body["connect_token"] = _session(simulator_state).id
    simulator_state.inject_fault("connect", status=400, body=body)
    return message


@pytest.mark.parametrize("page", list(PAGE_ERRORS))
async def test_connect_errors_on_their_step(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    page: str,
) -> None:
    """Each code Connect answers a page with shows on that step, with its message."""
    danish = add_provider(simulator_state, "Nordlys", country_codes=("DK",)).id
    entry = await _loaded(hass, connect_entry, freezer)
    with patch.object(
        connect_flow,
        "ROUTE_OPTIONS",
        ConnectRouteOptions(
            advanced_tariff_capture=True,
            tariff_name_capture=True,
            contract_term_capture=True,
        ),
    ):
        result = await _tariff_settings(hass, entry)
    for kind, value in PAGE_PATHS[page]:
        if kind == "choose":
            result = await _choose(hass, result, value)
        else:
            result = await _submit(hass, result, _resolve(value, providers, danish))
    assert result["step_id"] == page

    valid = _resolve(VALID_INPUT[page], providers, danish)
    for code, refused in PAGE_ERRORS[page]:
        calls = simulator_state.calls["connect"]
        message: str | None = None
        if refused is None:
            message = _refuse_next(simulator_state, page, code)
            typed = valid
        else:
            typed = _resolve(refused, providers, danish)
        result = await _submit(hass, result, typed)
        assert simulator_state.calls["connect"] == calls + 1, code
        assert result["type"] is FlowResultType.FORM, (code, result)
        assert result["step_id"] == page, code
        assert result["errors"] == {"base": "connect_error"}, code
        placeholders = result["description_placeholders"]
        assert placeholders["connect_code"] == code
        if message is not None:
            assert placeholders["connect_message"] == message
        else:
            assert placeholders["connect_message"], code
        # What was typed is offered again, and Connect is still on the page.
        suggested = {
            str(key): key.description["suggested_value"]
            for key in result["data_schema"].schema
            if key.description and "suggested_value" in key.description
        }
        assert {k: v for k, v in typed.items() if k in suggested} == {
            k: suggested[k] for k in typed if k in suggested
        }, code
        assert _session(simulator_state).route == page, code

    # Nothing was lost: the same page goes on once Connect accepts.
    result = await _submit(hass, result, valid)
    assert result.get("errors") in (None, {}), result
    assert result["step_id"] != page


async def test_refused_action_shows_the_page_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """An action Connect refuses is said, then the page as Connect now has it (§2)."""
    entry = await _loaded(hass, connect_entry, freezer)
    first = await _tariff_settings(hass, entry)
    second = await _tariff_settings(hass, entry)
    assert "wrong_tariff" in second["menu_options"]
    # Reported in the first: "Not available if already reported", in the second too.
    first = await _choose(hass, first, "wrong_tariff")
    assert "wrong_tariff" not in first["menu_options"]
    calls = simulator_state.calls["connect"]
    second = await _choose(hass, second, "wrong_tariff")
    assert second["step_id"] == "connect_retry"
    assert second["errors"] == {"base": "connect_error"}
    placeholders = second["description_placeholders"]
    assert placeholders["connect_code"] == "action_invalid"
    assert placeholders["connect_message"] == "The tariff was reported already"
    # Going on reads the page again rather than sending the refused action again.
    second = await _submit(hass, second, {})
    assert simulator_state.calls["connect"] == calls + 2
    assert second["step_id"] == "tariff_summary"
    assert "wrong_tariff" not in second["menu_options"]
    assert simulator_state.connect.wrong_tariff_reports == [
        next(iter(simulator_state.connect.tokens))
    ]


@pytest.mark.parametrize("code", ["action_missing", "action_invalid"])
async def test_action_errors_of_outcome_pages(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    code: str,
) -> None:
    """The summary's action errors (§2): said, and the summary is offered again."""
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry)
    message = _refuse_next(simulator_state, "tariff_summary", code)
    result = await _choose(hass, result, "edit")
    assert result["step_id"] == "connect_retry"
    assert result["errors"] == {"base": "connect_error"}
    assert result["description_placeholders"]["connect_code"] == code
    assert result["description_placeholders"]["connect_message"] == message
    result = await _submit(hass, result, {})
    assert result["step_id"] == "tariff_summary"
    assert _session(simulator_state).route == "tariff_summary"


# -- test mode ------------------------------------------------------------------------------


def _test_mode_entry(connect_entry: MockConfigEntry) -> MockConfigEntry:
    """The same account with a test key: Flatpeak's test data, no location yet."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flatpeak (test)",
        unique_id=f"{ACCOUNT_ID}_test",
        data={**connect_entry.data, CONF_API_KEY: TEST_KEY},
        options={
            CONF_LOCATIONS: [],
            CONF_FOLLOW_ALL_LOCATIONS: True,
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        },
    )


async def test_test_mode_session_end_to_end(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """A test key's entry adds a test-mode location through Connect and follows it."""
    entry = await _loaded(hass, _test_mode_entry(connect_entry), freezer)
    assert entry.state is ConfigEntryState.LOADED
    result = await _options(hass, entry, "add_location")
    result = await _add_location(hass, result, providers, "Lab")
    token = _session(simulator_state)
    # The token, every page and the location are the test key's mode.
    assert token.live_mode is False
    assert result["description_placeholders"]["connection_type"] == "MANUAL"
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "location_added"
    location = simulator_state.locations[token.location_id]
    assert location["live_mode"] is False
    await hass.async_block_till_done()
    assert _state(hass, "sensor.lab_current_price") == "0.2"
    # The live entry's Home is not the test entry's.
    assert hass.states.get("sensor.home_current_price") is None


async def test_test_mode_refuses_a_live_session(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """A live token, or a live page, in a test entry's session aborts (§1, §2)."""
    entry = await _loaded(hass, _test_mode_entry(connect_entry), freezer)
    simulator_state.inject_fault(
        "connect_token_create",
        status=200,
        body={"connect_token": "cot_live", "expires_in": 86400, "live_mode": True},
    )
    result = await _options(hass, entry, "add_location")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"location_reference_id": "Lab"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_live_mode_mismatch"

    # A page that says live, later in a test session, stops it there too.
    result = await _options(hass, entry, "add_location")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"location_reference_id": "Lab"}
    )
    assert result["step_id"] == "postal_address_capture"
    live_page = {
        "connect_token": _session(simulator_state).id,
        "route": "provider_select",
        "live_mode": True,
        "data": {"providers": []},
    }
    simulator_state.inject_fault("connect", status=200, body=live_page)
    result = await _submit(hass, result, {"city": "Leeds", "country_code": "GB"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_live_mode_mismatch"


# -- the options' ways into Connect in every state of the entry -----------------------------


async def test_options_of_an_entry_not_loaded(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
) -> None:
    """An entry that is not loaded still opens tariff settings and adds locations."""
    freezer.move_to(NOW)
    connect_entry.add_to_hass(hass)
    assert connect_entry.state is ConfigEntryState.NOT_LOADED
    result = await _tariff_settings(hass, connect_entry)
    assert result["step_id"] == "tariff_summary"
    result = await _choose(hass, result, "close")
    assert result["reason"] == "connect_closed"

    result = await _options(hass, connect_entry, "add_location")
    # No followed location's name is taken: Home Assistant's own is suggested.
    (field,) = result["data_schema"].schema
    assert field.description["suggested_value"] == hass.config.location_name
    result = await _add_location(hass, result, providers, "Cottage")
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert connect_entry.options[CONF_LOCATIONS] == [
        HOME_ID,
        _session(simulator_state).location_id,
    ]
    # New options reload the entry, which sets it up.
    await hass.async_block_till_done()
    assert connect_entry.state is ConfigEntryState.LOADED


async def test_tariff_settings_locations_unreadable(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """The locations cannot be listed: said on the step; submitting lists them again."""
    entry = await _loaded(hass, connect_entry, freezer)
    simulator_state.inject_fault("locations", status=503)
    result = await _options(hass, entry, "tariff_settings")
    assert result["step_id"] == "tariff_settings"
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["data_schema"].schema == {}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["step_id"] == "tariff_settings"
    assert result["errors"] == {}
    assert [str(key) for key in result["data_schema"].schema] == ["location_id"]


async def test_add_location_left_before_saving(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """Leaving Connect before a tariff is saved adds nothing (no location was made)."""
    entry = await _loaded(hass, connect_entry, freezer)
    locations = set(simulator_state.locations)
    result = await _options(hass, entry, "add_location")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"location_reference_id": "Shed"}
    )
    result = await _submit(hass, result, {"city": "Leeds", "country_code": "GB"})
    result = await _choose(hass, result, "close")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "connect_closed"
    assert set(simulator_state.locations) == locations
    assert entry.options[CONF_LOCATIONS] == [HOME_ID]


async def test_tariff_settings_of_a_location_not_followed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator_state: SimulatorState,
    connect_entry: MockConfigEntry,
) -> None:
    """An account's location that the entry does not follow opens, and stays unfollowed."""
    simulator_state.add_location(ACCOUNT_ID, "loc_cottage", reference_id="Cottage")
    simulator_state.set_status("loc_cottage", tariff_name="Flexible")
    entry = await _loaded(hass, connect_entry, freezer)
    result = await _tariff_settings(hass, entry, "loc_cottage")
    assert result["step_id"] == "tariff_summary"
    assert result["description_placeholders"]["location"] == "Cottage"
    result = await _choose(hass, result, "close")
    assert result["reason"] == "connect_closed"
    await hass.async_block_till_done()
    assert entry.options[CONF_LOCATIONS] == [HOME_ID]
    assert hass.states.get("sensor.cottage_current_price") is None
