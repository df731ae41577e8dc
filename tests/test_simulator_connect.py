"""Tests for the simulator's Flatpeak Connect: tokens, the conversation, DIRECT login."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any
import urllib.error
import urllib.request

import aiohttp
from aiohttp import web
import pytest

from tests.simulator import (
    ANY_ROUTE,
    API_VERSION,
    ConnectError,
    ConnectProviders,
    DirectLogin,
    RunningSimulator,
    SimulatorState,
    TodPeriod,
    add_provider,
    seed_connect_providers,
    seed_demo,
    start_simulator,
)
from tests.simulator.connect import check_day_cover
from tests.simulator.connect_model import LaterPage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ACCOUNT = "acc_0123456789abcdef01234567"
OTHER_ACCOUNT = "acc_fedcba9876543210fedcba98"
LIVE_KEY = "sk_live_0123456789abcdef"
TEST_KEY = "sk_test_0123456789abcdef"
OTHER_KEY = "sk_live_fedcba9876543210"
START = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
CONNECT_URL = "myapp://flatpeak/connect?src=ha"
CALLBACK_URL = "https://example.com/callback?x=1"
LONDON = {"address_line1": "1 High St", "city": "London", "country_code": "GB"}
ERROR_FIELDS = {
    "object",
    "live_mode",
    "context",
    "type",
    "code",
    "message",
    "time_created",
}
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow loopback sockets where phacc's pytest-socket blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


class Clock:
    """A settable clock for the simulator state."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """A clock frozen at START."""
    return Clock(START)


@pytest.fixture
def state(clock: Clock) -> SimulatorState:
    """A state with two accounts and the standard Connect providers."""
    state = SimulatorState(clock=clock)
    state.add_account(ACCOUNT, [LIVE_KEY, TEST_KEY])
    state.add_account(OTHER_ACCOUNT, [OTHER_KEY])
    return state


@pytest.fixture
def providers(state: SimulatorState) -> ConnectProviders:
    """The seeded providers."""
    return seed_connect_providers(state)


@pytest.fixture
async def simulator(
    state: SimulatorState, providers: ConnectProviders
) -> AsyncIterator[RunningSimulator]:
    """The API and Connect on loopback ports."""
    async with await start_simulator(state) as running:
        yield running


@dataclass
class Client:
    """Calls the API as a backend would and Connect as a connect client would."""

    session: aiohttp.ClientSession
    simulator: RunningSimulator
    bearer: str = ""

    async def login(self, account: str = ACCOUNT, key: str = LIVE_KEY) -> None:
        """Log in to the API."""
        async with self.session.get(
            f"{self.simulator.url}/login",
            headers={"Authorization": aiohttp.encode_basic_auth(account, key)},
        ) as response:
            self.bearer = (await response.json())["bearer_token"]

    async def api(
        self, method: str, path: str, body: Any = None, **params: str
    ) -> tuple[int, Any]:
        """Call the API with the bearer token."""
        async with self.session.request(
            method,
            f"{self.simulator.url}{path}",
            json=body,
            params=params or None,
            headers={
                "Authorization": f"Bearer {self.bearer}",
                "Flatpeak-Version": API_VERSION,
            },
        ) as response:
            return response.status, await response.json()

    async def token(self, path: str = "/connect/token", **body: Any) -> str:
        """Create a connect token (with both URLs unless given)."""
        status, answer = await self.api(
            "POST",
            path,
            {"connect_url": CONNECT_URL, "callback_url": CALLBACK_URL, **body},
        )
        assert status == 200, answer
        return str(answer["connect_token"])

    async def retrieve(self, token: str) -> tuple[int, Any]:
        """GET /connect/tariff/token."""
        return await self.api("GET", "/connect/tariff/token", connect_token=token)

    async def post(self, body: Any) -> tuple[int, Any]:
        """POST a raw body to the Connect API."""
        async with self.session.post(
            f"{self.simulator.connect_url}/", json=body
        ) as response:
            return response.status, await response.json()

    async def page(self, token: str, **body: Any) -> dict[str, Any]:
        """POST a step that must succeed; return the page."""
        status, answer = await self.post({"connect_token": token, **body})
        assert status == 200, answer
        assert answer.get("object") != "error", answer
        return dict(answer)

    async def error(self, token: str, code: str, **body: Any) -> dict[str, Any]:
        """POST a step that must fail with a code; return the error object."""
        status, answer = await self.post({"connect_token": token, **body})
        assert (status, answer.get("code")) == (400, code), answer
        assert set(answer) == {*ERROR_FIELDS, "connect_token"}
        assert answer["object"] == "error"
        return dict(answer)

    async def start(self, token: str) -> dict[str, Any]:
        """session_start."""
        return await self.page(token, route="session_start")

    async def manual_fixed(self, token: str, cost: float = 0.245) -> dict[str, Any]:
        """From provider_select with the by-hand provider to the summary."""
        await self.page(
            token,
            route="provider_select",
            data={"provider": {"id": "prv_650000000000000000000003"}},
        )
        await self.page(
            token, route="tariff_structure_select", data={"options": ["FIXED"]}
        )
        return await self.page(token, route="rate_fixed_capture", data={"cost": cost})


@pytest.fixture
async def client(simulator: RunningSimulator) -> AsyncIterator[Client]:
    """A logged-in client."""
    async with aiohttp.ClientSession() as session:
        client = Client(session, simulator)
        await client.login()
        yield client


# -- tokens --------------------------------------------------------------------------


async def test_token_paths_retrieve_and_counters(
    client: Client, state: SimulatorState
) -> None:
    """Both create paths give a 24 h token; retrieval says nothing happened yet."""
    for path in ("/connect/token", "/connect/tariff/token"):
        status, answer = await client.api(
            "POST", path, {"connect_url": CONNECT_URL, "callback_url": CALLBACK_URL}
        )
        assert status == 200
        assert re.fullmatch(r"cot_[0-9a-f]{24}", answer["connect_token"])
        assert answer["expires_in"] == 86400
        assert answer["live_mode"] is True
    token = answer["connect_token"]
    status, body = await client.retrieve(token)
    assert status == 200
    assert body == {
        "id": token,
        "object": "connect_token",
        "live_mode": True,
        "customer_id": None,
        "customer_reference_id": None,
        "location_id": None,
        "location_reference_id": None,
        "is_tariff_processed": False,
        "tariff_available": False,
        "complete_action": None,
        "time_created": "2026-03-28T12:00:00Z",
        "time_expiry": "2026-03-29T12:00:00Z",
    }
    # A GET at the new path is not documented; it answers the same.
    assert await client.api("GET", "/connect/token", connect_token=token) == (
        200,
        body,
    )
    assert state.calls["connect_token_create"] == 1
    assert state.calls["connect_tariff_token_create"] == 1
    assert state.calls["connect_tariff_token_retrieve"] == 1
    assert state.calls["connect_token_retrieve"] == 1

    await client.login(key=TEST_KEY)
    test_token = await client.token(
        customer_reference_id="user-7", tariff_direction="EXPORT"
    )
    _, body = await client.retrieve(test_token)
    assert body["live_mode"] is False
    assert body["customer_reference_id"] == "user-7"
    assert body["customer_id"].startswith("cus_")
    # Another mode's token is not found.
    assert (await client.retrieve(token))[0] == 404

    state.connect.token_lifetime = 600
    _, answer = await client.api(
        "POST",
        "/connect/token",
        {"connect_url": CONNECT_URL, "callback_url": CALLBACK_URL},
    )
    assert answer["expires_in"] == 600


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"callback_url": CALLBACK_URL}, "connect_url_missing"),
        ({"connect_url": CONNECT_URL}, "callback_url_missing"),
        (
            {"location_id": "HOME", "location_reference_id": "x"},
            "location_parameters_conflict",
        ),
        ({"location_id": "loc_nope"}, "location_id_invalid"),
        ({"location_id": "OTHER"}, "location_id_invalid"),
        ({"tariff_id": "trf_nope"}, "tariff_id_invalid"),
        ({"tariff_direction": "SIDEWAYS"}, "tariff_direction_invalid"),
        (
            {"tariff_direction": "IMPORT", "direction": "EXPORT"},
            "tariff_direction_conflict",
        ),
        ({"type": "GAS"}, "tariff_type_invalid"),
        ({"tariff_type": "COMMODITY", "type": "NON_COMMODITY"}, "tariff_type_conflict"),
        ({"actions": {"disconnect_tariff": True}}, "location_id_missing"),
        (
            {
                "location_id": "HOME",
                "actions": {"disconnect_tariff": True, "edit_tariff": True},
            },
            "actions_invalid",
        ),
        ({"actions": {"edit_tariff": "yes"}}, "actions_invalid"),
        ({"route_options": []}, "route_options_invalid"),
        ({"postal_address_type": "INDUSTRIAL"}, "postal_address_type_invalid"),
        (
            {"postal_address": {"city": "x", "country_code": "GBR"}},
            "country_code_invalid",
        ),
        ({"postal_address": "1 High St"}, "postal_address_invalid"),
        ({"customer_id": "user-1"}, "customer_id_invalid"),
        ({"connect_url": 7}, "connect_url_invalid"),
    ],
)
async def test_token_validation(
    client: Client, state: SimulatorState, body: dict[str, Any], code: str
) -> None:
    """Invalid bodies get 400 and the API's error object (Anode: no more 409)."""
    home = state.add_location(ACCOUNT)["id"]
    other = state.add_location(OTHER_ACCOUNT)["id"]
    urls = {"connect_url": CONNECT_URL, "callback_url": CALLBACK_URL}
    if code in ("connect_url_missing", "callback_url_missing"):
        urls = {}
    request = {**urls, **body}
    for key, value in list(request.items()):
        if isinstance(value, str):
            request[key] = {"HOME": home, "OTHER": other}.get(value, value)
    status, answer = await client.api("POST", "/connect/token", request)
    assert (status, answer["code"]) == (400, code), answer
    assert answer["context"] == "api.connect_token"
    assert answer["type"] == "invalid_request"
    assert set(answer) == ERROR_FIELDS


