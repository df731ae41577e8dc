"""The provider-login callback: only a state it issued, once, in time, for its token."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
import logging
from typing import TYPE_CHECKING, Any
from unittest.mock import MagicMock
from urllib.parse import parse_qs, urlencode, urlsplit

from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import http as http_helper
import pytest
from yarl import URL

from custom_components.flatpeak.tariff.callback import (
    RETURN_URL_PATH,
    STATE_LIFETIME,
    STATE_PARAM,
    base_url,
)
from tests.helpers import HOME_ID, advance_time, setup_entry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.simulator.connect import ConnectProviders

pytestmark = pytest.mark.usefixtures("ha_url")


async def _waiting_for_login(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    providers: ConnectProviders,
) -> tuple[str, str, str]:
    """Open Home's tariff settings up to the DIRECT provider's login.

    Returns the flow id, the connect token and the state the login URL carries.
    """
    await setup_entry(hass, entry, freezer)
    result: dict[str, Any] = await hass.config_entries.options.async_init(
        entry.entry_id
    )
    for answer in (
        {"next_step_id": "tariff_settings"},
        {"location_id": HOME_ID},
        {"next_step_id": "edit"},
        {"next_step_id": "provider_select"},
        {"provider": providers.direct_id},
    ):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], answer
        )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    query = parse_qs(urlsplit(result["url"]).query)
    return result["flow_id"], query["fp_cot"][0], query[STATE_PARAM][0]


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name != "aiohttp.access"
    )


def _callback(token: str, state: str) -> str:
    return f"{RETURN_URL_PATH}?{urlencode({'fp_cot': token, STATE_PARAM: state})}"


async def _step(hass: HomeAssistant, flow_id: str) -> str | None:
    flow = hass.config_entries.options.async_get(flow_id)
    return flow.get("step_id")


async def test_issued_state_advances_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The issued state advances its flow; the same link again is refused."""
    flow_id, token, state = await _waiting_for_login(
        hass, freezer, connect_entry, providers
    )
    client = await hass_client_no_auth()
    caplog.set_level(logging.DEBUG)
    response = await client.get(_callback(token, state))
    assert response.status == HTTPStatus.OK
    assert hass.config_entries.options.async_get(flow_id)["step_id"] == (
        "session_resume"
    )

    # Replayed: refused, and the flow is where it was.
    response = await client.get(_callback(token, state))
    assert response.status == HTTPStatus.BAD_REQUEST
    assert "not valid any more" in await response.text()
    # The connect token is in no log line of Home Assistant's or ours, even at debug
    # (aiohttp's access log, off unless asked for, prints every request line).
    assert token not in _logged(caplog)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda token, state: (token, state[:-2] + "xx"), id="signature"),
        pytest.param(
            lambda token, state: (token, "e30." + state.split(".")[1]), id="payload"
        ),
        pytest.param(lambda _token, state: ("cot_other", state), id="other_token"),
        pytest.param(lambda token, _state: (token, ""), id="no_state"),
        pytest.param(lambda _token, state: ("", state), id="no_token"),
        pytest.param(lambda token, _state: (token, "junk"), id="junk"),
    ],
)
async def test_forged_callback_changes_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    forge: Any,
) -> None:
    """Anything but the issued state and its token: 400, and the flow still waits."""
    flow_id, token, state = await _waiting_for_login(
        hass, freezer, connect_entry, providers
    )
    client = await hass_client_no_auth()
    response = await client.get(_callback(*forge(token, state)))
    assert response.status == HTTPStatus.BAD_REQUEST
    assert await _step(hass, flow_id) == "session_redirect"
    assert token not in _logged(caplog)


async def test_forged_state_does_not_spend_the_real_one(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A forged attempt leaves the issued state usable by the real browser."""
    _, token, state = await _waiting_for_login(hass, freezer, connect_entry, providers)
    client = await hass_client_no_auth()
    forged = (await client.get(_callback(token, state[:-2] + "xx"))).status
    assert forged == HTTPStatus.BAD_REQUEST
    assert (await client.get(_callback(token, state))).status == HTTPStatus.OK


async def test_expired_state_is_refused(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A state older than its lifetime is refused; the flow still waits."""
    flow_id, token, state = await _waiting_for_login(
        hass, freezer, connect_entry, providers
    )
    client = await hass_client_no_auth()
    await advance_time(hass, freezer, STATE_LIFETIME + timedelta(seconds=1))
    response = await client.get(_callback(token, state))
    assert response.status == HTTPStatus.BAD_REQUEST
    assert await _step(hass, flow_id) == "session_redirect"


async def test_closed_flow_is_refused(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The dialog was closed (the login abandoned): the link then does nothing."""
    flow_id, token, state = await _waiting_for_login(
        hass, freezer, connect_entry, providers
    )
    hass.config_entries.options.async_abort(flow_id)
    client = await hass_client_no_auth()
    response = await client.get(_callback(token, state))
    assert response.status == HTTPStatus.BAD_REQUEST


async def test_end_and_unknown_paths(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """callback_url only says the session ended; other paths are refused."""
    await setup_entry(hass, connect_entry, freezer)
    client = await hass_client_no_auth()
    response = await client.get("/api/flatpeak/connect/end?fp_cot=cot_1")
    assert response.status == HTTPStatus.OK
    assert "Close this tab" in await response.text()
    response = await client.get("/api/flatpeak/connect/other?fp_cot=cot_1&x=1")
    assert response.status == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "address",
    [
        "http://homeassistant.local:8123",
        "https://home.example.com",
        "https://abcdefghijklmnop.ui.nabu.casa",
    ],
    ids=["internal", "external", "cloud"],
)
async def test_base_url_is_the_browsers(hass: HomeAssistant, address: str) -> None:
    """The URL the browser used drives connect_url, whichever of the three it is."""
    request = MagicMock()
    request.url = URL(f"{address}/api/config/config_entries/options/flow/abc")
    reset = http_helper.current_request.set(request)
    try:
        assert base_url(hass) == address
    finally:
        http_helper.current_request.reset(reset)


async def test_base_url_without_a_request(hass: HomeAssistant, ha_url: str) -> None:
    """Without a request, the configured URL (here the internal one)."""
    assert base_url(hass) == ha_url


async def test_abandoned_login_can_be_resumed(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect_entry: MockConfigEntry,
    providers: ConnectProviders,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The dialog asked again (a reload) offers the same login; it still comes back."""
    flow_id, token, state = await _waiting_for_login(
        hass, freezer, connect_entry, providers
    )
    again = await hass.config_entries.options.async_configure(flow_id)
    assert again["type"] is FlowResultType.EXTERNAL_STEP
    query = parse_qs(urlsplit(again["url"]).query)
    assert (query["fp_cot"], query[STATE_PARAM]) == ([token], [state])
    client = await hass_client_no_auth()
    assert (await client.get(_callback(token, state))).status == HTTPStatus.OK
