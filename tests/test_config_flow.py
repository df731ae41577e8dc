"""Tests for the config flow, reauth, reconfigure and options, against the simulator."""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
import json
from pathlib import Path
import socket
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.data_entry_flow import AbortFlow, FlowResult, FlowResultType
from homeassistant.helpers.network import NoURLAvailableError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak import config_flow
from custom_components.flatpeak.api.client import (
    API_VERSION,
    DEFAULT_API_URL,
    FlatpeakClient,
)
from custom_components.flatpeak.api.connect import DEFAULT_CONNECT_API_URL
from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CLOUDHOOK_URL,
    CONF_CONNECT_API_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_PRICE_RESOLUTION,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    CONF_WEBHOOK_ID,
    DOMAIN,
    FLATPEAK_DASHBOARD_URL,
    SECTION_ADVANCED,
)
from custom_components.flatpeak.errors import form_errors as _form_errors
from custom_components.flatpeak.webhook.url import (
    async_get_or_create_webhook_url,
    webhook_url,
)
from tests.simulator import RunningSimulator, SimulatorState, start_simulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import ModuleType

    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant

ACCOUNT = "acc_661677911f2197045e6cf1b1"
LIVE_KEY = "sk_live_65e88ad8b13031c26a39c06c"
TEST_KEY = "sk_test_687b8977879fd796a86faa03"
BIG_ACCOUNT = "acc_big"
BIG_KEY = "sk_live_big"
EMPTY_ACCOUNT = "acc_empty"
EMPTY_KEY = "sk_live_empty"
WEBHOOK_ID = "0" * 64
EXTERNAL_URL = "https://ha.example.com"
CLOUDHOOK = "https://hooks.nabu.casa/abc"
LIVE_LOCATIONS = {"loc_home": "Home", "loc_cottage": "Cottage", "loc_office": "Office"}
FLOW = "custom_components.flatpeak.config_flow"
CLIENT = "custom_components.flatpeak.api.client"
OLDER_API_VERSION = "2024-08-24.zero"

# Every way a login can fail, and the form error the user sees for it.
INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components" / "flatpeak"

LOGIN_FAULTS = [
    ("forbidden", "invalid_auth"),
    ("disabled", "account_disabled"),
    ("newer_api_version", "api_version_not_supported"),
    ("server_error", "cannot_connect"),
    ("rate_limited", "cannot_connect"),
    ("not_json", "cannot_connect"),
    ("timeout", "cannot_connect"),
    ("unexpected", "unknown"),
]


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[RunningSimulator]:
    """Seed an account with live and test keys, a 130-location one and an empty one."""
    state = SimulatorState()
    state.add_account(ACCOUNT, [LIVE_KEY, TEST_KEY])
    for location_id, name in LIVE_LOCATIONS.items():
        state.add_location(ACCOUNT, location_id, reference_id=name)
    state.add_location(ACCOUNT, "loc_test", live_mode=False, reference_id="Test flat")
    state.add_account(BIG_ACCOUNT, [BIG_KEY])
    for number in range(130):
        state.add_location(
            BIG_ACCOUNT, f"loc_big_{number}", reference_id=f"Site {number}"
        )
    state.add_account(EMPTY_ACCOUNT, [EMPTY_KEY])
    async with await start_simulator(state) as running:
        yield running


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Iterator[AsyncMock]:
    """Keep the integration's own setup out of flow tests."""
    with (
        patch(
            "custom_components.flatpeak.async_setup_entry",
            return_value=True,
            create=True,
        ) as setup,
        patch(
            "custom_components.flatpeak.async_unload_entry",
            return_value=True,
            create=True,
        ),
    ):
        yield setup


@pytest.fixture(autouse=True)
async def external_url(hass: HomeAssistant) -> None:
    """Give Home Assistant a URL, so webhook URLs are predictable."""
    await hass.config.async_update(
        external_url=EXTERNAL_URL, internal_url="http://ha.local:8123"
    )