async def test_token_body_and_auth(client: Client) -> None:
    """A body that is not an object is refused; without a bearer token, 401."""
    async with client.session.post(
        f"{client.simulator.url}/connect/token",
        data=b"[1",
        headers={
            "Authorization": f"Bearer {client.bearer}",
            "Content-Type": "application/json",
        },
    ) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "body_invalid"
    client.bearer = "nope"
    status, answer = await client.api(
        "POST",
        "/connect/token",
        {"connect_url": CONNECT_URL, "callback_url": CALLBACK_URL},
    )
    assert (status, answer["code"]) == (401, "unauthorized")


async def test_retrieve_errors(client: Client, clock: Clock) -> None:
    """Missing, unknown and expired tokens cannot be retrieved."""
    status, answer = await client.api("GET", "/connect/tariff/token")
    assert (status, answer["code"]) == (400, "connect_token_missing")
    status, answer = await client.retrieve("cot_nope")
    assert (status, answer["message"]) == (404, "Not Found")
    token = await client.token()
    clock.advance(hours=24)
    await client.login()
    status, answer = await client.retrieve(token)
    assert (status, answer["code"]) == (404, "connect_token_expired")


# -- the conversation: tokens and navigation -----------------------------------------


async def test_conversation_token_errors(
    client: Client, state: SimulatorState, clock: Clock
) -> None:
    """Bad bodies and unknown, expired and used tokens get error objects."""
    status, answer = await client.post([1])
    assert (status, answer["code"]) == (400, "data_json_invalid")
    status, answer = await client.post({"route": "session_start"})
    assert (status, answer["code"], answer["type"]) == (
        400,
        "connect_token_missing",
        "connect_error",
    )
    await client.error("cot_nope", "connect_token_invalid", route="session_start")

    token = await client.token()
    page = await client.start(token)
    assert page["route"] == "postal_address_capture"
    error = await client.error(token, "route_invalid", route="provider_select", data={})
    assert error["context"] == "connect.postal_address_capture"
    assert error["connect_token"] == token
    assert error["live_mode"] is True

    # Used up once the session ended: single-use, unless switched off.
    end = await client.page(token, route="postal_address_capture", action="CLOSE")
    assert end == {
        "connect_token": token,
        "route": "session_redirect",
        "live_mode": True,
        "direction": "IMPORT",
        "type": "COMMODITY",
        "data": {"redirect_url": f"{CALLBACK_URL}&fp_cot={token}"},
    }
    await client.error(token, "connect_token_used", route="session_start")
    state.connect.single_use = False
    assert (await client.start(token))["route"] == "session_redirect"

    expiring = await client.token()
    clock.advance(hours=24)
    await client.error(expiring, "connect_token_expired", route="session_start")


async def test_navigation_back_close_and_aliases(
    client: Client, state: SimulatorState
) -> None:
    """BACK walks the history (with or without route); Zero names are accepted."""
    token = await client.token(postal_address=LONDON)
    # Zero's session_restore; the WEB client's `type: submit` means nothing.
    page = await client.page(token, route="session_restore", type="submit")
    assert page["route"] == "provider_select"
    assert page["actions"] == ["ADDRESS_CHANGE", "PROVIDER_MISSING", "BACK", "CLOSE"]
    page = await client.page(token, route="provider_select", action="ADDRESS_CHANGE")
    assert page["route"] == "postal_address_capture"
    assert page["data"]["postal_address"]["city"] == "London"
    page = await client.page(token, action="BACK")  # no route, as in the docs
    assert page["route"] == "provider_select"
    page = await client.page(token, route="provider_select", action="PROVIDER_MISSING")
    assert page["route"] == "provider_name_capture"
    assert page["data"] == {
        "postal_address": {
            "address_line1": "1 High St",
            "address_line2": "",
            "city": "London",
            "state": "",
            "post_code": "",
            "country_code": "GB",
        },
        "provider": {"name": ""},
    }
    page = await client.page(token, route="provider_name_capture", action="BACK")
    assert page["route"] == "provider_select"
    await client.error(token, "action_invalid", route="provider_select", action="SAVE")
    await client.error(token, "action_invalid", route="provider_select", action=3)
    # BACK on the first page leaves, like CLOSE.
    page = await client.page(token, route="provider_select", action="BACK")
    assert page["route"] == "session_redirect"
    assert page["data"]["redirect_url"].startswith(CALLBACK_URL)

    # Zero's end of session, as a switch.
    state.connect.end_route = "session_complete"
    other = await client.token(postal_address=LONDON)
    await client.start(other)
    page = await client.page(other, route="provider_select", action="CLOSE")
    assert page["route"] == "session_complete"
    assert page["data"] == {"callback_uri": f"{CALLBACK_URL}&fp_cot={other}"}
    assert "actions" not in page