def _closed_port_url() -> str:
    """Return a loopback URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _break_login(simulator: RunningSimulator, fault: str, stack: ExitStack) -> None:
    """Make the next login fail in one way; closing the stack undoes patches."""
    state = simulator.state
    match fault:
        case "forbidden":
            state.inject_fault("login", status=403)
        case "disabled":
            state.set_account_disabled(ACCOUNT, True)
            stack.callback(state.set_account_disabled, ACCOUNT, False)
        case "server_error":
            state.inject_fault("login", status=500)
        case "newer_api_version":
            # What Flatpeak answers once the account's default API version is newer
            # than the one sent (the simulator speaks only its own).
            stack.enter_context(patch(f"{CLIENT}.API_VERSION", OLDER_API_VERSION))
        case "rate_limited":
            state.inject_fault("login", status=429, headers={"Retry-After": "5"})
        case "not_json":
            state.inject_fault("login", status=200, body="<html>proxy</html>")
        case "timeout":
            state.inject_fault("login", delay=5.0)
            stack.enter_context(
                patch(
                    "custom_components.flatpeak.connection.FlatpeakClient",
                    partial(FlatpeakClient, request_timeout=0.05),
                )
            )
        case "unexpected":
            stack.enter_context(
                patch.object(FlatpeakClient, "login", side_effect=RuntimeError("boom"))
            )


def _user_input(
    api_url: str | None, account_id: str = ACCOUNT, api_key: str = LIVE_KEY
) -> dict[str, Any]:
    user_input: dict[str, Any] = {CONF_ACCOUNT_ID: account_id, CONF_API_KEY: api_key}
    if api_url is not None:
        user_input[SECTION_ADVANCED] = {CONF_API_URL: api_url}
    return user_input


def _field(result: FlowResult, name: str) -> Any:
    """Return the schema marker of a form field."""
    schema = result["data_schema"]
    assert schema is not None
    return next(key for key in schema.schema if key == name)


def _fields(result: FlowResult) -> set[str]:
    schema = result["data_schema"]
    return set() if schema is None else {str(key) for key in schema.schema}


def _select_options(result: FlowResult) -> dict[str, str]:
    """Return value → label of the locations multi-select."""
    schema = result["data_schema"]
    assert schema is not None
    selector = schema.schema[_field(result, CONF_LOCATIONS)]
    assert selector.config["multiple"] is True
    return {option["value"]: option["label"] for option in selector.config["options"]}


async def _start(hass: HomeAssistant) -> FlowResult:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def _to_locations(hass: HomeAssistant, url: str, **kwargs: str) -> FlowResult:
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(url, **kwargs)
    )
    # A form of locations, or the menu of an account that has none.
    assert result["type"] in {FlowResultType.FORM, FlowResultType.MENU}
    return result


def _entry(
    simulator: RunningSimulator,
    *,
    api_key: str = LIVE_KEY,
    options: dict[str, Any] | None = None,
    **data: Any,
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flatpeak",
        unique_id=f"{ACCOUNT}_live",
        data={
            CONF_ACCOUNT_ID: ACCOUNT,
            CONF_API_KEY: api_key,
            CONF_API_URL: simulator.url,
            CONF_WEBHOOK_ID: WEBHOOK_ID,
            **data,
        },
        options=options
        if options is not None
        else {
            CONF_LOCATIONS: list(LIVE_LOCATIONS),
            CONF_FOLLOW_ALL_LOCATIONS: True,
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        },
    )


# -- user and locations ----------------------------------------------------------------


async def test_full_flow_live(
    hass: HomeAssistant, simulator: RunningSimulator, mock_setup_entry: AsyncMock
) -> None:
    """Credentials, then all locations offered and chosen: a live entry following all."""
    result = await _start(hass)
    assert result["description_placeholders"] == {
        "dashboard_url": FLATPEAK_DASHBOARD_URL,
        "api_version": API_VERSION,
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(f"{simulator.url}/", api_key=f" {LIVE_KEY} ")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "locations"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {
        "mode": "Live data",
        "api_version": API_VERSION,
    }
    assert _select_options(result) == LIVE_LOCATIONS
    assert sorted(_field(result, CONF_LOCATIONS).default()) == sorted(LIVE_LOCATIONS)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATIONS: list(LIVE_LOCATIONS)}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Flatpeak"
    entry = result["result"]
    assert entry.unique_id == f"{ACCOUNT}_live"
    webhook_id = entry.data[CONF_WEBHOOK_ID]
    assert len(webhook_id) == 64
    assert entry.data == {
        CONF_ACCOUNT_ID: ACCOUNT,
        CONF_API_KEY: LIVE_KEY,
        CONF_API_URL: simulator.url,
        CONF_CONNECT_API_URL: DEFAULT_CONNECT_API_URL,
        CONF_WEBHOOK_ID: webhook_id,
    }
    assert entry.options == {
        CONF_LOCATIONS: list(LIVE_LOCATIONS),
        CONF_FOLLOW_ALL_LOCATIONS: True,
        CONF_REQUIRE_SIGNED_WEBHOOKS: False,
    }
    assert result["description_placeholders"] == {
        "webhook_url": f"{EXTERNAL_URL}/api/webhook/{webhook_id}",
        "dashboard_url": FLATPEAK_DASHBOARD_URL,
        "mode": "Live data",
    }
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 1
    assert simulator.state.calls["login"] == 1  # the listing reuses the validated token


async def test_some_locations_test_key(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """A test key sees only test locations; a partial choice does not follow all."""
    # The live entry of the same account does not block the test one.
    _entry(simulator).add_to_hass(hass)
    simulator.state.add_location(
        ACCOUNT, "loc_test_2", live_mode=False, reference_id="Test house"
    )
    result = await _to_locations(hass, simulator.url, api_key=TEST_KEY)
    assert result["description_placeholders"] == {
        "mode": "Test data",
        "api_version": API_VERSION,
    }
    assert _select_options(result) == {
        "loc_test": "Test flat",
        "loc_test_2": "Test house",
    }

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATIONS: ["loc_test"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Flatpeak (test)"
    assert result["result"].unique_id == f"{ACCOUNT}_test"
    assert result["result"].options == {
        CONF_LOCATIONS: ["loc_test"],
        CONF_FOLLOW_ALL_LOCATIONS: False,
        CONF_REQUIRE_SIGNED_WEBHOOKS: False,
    }
    assert result["description_placeholders"]["mode"] == "Test data"


async def test_every_page_of_locations_is_offered(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """An account with more locations than one page offers all of them."""
    result = await _to_locations(
        hass, simulator.url, account_id=BIG_ACCOUNT, api_key=BIG_KEY
    )
    options = _select_options(result)
    assert len(options) == 130
    assert options["loc_big_0"] == "Site 0"
    assert simulator.state.calls["locations"] == 2


async def test_default_api_url(hass: HomeAssistant) -> None:
    """Without the advanced section the production API is used."""
    result = await _start(hass)
    advanced = result["data_schema"].schema[_field(result, SECTION_ADVANCED)]
    assert advanced.options == {"collapsed": True}
    assert next(iter(advanced.schema.schema)).default() == DEFAULT_API_URL

    with (
        patch.object(FlatpeakClient, "login") as login,
        patch.object(FlatpeakClient, "list_locations", return_value=[]),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _user_input(None)
        )
        assert result["step_id"] == "no_locations"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "finish"}
        )
    login.assert_awaited_once()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].data[CONF_API_URL] == DEFAULT_API_URL


@pytest.mark.parametrize(
    ("fault", "error"), [*LOGIN_FAULTS, ("refused", "cannot_connect")]
)
async def test_user_errors_then_recover(
    hass: HomeAssistant, simulator: RunningSimulator, fault: str, error: str
) -> None:
    """Each failure shows its error on the same form, input kept; then it works."""
    result = await _start(hass)
    url = _closed_port_url() if fault == "refused" else simulator.url
    with ExitStack() as stack:
        _break_login(simulator, fault, stack)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _user_input(url)
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"]["api_version"] == API_VERSION
    assert _field(result, CONF_ACCOUNT_ID).description == {"suggested_value": ACCOUNT}
    assert _field(result, CONF_API_KEY).description == {"suggested_value": LIVE_KEY}
    advanced = result["data_schema"].schema[_field(result, SECTION_ADVANCED)]
    assert next(iter(advanced.schema.schema)).description == {"suggested_value": url}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator.url)
    )
    assert result["step_id"] == "locations"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATIONS: ["loc_home"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_wrong_key_is_invalid_auth(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """A key the account does not have is refused."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator.url, api_key="sk_live_wrong")
    )
    assert result["errors"] == {"base": "invalid_auth"}


async def test_already_configured(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """The same account in the same mode cannot be set up twice."""
    _entry(simulator).add_to_hass(hass)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator.url)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert simulator.state.calls["locations"] == 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("server_error", "cannot_connect"),
        ("disabled", "account_disabled"),
        ("unexpected", "unknown"),
    ],
)
async def test_locations_errors_then_retry(
    hass: HomeAssistant, simulator: RunningSimulator, fault: str, error: str
) -> None:
    """A failed listing shows on the locations form; submitting it tries again."""
    result = await _start(hass)
    with ExitStack() as stack:
        match fault:
            case "server_error":
                simulator.state.inject_fault("locations", status=500)
            case "disabled":
                # Disabled after the login that validated the key.
                simulator.state.inject_fault(
                    "locations",
                    status=422,
                    body={
                        "object": "error",
                        "code": "account_disabled",
                        "message": "x",
                    },
                )
            case "unexpected":
                stack.enter_context(
                    patch.object(
                        FlatpeakClient, "list_locations", side_effect=RuntimeError
                    )
                )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _user_input(simulator.url)
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "locations"
    assert result["errors"] == {"base": error}
    assert _fields(result) == set()

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "locations"
    assert result["errors"] == {}
    assert _select_options(result) == LIVE_LOCATIONS