# -- the conversation: capturing a tariff --------------------------------------------


async def test_address_and_manual_fixed_tariff_make_a_location(
    client: Client, state: SimulatorState
) -> None:
    """From the address to the summary; the new location gets the tariff and event."""
    token = await client.token(location_reference_id="Cabin")
    page = await client.start(token)
    assert page["route"] == "postal_address_capture"
    assert page["actions"] == ["BACK", "CLOSE"]
    assert set(page["data"]["postal_address"].values()) == {""}
    route = "postal_address_capture"
    for address, code in [
        ({"city": "London"}, "country_code_missing"),
        ({"city": "London", "country_code": "GBR"}, "country_code_invalid"),
        ({"country_code": "GB"}, "city_missing"),
        ({"city": "Nowhere", "country_code": "ZZ"}, "timezone_not_found"),
        ("London", "data_json_invalid"),
    ]:
        await client.error(token, code, route=route, data={"postal_address": address})
    await client.error(token, "data_json_invalid", route=route, data=[])
    await client.error(token, "data_json_invalid", route=route)
    page = await client.page(
        token, route=route, data={"postal_address": {**LONDON, "country_code": "gb"}}
    )
    assert page["route"] == "provider_select"
    assert [item["display_name"] for item in page["data"]["providers"]] == [
        "Octopus Energy",
        "British Gas",
        "EDF Energy",
    ]
    assert set(page["data"]["providers"][0]) == {"id", "display_name", "logo_url"}
    french = add_provider(state, "EDF France", country_codes=("FR",))
    for provider, code in [
        ({}, "provider_id_missing"),
        ({"id": "prv_nope"}, "provider_not_found"),
        ({"id": french.id}, "provider_id_invalid"),
        ({"id": 5}, "data_json_invalid"),
        ("x", "data_json_invalid"),
    ]:
        await client.error(
            token, code, route="provider_select", data={"provider": provider}
        )
    await client.error(token, "provider_id_missing", route="provider_select", data={})

    await client.page(
        token,
        route="provider_select",
        data={"provider": {"id": "prv_650000000000000000000003"}},
    )
    page = await client.start(token)  # session_start resumes on the current page
    assert page["route"] == "tariff_structure_select"
    assert page["data"]["options"] == ["FIXED", "TIME_OF_DAY", "MARKET"]
    assert page["data"]["provider"]["display_name"] == "EDF Energy"
    route = "tariff_structure_select"
    for options, code in [
        (["FIXED", "MARKET"], "option_invalid"),
        ([], "option_invalid"),
        (["ADVANCED"], "option_not_supported"),
        (["DYNAMIC"], "option_not_supported"),
        ("FIXED", "data_json_invalid"),
    ]:
        await client.error(token, code, route=route, data={"options": options})
    page = await client.page(token, route=route, data={"options": ["FIXED"]})
    assert page["route"] == "rate_fixed_capture"
    assert page["data"]["currency_code"] == "GBP"
    assert page["data"]["cost"] == 0
    for cost, code in [
        (0, "cost_value_zero"),
        (-0.1, "cost_value_negative"),
        ("0.2", "data_json_invalid"),
        (True, "data_json_invalid"),
    ]:
        await client.error(token, code, route="rate_fixed_capture", data={"cost": cost})
    assert (await client.retrieve(token))[1]["location_id"] is None

    page = await client.page(token, route="rate_fixed_capture", data={"cost": 0.245})
    assert page["route"] == "tariff_summary"
    assert page["actions"] == ["WRONG_TARIFF", "EDIT", "DISCONNECT", "BACK", "CLOSE"]
    data = page["data"]
    assert data["connection_type"] == "MANUAL"
    assert data["market_rates_source"] is False
    assert data["tariff"]["status"] == "CONNECTED"
    assert data["tariff"]["structure_type"] == "FIXED"
    assert data["tariff"]["contract_term_type"] == "UNTIL_TERMINATED"
    assert len(data["rates"]["today"]) == 48
    assert data["rates"]["today"][0] == {
        "valid_from": "2026-03-28T00:00:00+00:00",
        "valid_to": "2026-03-28T00:30:00+00:00",
        "tariff": {"cost": 0.245, "confidence": 1.0},
    }
    # 29 March 2026 is a 23-hour day in London.
    assert len(data["rates"]["tomorrow"]) == 46

    await assert_cabin_saved(client, state, token)


async def assert_cabin_saved(client: Client, state: SimulatorState, token: str) -> None:
    """The session's tariff went into a new location, with prices and the event."""
    _, body = await client.retrieve(token)
    location_id = body["location_id"]
    assert (body["complete_action"], body["is_tariff_processed"]) == ("SAVE", True)
    location = state.locations[location_id]
    assert (location["reference_id"], location["account_id"]) == ("Cabin", ACCOUNT)
    assert location["postal_address"]["country_code"] == "GB"
    status, tariff_status = await client.api("GET", f"/locations/{location_id}/status")
    entry = tariff_status["tariff_status"]["commodity_import"]
    assert entry["status"] == "CONNECTED"
    assert entry["provider"]["id"] == "prv_650000000000000000000003"
    assert entry["tariff"]["display_name"] == "Fixed rate"
    status, prices = await client.api(
        "POST", f"/prices/{location_id}", {"end_time": "2026-03-28T14:00:00Z"}
    )
    assert status == 200
    assert {row["price"]["value"] for row in prices["data"]} == {0.245}
    _, events = await client.api("GET", "/events")
    (event,) = events["data"]
    assert event["type"] == "connect_session.complete"
    assert event["data"]["location_id"] == location_id
    assert event["data"]["id"] == token