async def test_no_location_chosen(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """Choosing nothing asks again; a choice then creates the entry."""
    result = await _to_locations(hass, simulator.url)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATIONS: []}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "locations"
    assert result["errors"] == {CONF_LOCATIONS: "no_locations_selected"}
    assert _select_options(result) == LIVE_LOCATIONS
    assert simulator.state.calls["locations"] == 1

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATIONS: ["loc_office", "loc_home"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].options[CONF_LOCATIONS] == ["loc_office", "loc_home"]
    assert result["result"].options[CONF_FOLLOW_ALL_LOCATIONS] is False


async def test_zero_locations(hass: HomeAssistant, simulator: RunningSimulator) -> None:
    """An account without locations can be set up; it follows whatever comes."""
    result = await _to_locations(
        hass, simulator.url, account_id=EMPTY_ACCOUNT, api_key=EMPTY_KEY
    )
    assert result["step_id"] == "no_locations"
    assert result["description_placeholders"] == {
        "mode": "Live data",
        "dashboard_url": FLATPEAK_DASHBOARD_URL,
    }
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["add_location", "finish"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "finish"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"{EMPTY_ACCOUNT}_live"
    assert result["result"].options == {
        CONF_LOCATIONS: [],
        CONF_FOLLOW_ALL_LOCATIONS: True,
        CONF_REQUIRE_SIGNED_WEBHOOKS: False,
    }


# -- webhook URL -----------------------------------------------------------------------


async def test_cloudhook(
    hass: HomeAssistant, simulator: RunningSimulator, cloud: ModuleType
) -> None:
    """With an active Home Assistant Cloud subscription the URL is a cloudhook."""
    with (
        patch(
            "homeassistant.components.cloud.async_active_subscription",
            return_value=True,
        ),
        patch(
            "homeassistant.components.cloud.async_create_cloudhook",
            return_value=CLOUDHOOK,
        ) as create,
    ):
        result = await _to_locations(hass, simulator.url)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_LOCATIONS: ["loc_home"]}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    create.assert_awaited_once_with(hass, entry.data[CONF_WEBHOOK_ID])
    assert entry.data[CONF_CLOUDHOOK_URL] == CLOUDHOOK
    assert result["description_placeholders"]["webhook_url"] == CLOUDHOOK


@pytest.mark.parametrize("error", ["CloudNotAvailable", "CloudNotConnected"])
async def test_cloud_unavailable_falls_back(
    hass: HomeAssistant, simulator: RunningSimulator, cloud: ModuleType, error: str
) -> None:
    """A cloud that cannot make a cloudhook now leaves the plain webhook URL."""
    with (
        patch(
            "homeassistant.components.cloud.async_active_subscription",
            return_value=True,
        ),
        patch(
            "homeassistant.components.cloud.async_create_cloudhook",
            side_effect=getattr(cloud, error),
        ),
    ):
        result = await _to_locations(hass, simulator.url)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_LOCATIONS: ["loc_home"]}
        )
    entry = result["result"]
    assert CONF_CLOUDHOOK_URL not in entry.data
    assert result["description_placeholders"]["webhook_url"] == (
        f"{EXTERNAL_URL}/api/webhook/{entry.data[CONF_WEBHOOK_ID]}"
    )


async def test_cloud_without_subscription(
    hass: HomeAssistant, cloud: ModuleType
) -> None:
    """Cloud loaded but not subscribed: no cloudhook is attempted."""
    with (
        patch(
            "homeassistant.components.cloud.async_active_subscription",
            return_value=False,
        ),
        patch("homeassistant.components.cloud.async_create_cloudhook") as create,
    ):
        url, cloudhook = await async_get_or_create_webhook_url(hass, WEBHOOK_ID, None)
    create.assert_not_called()
    assert (url, cloudhook) == (f"{EXTERNAL_URL}/api/webhook/{WEBHOOK_ID}", None)