@pytest.mark.parametrize(
    ("hours", "code"),
    [
        ([("07:00:00", "23:00:00", 0.3), ("23:00:00", "07:00:00", 0.1)], None),
        ([("00:00:00", "07:00:00", 0.1), ("07:00:00", "00:00:00", 0.3)], None),
        ([("00:00:00", "00:00:00", 0.2)], None),
        ([("07:00", "07:00", 0.2)], None),
        (
            [("07:00:00", "12:00:00", 0.3), ("13:00:00", "07:00:00", 0.1)],
            "gap_in_time_period",
        ),
        (
            [("00:00:00", "12:00:00", 0.3), ("06:00:00", "00:00:00", 0.1)],
            "gap_in_time_period",
        ),
        ([("07:00:00", "23:00:00", 0.3)], "incomplete_time_period"),
        ([("25:00:00", "07:00:00", 0.3)], "valid_from_invalid"),
        ([("07:00:00", "7pm", 0.3)], "valid_to_invalid"),
        ([("00:00:00", "00:00:00", 0)], "cost_value_zero"),
        ([("00:00:00", "00:00:00", -1)], "cost_value_negative"),
        ([], "data_json_invalid"),
    ],
)
async def test_time_of_day_rates_cover_the_day(
    client: Client,
    state: SimulatorState,
    hours: list[tuple[str, str, float]],
    code: str | None,
) -> None:
    """The periods must cover 24 h; midnight ends and wrapping periods are fine."""
    token = await client.token(postal_address=LONDON)
    await client.start(token)
    await client.page(
        token,
        route="provider_select",
        data={"provider": {"id": "prv_650000000000000000000003"}},
    )
    page = await client.page(
        token, route="tariff_structure_select", data={"options": ["TIME_OF_DAY"]}
    )
    assert page["data"]["hours"] == [
        {"cost": 0, "valid_from": "00:00:00", "valid_to": "00:00:00"}
    ]
    data = {
        "hours": [
            {"cost": cost, "valid_from": start, "valid_to": end}
            for start, end, cost in hours
        ]
    }
    if code is not None:
        await client.error(token, code, route="rate_tod_capture", data=data)
        return
    page = await client.page(token, route="rate_tod_capture", data=data)
    assert page["data"]["tariff"]["structure_type"] == "TIME_OF_DAY"
    costs = [rate["tariff"]["cost"] for rate in page["data"]["rates"]["today"]]
    # London is on GMT on 28 March: slot n starts at n/2 hours.
    expected = {cost for _, _, cost in hours}
    assert set(costs) == expected
    if len(hours) == 2:
        first_start = int(hours[0][0][:2])
        assert costs[first_start * 2] == hours[0][2]


def test_day_cover_rule_directly() -> None:
    """The cover rule on its own: wrap, gap, overlap, short."""
    check_day_cover([TodPeriod(1380, 420, 0.1), TodPeriod(420, 1380, 0.3)], "c")
    with pytest.raises(ConnectError, match="cover") as short:
        check_day_cover([TodPeriod(0, 720, 0.1)], "c")
    assert short.value.code == "incomplete_time_period"
    with pytest.raises(ConnectError) as overlap:
        check_day_cover([TodPeriod(0, 0, 0.1), TodPeriod(0, 0, 0.2)], "c")
    assert overlap.value.code == "gap_in_time_period"


async def test_provider_missing_market_surcharge_and_region(
    client: Client, state: SimulatorState
) -> None:
    """An unlisted provider, a market tariff, its surcharge and a geo-fenced region."""
    token = await client.token(
        postal_address={"city": "København", "country_code": "DK"},
        location_reference_id="Sommerhus",
    )
    page = await client.start(token)
    assert (page["route"], page["data"]["providers"]) == ("provider_select", [])
    await client.page(token, route="provider_select", action="PROVIDER_MISSING")
    route = "provider_name_capture"
    await client.error(token, "provider_name_missing", route=route, data={})
    await client.error(
        token, "provider_name_missing", route=route, data={"provider": {"name": " "}}
    )
    await client.error(
        token, "data_json_invalid", route=route, data={"provider": {"name": 1}}
    )
    page = await client.page(
        token, route=route, data={"provider": {"name": "Andel Energi"}}
    )
    assert page["route"] == "tariff_structure_select"
    assert page["data"]["provider"]["display_name"] == "Andel Energi"
    page = await client.page(
        token, route="tariff_structure_select", data={"options": ["MARKET"]}
    )
    assert page["route"] == "surcharge_capture"
    assert page["data"]["currency_code"] == "DKK"
    assert page["data"]["surcharge"] == {"fixed": 0, "percentage": 0}
    route = "surcharge_capture"
    for surcharge, code in [
        ({"fixed": 0.1, "percentage": 150}, "surcharge_percentage_invalid"),
        ({"fixed": 0.1, "percentage": -1}, "surcharge_percentage_invalid"),
        ({"fixed": "0.1", "percentage": 1}, "data_json_invalid"),
        ("none", "data_json_invalid"),
    ]:
        await client.error(token, code, route=route, data={"surcharge": surcharge})
    page = await client.page(
        token, route=route, data={"surcharge": {"fixed": 0.05, "percentage": 25}}
    )
    assert page["route"] == "region_select"
    assert page["data"]["regions"] == ["DK1", "DK2"]
    assert page["data"]["region"] is None
    await client.error(
        token, "data_json_invalid", route="region_select", data={"region": "DK9"}
    )
    page = await client.page(token, route="region_select", data={"region": "DK1"})
    assert page["route"] == "tariff_summary"
    assert page["data"]["connection_type"] == "MARKET"
    assert page["data"]["market_rates_source"] is True
    assert page["data"]["currency_code"] == "DKK"
    location_id = (await client.retrieve(token))[1]["location_id"]
    assert state.locations[location_id]["timezone"] == "Europe/Copenhagen"

    # Zero's market_surcharge_capture carried the region itself.
    zero = await client.token(postal_address={"city": "Aarhus", "country_code": "DK"})
    await client.start(zero)
    await client.page(zero, route="provider_select", action="PROVIDER_MISSING")
    await client.page(
        zero, route="provider_name_capture", data={"provider": {"name": "Norlys"}}
    )
    await client.page(
        zero, route="tariff_structure_select", data={"options": ["MARKET"]}
    )
    surcharge = {"fixed": 0, "percentage": 0}
    await client.error(
        zero,
        "market_region_invalid",
        route="market_surcharge_capture",
        data={"surcharge": surcharge, "region": "SE3"},
    )
    page = await client.page(
        zero,
        route="market_surcharge_capture",
        data={"surcharge": surcharge, "region": "DK2"},
    )
    assert page["route"] == "tariff_summary"