async def test_stored_cloudhook_is_reused(
    hass: HomeAssistant, cloud: ModuleType
) -> None:
    """A cloudhook already stored is returned as it is, and not created again."""
    with patch("homeassistant.components.cloud.async_create_cloudhook") as create:
        assert await async_get_or_create_webhook_url(hass, WEBHOOK_ID, CLOUDHOOK) == (
            CLOUDHOOK,
            CLOUDHOOK,
        )
    create.assert_not_called()
    assert (
        webhook_url(hass, {CONF_WEBHOOK_ID: WEBHOOK_ID, CONF_CLOUDHOOK_URL: CLOUDHOOK})
        == CLOUDHOOK
    )
    assert webhook_url(hass, {CONF_WEBHOOK_ID: WEBHOOK_ID}) == (
        f"{EXTERNAL_URL}/api/webhook/{WEBHOOK_ID}"
    )


async def test_no_url_gives_path(hass: HomeAssistant) -> None:
    """Without any Home Assistant URL the path is still shown."""
    with patch(
        "homeassistant.components.webhook.async_generate_url",
        side_effect=NoURLAvailableError,
    ):
        assert webhook_url(hass, {CONF_WEBHOOK_ID: WEBHOOK_ID}) == (
            f"/api/webhook/{WEBHOOK_ID}"
        )


def test_form_errors_let_aborts_through() -> None:
    """An abort raised inside a guarded block is not turned into a form error."""
    errors: dict[str, str] = {}
    with pytest.raises(AbortFlow), _form_errors(errors):
        raise AbortFlow("already_configured")
    assert errors == {}


# -- reauth ----------------------------------------------------------------------------


async def test_reauth(hass: HomeAssistant, simulator: RunningSimulator) -> None:
    """A new key of the same account and mode replaces the old one and reloads."""
    entry = _entry(simulator, api_key="sk_live_revoked")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {
        "name": "Flatpeak",  # the title, added by Home Assistant to reauth flows
        "account_id": ACCOUNT,
        "mode": "Live data",
        "dashboard_url": FLATPEAK_DASHBOARD_URL,
        "api_version": API_VERSION,
    }
    assert _fields(result) == {CONF_API_KEY}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: f"{LIVE_KEY}\n"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_API_KEY] == LIVE_KEY
    assert entry.data[CONF_WEBHOOK_ID] == WEBHOOK_ID
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_other_mode(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """A test key cannot replace the key of a live entry."""
    entry = _entry(simulator, api_key="sk_live_revoked")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: TEST_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data[CONF_API_KEY] == "sk_live_revoked"


async def test_reauth_key_of_another_account(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """Another account's key is refused with a text that names that cause too."""
    entry = _entry(simulator, api_key="sk_live_revoked")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: BIG_KEY}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == {"base": "reauth_invalid_auth"}
    assert entry.data[CONF_API_KEY] == "sk_live_revoked"
    strings = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))
    text = strings["config"]["error"]["reauth_invalid_auth"]
    assert "another Flatpeak account" in text
    assert "live or test" in text
    assert "revoked" in text


# Reauth logs in as the entry's own account: a refused key gets the reauth text.
REAUTH_LOGIN_FAULTS = [
    (fault, "reauth_invalid_auth" if error == "invalid_auth" else error)
    for fault, error in LOGIN_FAULTS
]


@pytest.mark.parametrize(("fault", "error"), REAUTH_LOGIN_FAULTS)
async def test_reauth_errors_then_recover(
    hass: HomeAssistant, simulator: RunningSimulator, fault: str, error: str
) -> None:
    """Each login failure shows on the reauth form; the next try succeeds."""
    entry = _entry(simulator, api_key="sk_live_revoked")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    with ExitStack() as stack:
        _break_login(simulator, fault, stack)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: LIVE_KEY}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"]["api_version"] == API_VERSION

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: LIVE_KEY}
    )
    assert result["reason"] == "reauth_successful"


# -- reconfigure -----------------------------------------------------------------------