async def test_library_tariff_name_and_contract_term(
    client: Client, state: SimulatorState, providers: ConnectProviders
) -> None:
    """The library, TARIFF_MISSING, and the optional name and contract pages."""
    options = {"tariff_name_capture": True, "contract_term_capture": True}
    token = await client.token(
        postal_address=LONDON, route_options=options, direction="EXPORT"
    )
    page = await client.start(token)
    assert page["direction"] == "EXPORT"
    page = await client.page(
        token, route="provider_select", data={"provider": {"id": providers.library_id}}
    )
    assert page["route"] == "tariff_select"
    assert page["actions"] == ["TARIFF_MISSING", "BACK", "CLOSE"]
    assert [tariff["name"] for tariff in page["data"]["tariffs"]] == [
        "Standard Variable",
        "Economy 7",
    ]
    assert set(page["data"]["tariffs"][0]) == {"id", "name", "description"}
    route = "tariff_select"
    for tariff, code in [
        ({}, "tariff_id_missing"),
        ({"id": "trt_nope"}, "tariff_not_found"),
        ({"id": "trt_650000000000000000000003"}, "tariff_id_invalid"),  # Octopus Go
        ({"id": 1}, "data_json_invalid"),
    ]:
        await client.error(token, code, route=route, data={"tariff": tariff})
    page = await client.page(
        token, route=route, data={"tariff": {"id": providers.economy7_tariff_id}}
    )
    # A library tariff has its name: straight to the contract term.
    assert page["route"] == "contract_term_capture"
    assert page["data"] == {
        "provider": page["data"]["provider"],
        "contract_start_date": None,
        "contract_end_date": None,
        "contract_term_type": "",
    }
    route = "contract_term_capture"
    await client.error(
        token, "date_format_invalid", route=route, data={"contract_end_date": "2027"}
    )
    await client.error(
        token, "data_json_invalid", route=route, data={"contract_term_type": "WEEKLY"}
    )
    # The WEB client's shape: only the end date, with milliseconds.
    page = await client.page(
        token, route=route, data={"contract_end_date": "2027-03-31T23:00:00.000Z"}
    )
    assert page["route"] == "tariff_summary"
    assert page["data"]["connection_type"] == "LIBRARY"
    assert page["data"]["tariff"]["name"] == "Economy 7"
    assert page["data"]["tariff"]["contract_term_type"] == "FIXED"
    location_id = (await client.retrieve(token))[1]["location_id"]
    entry = state.location_status(location_id)["tariff_status"]["commodity_export"]
    assert entry["tariff"]["contract_end_date"] == "2027-03-31T23:00:00Z"
    night = state.price_slots(
        location_id,
        "EXPORT",
        datetime(2026, 3, 28, 2, tzinfo=UTC),
        datetime(2026, 3, 28, 3, tzinfo=UTC),
    )
    assert {slot.value for slot in night} == {0.12}

    # TARIFF_MISSING: by hand, then the name page, then the term skipped (no data).
    other = await client.token(postal_address=LONDON, route_options=options)
    await client.start(other)
    await client.page(
        other, route="provider_select", data={"provider": {"id": providers.library_id}}
    )
    page = await client.page(other, route="tariff_select", action="TARIFF_MISSING")
    assert page["route"] == "tariff_structure_select"
    await client.page(
        other, route="tariff_structure_select", data={"options": ["FIXED"]}
    )
    page = await client.page(other, route="rate_fixed_capture", data={"cost": 0.3})
    assert page["route"] == "tariff_name_capture"
    assert page["data"]["tariff"] == {"name": ""}
    await client.error(
        other, "tariff_name_missing", route="tariff_name_capture", data={"tariff": {}}
    )
    await client.page(
        other, route="tariff_name_capture", data={"tariff": {"name": "My tariff"}}
    )
    page = await client.page(other, route="contract_term_capture")
    assert page["data"]["tariff"]["name"] == "My tariff"
    assert page["data"]["tariff"]["contract_term_type"] == "UNTIL_TERMINATED"
    # The docs' shape with all three fields.
    third = await client.token(
        postal_address=LONDON, route_options={"contract_term_capture": True}
    )
    await client.start(third)
    await client.manual_fixed(third)
    page = await client.page(
        third,
        route="contract_term_capture",
        data={
            "contract_start_date": "2026-01-01T00:00:00Z",
            "contract_end_date": None,
            "contract_term_type": "UNTIL_TERMINATED",
        },
    )
    assert page["data"]["tariff"]["contract_start_date"] == "2026-01-01T00:00:00Z"


async def test_advanced_capture_only_when_enabled(client: Client) -> None:
    """ADVANCED is offered with advanced_tariff_capture and takes a schedule."""
    token = await client.token(
        postal_address=LONDON, route_options={"advanced_tariff_capture": True}
    )
    await client.start(token)
    page = await client.page(
        token,
        route="provider_select",
        data={"provider": {"id": "prv_650000000000000000000003"}},
    )
    assert page["data"]["options"] == ["FIXED", "TIME_OF_DAY", "MARKET", "ADVANCED"]
    page = await client.page(
        token, route="tariff_structure_select", data={"options": ["ADVANCED"]}
    )
    assert page["route"] == "rate_advanced_capture"
    assert page["data"]["tariff"]["schedule"] == []
    await client.error(
        token, "data_json_invalid", route="rate_advanced_capture", data={"tariff": {}}
    )
    schedule = [
        {
            "months": ["All"],
            "days_and_hours": [
                {
                    "days": ["All"],
                    "hours": [
                        {
                            "valid_from": "00:00:00",
                            "valid_to": "00:00:00",
                            "rate": [{"fixed": 0.21, "to_kwh": None}],
                        }
                    ],
                }
            ],
        }
    ]
    page = await client.page(
        token,
        route="rate_advanced_capture",
        data={"tariff": {"market_rates": False, "schedule": schedule}},
    )
    assert page["route"] == "tariff_summary"
    assert page["data"]["rates"]["today"][0]["tariff"]["cost"] == 0.21


# -- DIRECT providers ----------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint that records what it gets."""

    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(json.loads(await request.read()))
        return web.Response()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on loopback."""
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield target
    await runner.cleanup()


async def test_direct_login_without_a_browser(
    client: Client,
    state: SimulatorState,
    providers: ConnectProviders,
    receiver: Receiver,
) -> None:
    """Select, follow redirect_url, log in, come back with fp_cot, resume, deliver."""
    async with client.session.post(
        f"{client.simulator.url}/_sim/webhook", json={"url": receiver.url}
    ) as response:
        assert response.status == 200
    token = await client.token(postal_address=LONDON)
    await client.start(token)
    page = await client.page(
        token, route="provider_select", data={"provider": {"id": providers.direct_id}}
    )
    assert page["route"] == "session_redirect"
    assert "actions" not in page
    login_url = page["data"]["redirect_url"]
    assert login_url == (
        f"{client.simulator.connect_url}/providers/{providers.direct_id}/login"
    )
    # Abandoned in the browser: session_start answers the same page.
    assert (await client.start(token))["data"]["redirect_url"] == login_url

    params = {"fp_cot": token, "flow_id": "abc"}
    async with client.session.get(login_url, params=params) as response:
        assert response.status == 200
        html = await response.text()
    assert "<form method='post'>" in html
    assert f"name='fp_cot' value='{token}'" in html
    assert "name='flow_id' value='abc'" in html
    form = {**params, "username": providers.direct_username, "password": "wrong"}
    async with client.session.post(login_url, data=form) as response:
        assert response.status == 401
        assert "Wrong username or password" in await response.text()
    form["password"] = providers.direct_password
    async with client.session.post(
        login_url, data=form, allow_redirects=False
    ) as response:
        assert response.status == 302
        auth = response.headers["Location"]
    assert auth == f"/auth?connect_token={token}&flow_id=abc"
    async with client.session.get(
        f"{client.simulator.connect_url}{auth}", allow_redirects=False
    ) as response:
        assert response.status == 302
        # The deep link is kept as it is, with fp_cot and the extra parameters.
        assert response.headers["Location"] == (
            f"{CONNECT_URL}&fp_cot={token}&flow_id=abc"
        )
    page = await client.start(token)
    assert page["route"] == "tariff_summary"
    assert page["data"]["connection_type"] == "DIRECT"
    assert page["data"]["tariff"]["name"] == "Agile Octopus"
    assert page["data"]["provider"]["id"] == providers.direct_id

    async with client.session.get(
        f"{client.simulator.url}/_sim/deliveries"
    ) as response:
        deliveries = (await response.json())["deliveries"]
    assert [(item["type"], item["delivered"]) for item in deliveries] == [
        ("connect_session.complete", True)
    ]
    (event,) = receiver.received
    location_id = (await client.retrieve(token))[1]["location_id"]
    assert event["data"]["location_id"] == location_id
    assert state.calls["connect_login"] == 3
    assert state.calls["connect_auth"] == 1
    assert state.calls["connect"] == 4


async def test_direct_login_in_one_get_and_token_in_redirect_url(
    client: Client, state: SimulatorState, providers: ConnectProviders
) -> None:
    """A GET with credentials logs in at once; redirect_url may carry fp_cot."""
    state.connect.redirect_url_has_token = True
    token = await client.token(postal_address=LONDON)
    await client.start(token)
    page = await client.page(
        token, route="provider_select", data={"provider": {"id": providers.direct_id}}
    )
    login_url = page["data"]["redirect_url"]
    assert login_url.endswith(f"/login?fp_cot={token}")
    async with client.session.get(
        login_url,
        params={
            "username": providers.direct_username,
            "password": providers.direct_password,
        },
        allow_redirects=False,
    ) as response:
        assert response.status == 302
    assert (await client.start(token))["route"] == "tariff_summary"
    # The page refuses used, unknown and missing tokens, and unknown providers.
    await client.page(token, route="tariff_summary", action="CLOSE")
    async with client.session.get(login_url) as response:
        assert response.status == 400
    async with client.session.get(
        f"{client.simulator.connect_url}/providers/prv_nope/login"
    ) as response:
        assert response.status == 404


async def test_direct_decline_pending_and_failed(
    client: Client, state: SimulatorState, providers: ConnectProviders
) -> None:
    """Declining falls back to the library; pending waits for rates; failed retries."""
    token = await client.token(postal_address=LONDON)
    await client.start(token)
    page = await client.page(
        token, route="provider_select", data={"provider": {"id": providers.direct_id}}
    )
    login_url = page["data"]["redirect_url"]
    async with client.session.post(
        login_url, data={"fp_cot": token, "decision": "decline"}, allow_redirects=False
    ) as response:
        assert response.status == 302
    page = await client.start(token)
    assert page["route"] == "tariff_select"
    assert [tariff["name"] for tariff in page["data"]["tariffs"]] == ["Octopus Go"]
    page = await client.page(token, route="tariff_select", action="BACK")
    assert page["route"] == "provider_select"

    direct = state.connect.providers[providers.direct_id].direct
    assert direct is not None
    direct.outcome = "PENDING"
    pending = await client.token(postal_address=LONDON, location_reference_id="Flat")
    await login(client, pending, providers)
    page = await client.start(pending)
    assert page["route"] == "tariff_connection_pending"
    assert page["actions"] == ["EDIT", "DISCONNECT", "BACK", "CLOSE"]
    assert page["data"]["connection_type"] == "DIRECT"
    _, body = await client.retrieve(pending)
    assert (body["complete_action"], body["is_tariff_processed"]) == ("SAVE", False)
    location_id = body["location_id"]
    status, answer = await client.api(
        "POST", f"/prices/{location_id}", {"end_time": "2026-03-29T00:00:00Z"}
    )
    assert (status, answer["code"]) == (422, "pending_connect")
    assert not state.events
    await client.error(pending, "action_missing", route="tariff_connection_pending")
    async with client.session.post(
        f"{client.simulator.url}/_sim/connect_finish", json={"connect_token": pending}
    ) as response:
        (event,) = (await response.json())["events"]
    assert event["type"] == "connect_session.complete"
    assert (await client.retrieve(pending))[1]["is_tariff_processed"] is True
    assert (await client.start(pending))["route"] == "tariff_summary"
    status, _ = await client.api(
        "POST", f"/prices/{location_id}", {"end_time": "2026-03-29T00:00:00Z"}
    )
    assert status == 200

    direct.outcome = "FAILED"
    failed = await client.token(postal_address=LONDON)
    await login(client, failed, providers)
    page = await client.start(failed)
    assert page["route"] == "tariff_connection_failed"
    assert page["actions"] == ["EDIT", "DISCONNECT", "BACK", "CLOSE"]
    assert (await client.retrieve(failed))[1]["location_id"] is None
    # RECONNECT (the WEB client's types) goes back to the login.
    page = await client.page(
        failed, route="tariff_connection_failed", action="RECONNECT"
    )
    assert page["route"] == "session_redirect"
    direct.outcome = "CONNECTED"
    await login(client, failed, providers)
    assert (await client.start(failed))["route"] == "tariff_summary"


async def login(client: Client, token: str, providers: ConnectProviders) -> None:
    """Pick the DIRECT provider (unless on its redirect already) and log in."""
    page = await client.start(token)
    if page["route"] != "session_redirect":
        page = await client.page(
            token,
            route="provider_select",
            data={"provider": {"id": providers.direct_id}},
        )
    async with client.session.post(
        page["data"]["redirect_url"],
        data={
            "fp_cot": token,
            "username": providers.direct_username,
            "password": providers.direct_password,
        },
        allow_redirects=False,
    ) as response:
        assert response.status == 302


# -- sessions on an existing location ------------------------------------------------


def connected_location(state: SimulatorState) -> str:
    """Seed a location with a connected import tariff and prices."""
    location_id = str(state.add_location(ACCOUNT, reference_id="Home")["id"])
    state.set_status(
        location_id, tariff_name="Flexible Octopus", structure_type="FIXED"
    )
    state.set_price_pattern(location_id, lambda _start: 0.2)
    return location_id


async def test_summary_actions_on_an_existing_location(
    client: Client, state: SimulatorState
) -> None:
    """location_id opens on the summary: WRONG_TARIFF, EDIT, BACK, DISCONNECT."""
    location_id = connected_location(state)
    token = await client.token(location_id=location_id)
    page = await client.start(token)
    assert page["route"] == "tariff_summary"
    assert page["data"]["tariff"]["name"] == "Flexible Octopus"
    assert page["data"]["rates"]["yesterday"][0]["tariff"]["cost"] == 0.2
    route = "tariff_summary"
    await client.error(token, "action_missing", route=route)
    await client.error(token, "action_missing", route=route, data={"x": 1})
    await client.error(token, "action_invalid", route=route, action="SAVE")
    page = await client.page(token, route=route, action="WRONG_TARIFF")
    assert page["route"] == route
    assert "WRONG_TARIFF" not in page["actions"]
    await client.error(token, "action_invalid", route=route, action="WRONG_TARIFF")
    assert state.connect.wrong_tariff_reports == [token]
    # Zero's summary name is accepted for the same page.
    page = await client.page(token, route="summary_fixed_confirm", action="EDIT")
    assert page["route"] == "provider_select"
    assert page["data"]["postal_address"]["city"] == "London"
    assert (
        state.location_status(location_id)["tariff_status"]["commodity_import"][
            "status"
        ]
        == "CONNECTED"
    )
    page = await client.page(token, route="provider_select", action="BACK")
    assert page["route"] == route
    page = await client.page(token, route=route, action="DISCONNECT")
    assert page["data"]["redirect_url"] == f"{CALLBACK_URL}&fp_cot={token}"
    entry = state.location_status(location_id)["tariff_status"]["commodity_import"]
    assert entry == {"status": "NOT_CONNECTED"}
    status, answer = await client.api(
        "POST", f"/prices/{location_id}", {"end_time": "2026-03-29T00:00:00Z"}
    )
    assert (status, answer["code"]) == (422, "no_tariff_connected")
    _, body = await client.retrieve(token)
    assert (body["complete_action"], body["location_id"]) == ("DISCONNECT", location_id)
    await client.error(token, "connect_token_used", route="session_start")


async def test_existing_pending_and_failed_locations(
    client: Client, state: SimulatorState
) -> None:
    """A location still being fetched opens on pending; an ERROR one on failed."""
    location_id = connected_location(state)
    state.set_prices_error(location_id, "pending_connect")
    token = await client.token(location_id=location_id)
    page = await client.start(token)
    assert page["route"] == "tariff_connection_pending"
    assert page["data"]["connection_type"] == "DIRECT"
    assert page["data"]["provider"]["display_name"] == "Octopus Energy"
    # DISMISS_DIRECT (the WEB client's types): a provider Connect does not list
    # has no pages to fall back to, so the choice starts again.
    page = await client.page(
        token, route="tariff_connection_pending", action="DISMISS_DIRECT"
    )
    assert page["route"] == "provider_select"

    state.set_status(location_id, status="ERROR")
    failed = await client.token(location_id=location_id)
    page = await client.start(failed)
    assert page["route"] == "tariff_connection_failed"
    # The leftover Zero name of the failed page, as in the docs' BACK example.
    page = await client.page(failed, route="summary_tariff_failed", action="EDIT")
    assert page["route"] == "provider_select"


async def test_disconnect_edit_and_tariff_id_tokens(
    client: Client, state: SimulatorState
) -> None:
    """actions.disconnect_tariff needs no session; edit_tariff starts at providers."""
    location_id = connected_location(state)
    tariff_id = state.tariff_id(location_id)
    editing = await client.token(location_id=location_id, actions={"edit_tariff": True})
    page = await client.start(editing)
    assert page["route"] == "provider_select"
    assert state.tariff_id(location_id) == tariff_id

    # tariff_id alone names the location; the new capture keeps the tariff's id.
    by_tariff = await client.token(tariff_id=tariff_id)
    assert (await client.start(by_tariff))["route"] == "tariff_summary"
    await client.page(by_tariff, route="tariff_summary", action="EDIT")
    page = await client.manual_fixed(by_tariff, cost=0.31)
    assert page["data"]["rates"]["today"][0]["tariff"]["cost"] == 0.31
    assert state.tariff_id(location_id) == tariff_id

    token = await client.token(
        location_id=location_id, actions={"disconnect_tariff": True}
    )
    assert state.location_status(location_id)["tariff_status"]["commodity_import"] == {
        "status": "NOT_CONNECTED"
    }
    _, body = await client.retrieve(token)
    assert body["complete_action"] == "DISCONNECT"
    await client.error(token, "connect_token_used", route="session_start")


async def test_non_commodity_and_export_slots(
    client: Client, state: SimulatorState
) -> None:
    """type/direction choose the status slot; grid fees leave the prices alone."""
    location_id = str(state.add_location(ACCOUNT)["id"])
    token = await client.token(location_id=location_id, type="NON_COMMODITY")
    assert (await client.start(token))["route"] == "provider_select"
    page = await client.manual_fixed(token)
    assert page["data"]["rates"]["today"] == []
    slots = state.location_status(location_id)["tariff_status"]
    assert slots["non_commodity_import"]["status"] == "CONNECTED"
    assert slots["commodity_import"]["status"] == "NOT_CONNECTED"
    assert state.price_feed(location_id, "IMPORT") is None


# -- faults, control API, command line -----------------------------------------------


async def test_connect_faults_and_outage(client: Client, state: SimulatorState) -> None:
    """Faults apply to the Connect routes too, and the `*` outage covers Connect."""
    token = await client.token()
    state.inject_fault("connect", status=500)
    status, body = await client.post({"connect_token": token, "route": "session_start"})
    assert (status, body["type"]) == (500, "api_error")
    state.inject_fault(ANY_ROUTE, status=503, times=None)
    status, _ = await client.post({"connect_token": token, "route": "session_start"})
    assert status == 503
    status, _ = await client.api(
        "POST",
        "/connect/token",
        {"connect_url": CONNECT_URL, "callback_url": CALLBACK_URL},
    )
    assert status == 503
    state.clear_faults()
    assert (await client.start(token))["route"] == "postal_address_capture"
    assert state.calls["connect"] == 3


async def test_control_endpoints_for_connect(client: Client, clock: Clock) -> None:
    """Providers, switches, session views and token expiry over HTTP."""

    async def control(name: str, body: Any = None) -> Any:
        method = "GET" if body is None else "POST"
        async with client.session.request(
            method, f"{client.simulator.url}/_sim/{name}", json=body
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    ids = await control("connect_providers", {})
    assert ids["direct_id"] == "prv_650000000000000000000001"
    provider = await control(
        "connect_provider",
        {
            "display_name": "Octopus Energy",
            "provider_id": ids["direct_id"],
            "direct": {"username": "u", "password": "p", "outcome": "PENDING"},
        },
    )
    assert provider["direct"] is True
    library = await control(
        "connect_provider",
        {
            "display_name": "Ovo",
            "tariffs": [
                {
                    "name": "Ovo Night",
                    "hours": [
                        {"valid_from": "00:00", "valid_to": "06:00", "cost": 0.1},
                        {"valid_from": "06:00", "valid_to": "00:00", "cost": 0.3},
                    ],
                }
            ],
        },
    )
    assert library["tariffs"][0]["name"] == "Ovo Night"
    settings = await control(
        "connect_settings", {"token_lifetime": 60, "end_route": "session_complete"}
    )
    assert settings == {
        "token_lifetime": 60,
        "single_use": True,
        "end_route": "session_complete",
        "redirect_url_has_token": False,
        "web_actions": False,
        "error_route": False,
        "later_pages": {},
    }
    settings = await control(
        "connect_settings",
        {
            "web_actions": True,
            "error_route": True,
            "later_pages": {"tariff_summary": {"route": "tariff_review"}},
        },
    )
    assert settings["later_pages"] == {
        "tariff_summary": {
            "route": "tariff_review",
            "actions": ["CONTINUE", "BACK", "CLOSE"],
            "data": {},
        }
    }
    assert (settings["web_actions"], settings["error_route"]) == (True, True)
    await control(
        "connect_settings",
        {"web_actions": False, "error_route": False, "later_pages": {}},
    )
    token = await client.token(postal_address=LONDON)
    await client.start(token)
    page = await client.page(
        token, route="provider_select", data={"provider": {"id": library["id"]}}
    )
    assert page["data"]["tariffs"][0]["name"] == "Ovo Night"
    view = await control("connect_session", {"connect_token": token})
    assert (view["route"], view["history"]) == ("tariff_select", ["provider_select"])
    await control("expire_connect_tokens", {})
    await client.error(token, "connect_token_expired", route="session_start")
    async with client.session.post(
        f"{client.simulator.url}/_sim/connect_settings", json={"end_route": "x"}
    ) as response:
        assert response.status == 400
    await control("webhook", {"url": None})
    assert (await control("deliveries"))["deliveries"] == []
    calls = await control("calls")
    assert calls["calls"]["connect"] == 3


def test_command_line_serves_connect() -> None:
    """The process prints both URLs; Connect answers on the second."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        api_line = process.stdout.readline()
        connect_line = process.stdout.readline()
        assert "Flatpeak simulator listening on" in api_line
        match = re.search(r"http://127\.0\.0\.1:\d+", connect_line)
        assert match, connect_line
        assert "Connect" in connect_line
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL
            match.group(0) + "/",
            data=b'{"connect_token": "cot_x", "route": "session_start"}',
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        assert failed.value.code == 400
        assert json.loads(failed.value.read())["code"] == "connect_token_invalid"
        failed.value.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_demo_seeds_connect_providers() -> None:
    """The demo offers the DIRECT, library and by-hand providers."""
    state = SimulatorState()
    demo = seed_demo(state)
    assert set(state.connect.providers) == {
        demo.connect.direct_id,
        demo.connect.library_id,
        demo.connect.manual_id,
    }
    direct = state.connect.providers[demo.connect.direct_id].direct
    assert isinstance(direct, DirectLogin)