async def test_reconfigure(hass: HomeAssistant, simulator: RunningSimulator) -> None:
    """A working API URL is stored; the form shows the webhook URL to give Flatpeak."""
    entry = _entry(simulator)
    entry.add_to_hass(hass)
    old_url = simulator.url
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_API_URL: "https://api.old.example"}
    )
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {
        "webhook_url": f"{EXTERNAL_URL}/api/webhook/{WEBHOOK_ID}",
        "dashboard_url": FLATPEAK_DASHBOARD_URL,
        "api_version": API_VERSION,
    }
    assert _field(result, CONF_API_URL).description == {
        "suggested_value": "https://api.old.example"
    }

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_URL: f"{old_url}/"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_URL] == old_url
    assert entry.data[CONF_API_KEY] == LIVE_KEY
    await hass.async_block_till_done()


async def test_reconfigure_shows_cloudhook(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """An entry with a cloudhook shows that URL."""
    entry = _entry(simulator, **{CONF_CLOUDHOOK_URL: CLOUDHOOK})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["description_placeholders"]["webhook_url"] == CLOUDHOOK


@pytest.mark.parametrize(
    ("fault", "error"), [*LOGIN_FAULTS, ("refused", "cannot_connect")]
)
async def test_reconfigure_errors_then_recover(
    hass: HomeAssistant, simulator: RunningSimulator, fault: str, error: str
) -> None:
    """Each failure shows on the reconfigure form with the URL kept; then it works."""
    entry = _entry(simulator)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    url = _closed_port_url() if fault == "refused" else simulator.url
    with ExitStack() as stack:
        _break_login(simulator, fault, stack)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_URL: url}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"]["api_version"] == API_VERSION
    assert _field(result, CONF_API_URL).description == {"suggested_value": url}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_URL: simulator.url}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_URL] == simulator.url
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("url", "insecure"),
    [
        ("https://api.example.com", False),
        ("http://localhost:8080", False),
        ("http://127.0.0.1:8080", False),
        ("http://[::1]:8080", False),
        ("http://api.example.com", True),
        ("http://192.168.1.10", True),
        ("ftp://api.example.com", True),
        ("https://", True),
        ("api.example.com", True),
    ],
)
def test_insecure_api_url(url: str, insecure: bool) -> None:
    """Plain http only for this machine; any other scheme or no host is refused."""
    assert config_flow._insecure_api_url(url) is insecure


async def test_reconfigure_refuses_plain_http(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """Reconfigure holds both URLs to the same rule as set-up; nothing is stored."""
    entry = _entry(simulator)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_API_URL: simulator.url,
            CONF_CONNECT_API_URL: "http://connect.example.com",
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "insecure_api_url"}
    assert CONF_CONNECT_API_URL not in entry.data
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_URL: "http://api.example.com"}
    )
    assert result["errors"] == {"base": "insecure_api_url"}
    assert entry.data[CONF_API_URL] == simulator.url


async def test_target_windows_are_subentries(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """The entry's page offers target windows, each a subentry of its own flow."""
    entry = _entry(simulator)
    entry.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "target_window"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"


# -- options ---------------------------------------------------------------------------


async def _loaded(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry


async def _options_settings(
    hass: HomeAssistant, entry: MockConfigEntry
) -> ConfigFlowResult:
    """Open the options and choose the settings form in their menu."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["settings", "tariff_settings", "add_location"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )


async def test_options(
    hass: HomeAssistant, simulator: RunningSimulator, mock_setup_entry: AsyncMock
) -> None:
    """The current choice is the default; choosing all turns following all on."""
    entry = await _loaded(
        hass,
        _entry(
            simulator,
            options={
                CONF_LOCATIONS: ["loc_gone", "loc_home"],
                CONF_FOLLOW_ALL_LOCATIONS: False,
                CONF_REQUIRE_SIGNED_WEBHOOKS: False,
            },
        ),
    )
    result = await _options_settings(hass, entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
    assert result["errors"] == {}
    assert _select_options(result) == LIVE_LOCATIONS
    # A location that no longer exists cannot be offered, so it is not selected.
    assert _field(result, CONF_LOCATIONS).default() == ["loc_home"]
    assert _field(result, CONF_REQUIRE_SIGNED_WEBHOOKS).default() is False
    assert _field(result, CONF_PRICE_RESOLUTION).default() == "15"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_LOCATIONS: list(LIVE_LOCATIONS),
            CONF_REQUIRE_SIGNED_WEBHOOKS: True,
            CONF_PRICE_RESOLUTION: "60",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_LOCATIONS: list(LIVE_LOCATIONS),
        CONF_FOLLOW_ALL_LOCATIONS: True,
        CONF_REQUIRE_SIGNED_WEBHOOKS: True,
        CONF_PRICE_RESOLUTION: 60,
    }
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 2  # changed options reload the entry


async def test_options_following_all(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """Following all offers every current location as chosen, new ones included."""
    entry = await _loaded(hass, _entry(simulator, options={}))
    simulator.state.add_location(ACCOUNT, "loc_new", reference_id="New")
    result = await _options_settings(hass, entry)
    assert sorted(_field(result, CONF_LOCATIONS).default()) == sorted(
        [*LIVE_LOCATIONS, "loc_new"]
    )

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_LOCATIONS: [], CONF_REQUIRE_SIGNED_WEBHOOKS: False},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_LOCATIONS: "no_locations_selected"}
    assert simulator.state.calls["locations"] == 1

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_LOCATIONS: ["loc_new"], CONF_REQUIRE_SIGNED_WEBHOOKS: False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_LOCATIONS: ["loc_new"],
        CONF_FOLLOW_ALL_LOCATIONS: False,
        CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        CONF_PRICE_RESOLUTION: 15,
    }
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("server_error", "cannot_connect"),
        ("forbidden", "invalid_auth"),
        ("disabled", "account_disabled"),
        ("newer_api_version", "api_version_not_supported"),
        ("unexpected", "unknown"),
    ],
)
async def test_options_api_down(
    hass: HomeAssistant, simulator: RunningSimulator, fault: str, error: str
) -> None:
    """Without the API the locations stay as they are; the other option still saves."""
    options = {
        CONF_LOCATIONS: ["loc_home"],
        CONF_FOLLOW_ALL_LOCATIONS: False,
        CONF_REQUIRE_SIGNED_WEBHOOKS: False,
    }
    entry = await _loaded(hass, _entry(simulator, options=options))
    with ExitStack() as stack:
        _break_login(simulator, fault, stack)
        result = await _options_settings(hass, entry)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert _fields(result) == {CONF_REQUIRE_SIGNED_WEBHOOKS, CONF_PRICE_RESOLUTION}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_REQUIRE_SIGNED_WEBHOOKS: True, CONF_PRICE_RESOLUTION: "30"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        **options,
        CONF_REQUIRE_SIGNED_WEBHOOKS: True,
        CONF_PRICE_RESOLUTION: 30,
    }
    await hass.async_block_till_done()


async def test_options_zero_locations(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """An account without locations offers only the other option, and follows all."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"{EMPTY_ACCOUNT}_live",
        data={
            CONF_ACCOUNT_ID: EMPTY_ACCOUNT,
            CONF_API_KEY: EMPTY_KEY,
            CONF_API_URL: simulator.url,
            CONF_WEBHOOK_ID: WEBHOOK_ID,
        },
        options={
            CONF_LOCATIONS: [],
            CONF_FOLLOW_ALL_LOCATIONS: True,
            CONF_REQUIRE_SIGNED_WEBHOOKS: True,
        },
    )
    await _loaded(hass, entry)
    result = await _options_settings(hass, entry)
    assert result["errors"] == {}
    assert _fields(result) == {CONF_REQUIRE_SIGNED_WEBHOOKS, CONF_PRICE_RESOLUTION}
    assert _field(result, CONF_REQUIRE_SIGNED_WEBHOOKS).default() is True

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_REQUIRE_SIGNED_WEBHOOKS: False}
    )
    assert entry.options == {
        CONF_LOCATIONS: [],
        CONF_FOLLOW_ALL_LOCATIONS: True,
        CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        CONF_PRICE_RESOLUTION: 15,
    }
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("external", "warning"),
    [
        ("http://ha.example.com", "webhook_not_https"),
        ("https://192.168.1.20:8123", "webhook_private_address"),
        (EXTERNAL_URL, None),
    ],
)
async def test_unreachable_webhook_url_warned(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_setup_entry: AsyncMock,
    external: str,
    warning: str | None,
) -> None:
    """The closing text and reconfigure warn when Flatpeak could not reach the URL."""
    await hass.config.async_update(external_url=external)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(simulator.url)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LOCATIONS: list(LIVE_LOCATIONS)}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description"] == warning

    entry = result["result"]
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id},
    )
    assert result["errors"] == ({"base": warning} if warning else {})