# -- what the reference client knows beyond the docs, and later releases --------------


async def test_web_actions_listed_for_a_direct_login(
    client: Client, state: SimulatorState, providers: ConnectProviders
) -> None:
    """With the switch, pending lists DISMISS_DIRECT and failed lists RECONNECT (§2)."""
    state.connect.web_actions = True
    direct = state.connect.providers[providers.direct_id].direct
    assert direct is not None
    direct.outcome = "PENDING"
    pending = await client.token(postal_address=LONDON)
    await login(client, pending, providers)
    page = await client.start(pending)
    assert page["actions"] == ["EDIT", "DISCONNECT", "DISMISS_DIRECT", "BACK", "CLOSE"]
    page = await client.page(
        pending, route="tariff_connection_pending", action="DISMISS_DIRECT"
    )
    assert page["route"] == "tariff_select"

    direct.outcome = "FAILED"
    failed = await client.token(postal_address=LONDON)
    await login(client, failed, providers)
    page = await client.start(failed)
    assert page["actions"] == ["EDIT", "DISCONNECT", "RECONNECT", "BACK", "CLOSE"]
    # Not for a location opened on its failed tariff: no DIRECT login is known.
    location_id = connected_location(state)
    state.set_status(location_id, status="ERROR")
    opened = await client.token(location_id=location_id)
    page = await client.start(opened)
    assert page["route"] == "tariff_connection_failed"
    assert page["actions"] == ["EDIT", "DISCONNECT", "BACK", "CLOSE"]


async def test_error_route_instead_of_error_objects(
    client: Client, state: SimulatorState
) -> None:
    """With the switch, a refusal is the `error` page; the session stays (§2)."""
    state.connect.error_route = True
    token = await client.token()
    await client.start(token)
    page = await client.page(
        token,
        route="postal_address_capture",
        data={"postal_address": {"country_code": "GB"}},
    )
    assert page["route"] == "error"
    assert page["data"] == {
        "error_code": "city_missing",
        "error_message": "city is required",
    }
    assert (await client.start(token))["route"] == "postal_address_capture"
    # Token errors stay error objects: there is no session to render a page in.
    await client.error("cot_unknown", "connect_token_invalid", route="session_start")


async def test_later_page_before_an_anode_page(
    client: Client, state: SimulatorState
) -> None:
    """A later release's page comes once before its Anode page; CONTINUE goes on."""
    state.connect.later_pages["tariff_summary"] = LaterPage(
        route="tariff_review",
        actions=("CONTINUE", "EDIT", "BACK", "CLOSE"),
        data={"note": "new"},
    )
    token = await client.token(postal_address=LONDON)
    await client.start(token)
    page = await client.manual_fixed(token)
    assert (page["route"], page["actions"], page["data"]) == (
        "tariff_review",
        ["CONTINUE", "EDIT", "BACK", "CLOSE"],
        {"note": "new"},
    )
    await client.error(token, "action_missing", route="tariff_review", data={})
    await client.error(token, "action_invalid", route="tariff_review", action="SAVE")
    page = await client.page(token, route="tariff_review", action="CONTINUE")
    assert page["route"] == "tariff_summary"
    # BACK from the summary skips the later page: it was the rate page before it.
    page = await client.page(token, route="tariff_summary", action="BACK")
    assert page["route"] == "rate_fixed_capture"
    page = await client.page(token, route="rate_fixed_capture", data={"cost": 0.3})
    assert page["route"] == "tariff_summary"
    # Its Anode actions work as anywhere.
    again = await client.token(postal_address=LONDON)
    await client.start(again)
    await client.manual_fixed(again)
    page = await client.page(again, route="tariff_review", action="EDIT")
    assert page["route"] == "provider_select"


async def test_wrong_tariff_reported_by_another_session(
    client: Client, state: SimulatorState
) -> None:
    """A tariff reported in one session is not offered, nor taken, in another (§2)."""
    location_id = connected_location(state)
    first = await client.token(location_id=location_id)
    second = await client.token(location_id=location_id)
    assert "WRONG_TARIFF" in (await client.start(second))["actions"]
    await client.start(first)
    await client.page(first, route="tariff_summary", action="WRONG_TARIFF")
    await client.error(
        second, "action_invalid", route="tariff_summary", action="WRONG_TARIFF"
    )
    assert "WRONG_TARIFF" not in (await client.start(second))["actions"]


@pytest.mark.parametrize("end_route", ["session_complete", "complete_tariff"])
async def test_older_end_pages(
    client: Client, state: SimulatorState, end_route: str
) -> None:
    """Zero's session_complete and the legacy complete_tariff carry the callback (§2)."""
    state.connect.end_route = end_route  # type: ignore[assignment]
    token = await client.token()
    await client.start(token)
    page = await client.page(token, route="postal_address_capture", action="CLOSE")
    assert page["route"] == end_route
    assert "actions" not in page
    assert page["data"] == {"callback_uri": f"{CALLBACK_URL}&fp_cot={token}"}
