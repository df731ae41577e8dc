"""Tests for the Connect client, its pages and helpers, against a small Connect server.

The server below follows connect.md: the Flatpeak API's connect-token routes, and the
one Connect endpoint that answers each request with the next page or an error object.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
import socket
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.flatpeak.api.client import FlatpeakClient
from custom_components.flatpeak.api.connect import (
    DEFAULT_CONNECT_API_URL,
    ConnectClient,
    ConnectSession,
    PriceUnit,
    check_time_of_day_cover,
    connect_error,
    connect_token_from_url,
    currency_exponent,
    is_session_end,
    price_from_connect,
    price_to_connect,
    time_of_day_rate,
    with_connect_token,
)
from custom_components.flatpeak.api.connect_models import (
    AdvancedRateCaptureData,
    ConnectPage,
    ConnectProvider,
    ConnectRouteOptions,
    ConnectToken,
    ContractTermCaptureData,
    FixedRateCaptureData,
    LibraryTariff,
    PostalAddressCaptureData,
    ProviderNameCaptureData,
    ProviderSelectData,
    RegionSelectData,
    SessionCompleteData,
    SessionRedirectData,
    StructureSelectData,
    SurchargeCaptureData,
    TariffNameCaptureData,
    TariffSelectData,
    TariffSummaryData,
    TimeOfDayCaptureData,
    TimeOfDayRate,
    UnknownPageData,
    format_time_of_day,
    parse_time_of_day,
)
from custom_components.flatpeak.api.exceptions import (
    FlatpeakApiError,
    FlatpeakConnectError,
    FlatpeakConnectionError,
    FlatpeakConnectTokenError,
    FlatpeakNotFoundError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
    FlatpeakServerError,
    FlatpeakTimeOfDayCoverError,
    FlatpeakTimeoutError,
)
from custom_components.flatpeak.api.models import PostalAddress

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

ACCOUNT = "acc_661677911f2197045e6cf1b1"
KEY = "sk_test_687b8977879fd796a86faa03"
CALLBACK = "https://ha.example/api/flatpeak/connect/callback"
CONNECT_URL = "https://ha.example/api/flatpeak/connect/return"
PROVIDER = {
    "id": "prv_1",
    "display_name": "Acme Energy",
    "logo_url": "https://logo.example/acme.png",
}
ADDRESS = {
    "address_line1": "1 High Street",
    "address_line2": "",
    "city": "London",
    "state": "",
    "post_code": "N1 1AA",
    "country_code": "GB",
}


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error object as connect.md §2 "Errors" describes it."""
    return {
        "object": "error",
        "live_mode": False,
        "type": "invalid_request",
        "code": code,
        "message": message,
        "time_created": "2026-06-01T12:00:00Z",
        **extra,
    }


@dataclass
class FakeFlatpeak:
    """The connect-token routes of the API and a small Connect, per connect.md."""

    new_token_path: bool = True
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    connect_bodies: list[dict[str, Any]] = field(default_factory=list)
    # Replies the Connect endpoint gives before it plays the conversation: status, body.
    scripted: list[tuple[int, Any]] = field(default_factory=list)
    delay: float = 0.0
    next_token: int = 0

    def app(self) -> web.Application:
        """The aiohttp application serving both hosts' routes."""
        app = web.Application()
        app.router.add_get("/login", self.login)
        app.router.add_post("/connect/token", self.create_token)
        app.router.add_post("/connect/tariff/token", self.create_token)
        app.router.add_get("/connect/tariff/token", self.get_token)
        app.router.add_post("/", self.connect)
        return app

    async def login(self, request: web.Request) -> web.Response:
        """Hand out a bearer for any basic credentials."""
        return web.json_response(
            {"bearer_token": "bt_1", "expires_in": 3600, "live_mode": False}
        )

    async def create_token(self, request: web.Request) -> web.Response:
        """`POST /connect/token` (Anode) or `/connect/tariff/token` (older docs)."""
        if request.headers.get("Authorization") != "Bearer bt_1":
            return web.json_response({"message": "Bad credentials"}, status=403)
        if request.path == "/connect/token" and not self.new_token_path:
            return web.json_response({"message": "Not Found"}, status=404)
        body = await request.json()
        self.token_bodies.append((request.path, body))
        if body.get("location_id") == "loc_unknown":
            return web.json_response(
                {"code": "location_not_found", "message": "No such location"},
                status=404,
            )
        self.next_token += 1
        token = f"cot_{self.next_token}"
        self.sessions[token] = {"route": "provider_select", "body": body}
        # connect.md §1: one doc example gives expires_in as a string.
        return web.json_response(
            {"connect_token": token, "expires_in": "86400", "live_mode": False}
        )

    async def get_token(self, request: web.Request) -> web.Response:
        """`GET /connect/tariff/token?connect_token=…` (connect.md §4)."""
        token = request.query.get("connect_token", "")
        session = self.sessions.get(token)
        if session is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(
            {
                "id": token,
                "object": "connect_token",
                "live_mode": False,
                "customer_id": "cus_1",
                "customer_reference_id": None,
                "location_id": session.get("location_id"),
                "location_reference_id": "home",
                "tariff_available": session.get("location_id") is not None,
                "complete_action": session.get("complete_action", ""),
                "time_created": "2026-06-01T12:00:00Z",
                "time_expiry": "2026-06-02T12:00:00Z",
                "unknown_field": {"nested": True},
            }
        )

    async def connect(self, request: web.Request) -> web.Response:
        """The Connect endpoint: the next page, or an error object."""
        body = await request.json()
        self.connect_bodies.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.scripted:
            status, reply = self.scripted.pop(0)
            if isinstance(reply, bytes):
                return web.Response(body=reply, status=status)
            return web.json_response(reply, status=status)
        token = body.get("connect_token")
        session = self.sessions.get(token or "")
        if session is None:
            return web.json_response(
                _error("connect_token_invalid", "Token expired"), status=400
            )
        route = body.get("route")
        if route == "session_start":
            return self._page(token, session)
        if route != session["route"]:
            return web.json_response(_error("route_invalid", "Not here"), status=400)
        return self._answer(token, session, body)

    def _answer(
        self, token: str, session: dict[str, Any], body: dict[str, Any]
    ) -> web.Response:
        action, data = body.get("action"), body.get("data")
        route = session["route"]
        if route == "provider_select":
            if data is None or "id" not in data.get("provider", {}):
                return web.json_response(
                    _error("provider_id_missing", "Choose a provider"), status=400
                )
            if data["provider"]["id"] == "prv_direct":
                return self._redirect(token, "https://acme.connect.flatpeak.com/")
            session["route"] = "tariff_structure_select"
        elif route == "tariff_structure_select":
            session["route"] = {
                "FIXED": "rate_fixed_capture",
                "TIME_OF_DAY": "rate_tod_capture",
            }[data["options"][0]]
        elif route in {"rate_fixed_capture", "rate_tod_capture"}:
            session["route"] = "tariff_summary"
            session["location_id"] = "loc_new"
            session["complete_action"] = "SAVE"
        elif route == "tariff_summary" and action in {"CLOSE", "DISCONNECT"}:
            if action == "DISCONNECT":
                session["complete_action"] = "DISCONNECT"
            # connect.md §4 (INFERRED): the session ends in a redirect to callback_url.
            return self._redirect(token, session["body"]["callback_url"])
        return self._page(token, session)

    def _redirect(self, token: str, url: str) -> web.Response:
        return web.json_response(
            {
                "connect_token": token,
                "route": "session_redirect",
                "live_mode": False,
                "data": {"redirect_url": f"{url}?fp_cot={token}"},
            }
        )

    def _page(self, token: str, session: dict[str, Any]) -> web.Response:
        route = session["route"]
        return web.json_response(
            {
                "connect_token": token,
                "route": route,
                "type": "COMMODITY",
                "live_mode": False,
                "direction": "IMPORT",
                "actions": ["BACK", "CLOSE"],
                "data": PAGES[route]["data"],
            }
        )


@dataclass
class Running:
    """The fake served on a loopback port."""

    url: str
    fake: FakeFlatpeak


@pytest.fixture
async def flatpeak(socket_enabled: None) -> AsyncIterator[Running]:
    """The fake API and Connect, listening on loopback."""
    fake = FakeFlatpeak()
    runner = web.AppRunner(fake.app(), handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Running(f"http://127.0.0.1:{port}", fake)
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def _api(session: aiohttp.ClientSession, running: Running) -> FlatpeakClient:
    return FlatpeakClient(session, ACCOUNT, KEY, api_url=running.url)


def _connect(
    session: aiohttp.ClientSession, running: Running, **kwargs: float
) -> ConnectClient:
    # A trailing slash must not double up in the posted URL.
    return ConnectClient(session, connect_api_url=f"{running.url}/", **kwargs)


# One example page per route, shaped after connect.md §2, with an unknown field each.
PAGES: dict[str, dict[str, Any]] = {
    "postal_address_capture": {"data": {"postal_address": ADDRESS, "extra": 1}},
    "provider_select": {
        "data": {
            "postal_address": ADDRESS,
            "providers": [
                PROVIDER,
                {
                    "id": "prv_2",
                    "display_name": "Direct Co",
                    "integration_type": "DIRECT",
                },
                {"display_name": "No id"},
                "not an object",
            ],
        }
    },
    "provider_name_capture": {
        "data": {"postal_address": ADDRESS, "provider": {"name": ""}}
    },
    "tariff_select": {
        "data": {
            "provider": PROVIDER,
            "postal_address": ADDRESS,
            "tariffs": [
                {"id": "trt_1", "name": "Flex", "description": "Variable"},
                {"name": "No id"},
            ],
        }
    },
    "tariff_name_capture": {"data": {"provider": PROVIDER, "tariff": {"name": ""}}},
    "tariff_structure_select": {
        "data": {
            "provider": PROVIDER,
            "options": ["FIXED", "TIME_OF_DAY", "DYNAMIC", 3],
        }
    },
    "rate_fixed_capture": {
        "data": {"currency_code": "GBP", "provider": PROVIDER, "cost": 0}
    },
    "rate_tod_capture": {
        "data": {
            "currency_code": "GBP",
            "provider": PROVIDER,
            "hours": [
                {"cost": 0.3, "valid_from": "07:00:00", "valid_to": "00:00:00"},
                {"cost": 0.1, "valid_from": "00:00:00", "valid_to": "07:00:00"},
                {"cost": 0.2, "valid_from": "bad", "valid_to": "07:00:00"},
            ],
        }
    },
    "rate_advanced_capture": {
        "data": {
            "currency_code": "EUR",
            "provider": PROVIDER,
            "tariff": {"market_rates": False, "schedule": []},
        }
    },
    "surcharge_capture": {
        "data": {
            "currency_code": "EUR",
            "provider": PROVIDER,
            "surcharge": {"fixed": 0.02, "percentage": 18.5},
            "regions": ["CORS", "FR"],
        }
    },
    "region_select": {
        "data": {"provider": PROVIDER, "regions": ["CORS", "FR"], "region": "FR"}
    },
    "contract_term_capture": {
        "data": {
            "provider": PROVIDER,
            "contract_start_date": None,
            "contract_end_date": "2027-03-31T23:00:00.000Z",
            "contract_term_type": "",
        }
    },
    "tariff_summary": {
        "data": {
            "connection_type": "MANUAL",
            "currency_code": "GBP",
            "market_rates_source": False,
            "provider": PROVIDER,
            "tariff": {
                "status": "CONNECTED",
                "name": "Flex",
                "structure_type": "TIME_OF_DAY",
                "contract_start_date": None,
                "contract_end_date": "2027-03-31T00:00:00Z",
                "contract_term_type": "FIXED",
                "tiered": False,
            },
            "rates": {
                "yesterday": [],
                "today": [
                    {
                        "valid_from": "2026-06-01T07:00:00+01:00",
                        "valid_to": "2026-06-02T00:00:00+01:00",
                        "tariff": {"cost": 0.3, "confidence": 1},
                    },
                    {
                        "valid_from": "2026-06-01T00:00:00+01:00",
                        "valid_to": "2026-06-01T07:00:00+01:00",
                        "tariff": {"cost": 0.1, "confidence": 1},
                    },
                    {"valid_from": "not a time", "valid_to": "", "tariff": {}},
                ],
            },
        }
    },
    "tariff_connection_pending": {
        "data": {"connection_type": "DIRECT", "provider": PROVIDER}
    },
    "tariff_connection_failed": {
        "data": {"connection_type": "DIRECT", "provider": PROVIDER}
    },
    "session_redirect": {
        "data": {"redirect_url": "https://acme.connect.flatpeak.com/"}
    },
    "session_complete": {"data": {"callback_uri": f"{CALLBACK}?fp_cot=cot_1"}},
    "complete_tariff": {"data": {}},
}

_ACME = ConnectProvider(
    id="prv_1", display_name="Acme Energy", logo_url="https://logo.example/acme.png"
)
_ADDRESS = PostalAddress(
    address_line1="1 High Street", city="London", post_code="N1 1AA", country_code="GB"
)

EXPECTED: dict[str, object] = {
    "postal_address_capture": PostalAddressCaptureData(postal_address=_ADDRESS),
    "provider_select": ProviderSelectData(
        postal_address=_ADDRESS,
        providers=(
            _ACME,
            ConnectProvider(
                id="prv_2", display_name="Direct Co", integration_type="DIRECT"
            ),
        ),
    ),
    "provider_name_capture": ProviderNameCaptureData(postal_address=_ADDRESS),
    "tariff_select": TariffSelectData(
        provider=_ACME,
        postal_address=_ADDRESS,
        tariffs=(LibraryTariff(id="trt_1", name="Flex", description="Variable"),),
    ),
    "tariff_name_capture": TariffNameCaptureData(provider=_ACME),
    "tariff_structure_select": StructureSelectData(
        provider=_ACME, options=("FIXED", "TIME_OF_DAY", "DYNAMIC")
    ),
    "rate_fixed_capture": FixedRateCaptureData(
        provider=_ACME, currency_code="GBP", cost=0.0
    ),
    "rate_tod_capture": TimeOfDayCaptureData(
        provider=_ACME,
        currency_code="GBP",
        hours=(
            TimeOfDayRate(cost=0.3, valid_from=time(7), valid_to=time(0)),
            TimeOfDayRate(cost=0.1, valid_from=time(0), valid_to=time(7)),
        ),
    ),
    "rate_advanced_capture": AdvancedRateCaptureData(
        provider=_ACME,
        currency_code="EUR",
        tariff={"market_rates": False, "schedule": []},
    ),
    "surcharge_capture": SurchargeCaptureData(
        provider=_ACME,
        currency_code="EUR",
        fixed=0.02,
        percentage=18.5,
        regions=("CORS", "FR"),
    ),
    "region_select": RegionSelectData(
        provider=_ACME, regions=("CORS", "FR"), region="FR"
    ),
    "contract_term_capture": ContractTermCaptureData(
        provider=_ACME,
        contract_end_date=datetime(2027, 3, 31, 23, tzinfo=UTC),
    ),
    "tariff_connection_pending": TariffSummaryData(
        connection_type="DIRECT", provider=_ACME
    ),
    "tariff_connection_failed": TariffSummaryData(
        connection_type="DIRECT", provider=_ACME
    ),
    "session_redirect": SessionRedirectData(
        redirect_url="https://acme.connect.flatpeak.com/"
    ),
    "session_complete": SessionCompleteData(callback_url=f"{CALLBACK}?fp_cot=cot_1"),
    "complete_tariff": SessionCompleteData(),
}


def _page(route: str, **top: Any) -> dict[str, Any]:
    return {
        "connect_token": "cot_1",
        "route": route,
        "type": "render",
        "live_mode": False,
        "direction": "IMPORT",
        "actions": ["BACK", "CLOSE", "SOMETHING_NEW"],
        "data": PAGES[route]["data"] if route in PAGES else {"anything": [1, 2]},
        "unknown_top_level": True,
        **top,
    }


# Tokens


async def test_create_connect_token_sends_every_field(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """Every documented field reaches the token route; the reply is typed."""
    token = await _api(session, flatpeak).create_connect_token(
        connect_url=CONNECT_URL,
        callback_url=CALLBACK,
        location_reference_id="home",
        customer_reference_id="ha-1",
        tariff_id="trf_1",
        direction="EXPORT",
        tariff_type="NON_COMMODITY",
        edit_tariff=True,
        route_options=ConnectRouteOptions(
            tariff_name_capture=True, contract_term_capture=False
        ),
        postal_address=PostalAddress(city="London", country_code="GB"),
        postal_address_type="RESIDENTIAL",
    )
    assert token == ConnectToken(
        connect_token="cot_1", live_mode=False, expires_in=86400.0
    )
    assert flatpeak.fake.token_bodies == [
        (
            "/connect/token",
            {
                "connect_url": CONNECT_URL,
                "callback_url": CALLBACK,
                "location_reference_id": "home",
                "customer_reference_id": "ha-1",
                "tariff_id": "trf_1",
                "postal_address_type": "RESIDENTIAL",
                "tariff_direction": "EXPORT",
                "direction": "EXPORT",
                "tariff_type": "NON_COMMODITY",
                "type": "NON_COMMODITY",
                "actions": {"edit_tariff": True},
                "route_options": {
                    "tariff_name_capture": True,
                    "contract_term_capture": False,
                },
                "postal_address": {"city": "London", "country_code": "GB"},
            },
        )
    ]


async def test_create_connect_token_defaults_send_little(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """IMPORT and COMMODITY are the documented defaults, so neither spelling is sent."""
    await _api(session, flatpeak).create_connect_token(
        connect_url=CONNECT_URL,
        callback_url=CALLBACK,
        location_id="loc_1",
        customer_id="cus_1",
        tariff_type="COMMODITY",
        disconnect_tariff=True,
        route_options=ConnectRouteOptions(),
        postal_address=PostalAddress(),
    )
    assert flatpeak.fake.token_bodies[0][1] == {
        "connect_url": CONNECT_URL,
        "callback_url": CALLBACK,
        "location_id": "loc_1",
        "customer_id": "cus_1",
        "actions": {"disconnect_tariff": True},
    }


async def test_location_id_and_reference_are_exclusive(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """connect.md §1: never both; nothing is sent."""
    with pytest.raises(ValueError, match="mutually exclusive"):
        await _api(session, flatpeak).create_connect_token(
            connect_url=CONNECT_URL,
            callback_url=CALLBACK,
            location_id="loc_1",
            location_reference_id="home",
        )
    assert flatpeak.fake.token_bodies == []


async def test_token_path_falls_back_on_404(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """Where /connect/token is unknown, the older path is used, and then kept."""
    flatpeak.fake.new_token_path = False
    client = _api(session, flatpeak)
    first = await client.create_connect_token(
        connect_url=CONNECT_URL, callback_url=CALLBACK
    )
    second = await client.create_connect_token(
        connect_url=CONNECT_URL, callback_url=CALLBACK
    )
    assert (first.connect_token, second.connect_token) == ("cot_1", "cot_2")
    assert [path for path, _ in flatpeak.fake.token_bodies] == [
        "/connect/tariff/token",
        "/connect/tariff/token",
    ]


async def test_token_404_on_both_paths_keeps_the_first_answer(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """A 404 about the request itself is not hidden by the fallback's 404."""
    with pytest.raises(FlatpeakNotFoundError) as err:
        await _api(session, flatpeak).create_connect_token(
            connect_url=CONNECT_URL, callback_url=CALLBACK, location_id="loc_unknown"
        )
    assert err.value.code == "location_not_found"
    assert err.value.message == "No such location"
    assert [path for path, _ in flatpeak.fake.token_bodies] == [
        "/connect/token",
        "/connect/tariff/token",
    ]


async def test_legacy_path_404_is_raised(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """Once on the older path, its 404 is the answer."""
    flatpeak.fake.new_token_path = False
    client = _api(session, flatpeak)
    await client.create_connect_token(connect_url=CONNECT_URL, callback_url=CALLBACK)
    with pytest.raises(FlatpeakNotFoundError) as err:
        await client.create_connect_token(
            connect_url=CONNECT_URL, callback_url=CALLBACK, location_id="loc_unknown"
        )
    assert err.value.code == "location_not_found"


async def test_get_connect_token_after_the_session(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """The retrieved token names the location once a tariff was saved."""
    api = _api(session, flatpeak)
    created = await api.create_connect_token(
        connect_url=CONNECT_URL, callback_url=CALLBACK
    )
    before = await api.get_connect_token(created.connect_token)
    assert before.location_id is None
    assert before.is_tariff_processed is False
    assert before.complete_action is None
    flatpeak.fake.sessions["cot_1"] |= {
        "location_id": "loc_new",
        "complete_action": "SAVE",
    }
    after = await api.get_connect_token("cot_1")
    assert after == ConnectToken(
        connect_token="cot_1",
        live_mode=False,
        time_created=datetime(2026, 6, 1, 12, tzinfo=UTC),
        time_expiry=datetime(2026, 6, 2, 12, tzinfo=UTC),
        customer_id="cus_1",
        location_id="loc_new",
        location_reference_id="home",
        complete_action="SAVE",
        is_tariff_processed=True,
    )
    with pytest.raises(FlatpeakNotFoundError):
        await api.get_connect_token("cot_unknown")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "connect_token": "cot_9",
                "expires_in": 86400,
                "is_tariff_processed": True,
            },
            ConnectToken(
                connect_token="cot_9", expires_in=86400.0, is_tariff_processed=True
            ),
        ),
        (
            {"id": "cot_9", "expires_in": "soon", "time_expiry": "yesterday"},
            ConnectToken(connect_token="cot_9"),
        ),
    ],
)
def test_connect_token_tolerates_shapes(
    body: dict[str, Any], expected: ConnectToken
) -> None:
    """Either name of the token; unreadable optional fields are left out."""
    assert ConnectToken.from_dict(body) == expected


@pytest.mark.parametrize("body", [[], {"expires_in": 1}, {"connect_token": ""}])
def test_connect_token_without_token_is_refused(body: object) -> None:
    """A reply without the token is not a token."""
    with pytest.raises(FlatpeakResponseError):
        ConnectToken.from_dict(body)


# Pages


@pytest.mark.parametrize("route", sorted(EXPECTED))
def test_every_route_parses(route: str) -> None:
    """Each route's data becomes its dataclass; unknown fields and items are left out."""
    page = ConnectPage.from_dict(_page(route))
    assert page.route == route
    assert page.data == EXPECTED[route]
    assert page.actions == ("BACK", "CLOSE", "SOMETHING_NEW")
    assert page.allows("SOMETHING_NEW")
    assert not page.allows("EDIT")
    assert page.connect_token == "cot_1"
    assert page.live_mode is False
    assert page.direction == "IMPORT"


def test_tariff_summary_parses() -> None:
    """The summary: tariff, connection type and today's rates in time order."""
    page = ConnectPage.from_dict(_page("tariff_summary"))
    data = page.data
    assert isinstance(data, TariffSummaryData)
    assert page.is_outcome
    assert data.connection_type == "MANUAL"
    assert data.currency_code == "GBP"
    assert data.market_rates_source is False
    assert data.provider == _ACME
    assert data.tariff is not None
    assert data.tariff.name == "Flex"
    assert data.tariff.structure_type == "TIME_OF_DAY"
    assert data.tariff.status == "CONNECTED"
    assert data.tariff.contract_start_date is None
    assert data.tariff.contract_end_date == datetime(2027, 3, 31, tzinfo=UTC)
    assert data.tariff.contract_term_type == "FIXED"
    assert data.tariff.tiered is False
    assert data.yesterday == data.tomorrow == ()
    assert [rate.cost for rate in data.today] == [0.1, 0.3]
    assert data.today[0].confidence == 1.0
    assert data.today[0].valid_from.isoformat() == "2026-06-01T00:00:00+01:00"


@pytest.mark.parametrize(
    "route",
    ["market_surcharge_capture", "summary_fixed_confirm", "summary_tariff_failed"],
)
def test_zero_route_names_read_as_anode_pages(route: str) -> None:
    """connect.md §7: older route names are read as the pages that replaced them."""
    page = ConnectPage.from_dict({"route": route, "data": {"provider": PROVIDER}})
    assert not isinstance(page.data, UnknownPageData)


def test_unknown_route_keeps_raw_data() -> None:
    """An unknown route is a generic page, not an error."""
    page = ConnectPage.from_dict(_page("vpp_device_select"))
    assert page.data == UnknownPageData(raw={"anything": [1, 2]})
    assert page.raw["unknown_top_level"] is True
    assert not page.is_outcome
    assert page.redirect_url is None


def test_page_without_data_or_actions() -> None:
    """Missing or mistyped data and actions read as empty."""
    page = ConnectPage.from_dict(
        {"route": "provider_select", "data": "nope", "actions": "BACK"}
    )
    assert page.data == ProviderSelectData()
    assert page.actions == ()
    assert page.connect_token is None


def test_wrong_types_are_left_out() -> None:
    """A field of the wrong type is left out, never fatal."""
    page = ConnectPage.from_dict(
        {
            "route": "rate_fixed_capture",
            "data": {"currency_code": 3, "cost": True, "provider": "prv_1"},
        }
    )
    assert page.data == FixedRateCaptureData()
    page = ConnectPage.from_dict(
        {
            "route": "surcharge_capture",
            "data": {"surcharge": {"fixed": float("nan"), "percentage": "5"}},
        }
    )
    assert page.data == SurchargeCaptureData()


@pytest.mark.parametrize("body", [[], "page", {"data": {}}, {"route": ""}])
def test_not_a_page_is_refused(body: object) -> None:
    """Without a route there is no page to show."""
    with pytest.raises(FlatpeakResponseError):
        ConnectPage.from_dict(body)


# The conversation


async def test_manual_time_of_day_conversation(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """Token, pages, answers and the end of the session, as connect.md describes them."""
    api = _api(session, flatpeak)
    token = await api.create_connect_token(
        connect_url=CONNECT_URL, callback_url=CALLBACK
    )
    conversation = ConnectSession(_connect(session, flatpeak), token.connect_token)
    page = await conversation.start()
    assert isinstance(page.data, ProviderSelectData)
    page = await conversation.select_provider("prv_1")
    assert isinstance(page.data, StructureSelectData)
    page = await conversation.select_structure("TIME_OF_DAY")
    assert isinstance(page.data, TimeOfDayCaptureData)
    page = await conversation.submit_time_of_day_rates(
        [
            time_of_day_rate(
                price_to_connect("30", "GBP", unit=PriceUnit.MINOR), "07:00", "00:00"
            ),
            time_of_day_rate(price_to_connect("0,1", "GBP"), "00:00", "07:00"),
        ]
    )
    assert page.is_outcome
    assert conversation.page is page
    assert (await api.get_connect_token(token.connect_token)).location_id == "loc_new"
    page = await conversation.act("CLOSE")
    assert page.redirect_url == f"{CALLBACK}?fp_cot=cot_1"
    assert is_session_end(page, CALLBACK)
    assert flatpeak.fake.connect_bodies == [
        {"connect_token": "cot_1", "route": "session_start"},
        {
            "connect_token": "cot_1",
            "route": "provider_select",
            "data": {"provider": {"id": "prv_1"}},
        },
        {
            "connect_token": "cot_1",
            "route": "tariff_structure_select",
            "data": {"options": ["TIME_OF_DAY"]},
        },
        {
            "connect_token": "cot_1",
            "route": "rate_tod_capture",
            "data": {
                "hours": [
                    {"cost": 0.3, "valid_from": "07:00:00", "valid_to": "00:00:00"},
                    {"cost": 0.1, "valid_from": "00:00:00", "valid_to": "07:00:00"},
                ]
            },
        },
        {"connect_token": "cot_1", "route": "tariff_summary", "action": "CLOSE"},
    ]


async def test_direct_provider_redirect_and_resume(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """A DIRECT provider sends the browser away; session_start resumes afterwards."""
    api = _api(session, flatpeak)
    token = await api.create_connect_token(
        connect_url=CONNECT_URL, callback_url=CALLBACK
    )
    conversation = ConnectSession(_connect(session, flatpeak), token.connect_token)
    await conversation.start()
    page = await conversation.select_provider("prv_direct")
    assert isinstance(page.data, SessionRedirectData)
    assert not is_session_end(page, CALLBACK)
    assert page.redirect_url is not None
    url = with_connect_token(page.redirect_url, "cot_1", {"state": "flow-1"})
    assert url == "https://acme.connect.flatpeak.com/?fp_cot=cot_1&state=flow-1"
    # The browser comes back to connect_url?fp_cot=…; the page is whatever is current.
    returned = f"{CONNECT_URL}?state=flow-1&fp_cot=cot_1"
    assert connect_token_from_url(returned) == "cot_1"
    resumed = ConnectSession(_connect(session, flatpeak), "cot_1")
    assert isinstance((await resumed.start()).data, ProviderSelectData)


async def test_fixed_rate_and_disconnect(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """The fixed-rate path; DISCONNECT also ends in the callback redirect."""
    api = _api(session, flatpeak)
    token = await api.create_connect_token(
        connect_url=CONNECT_URL, callback_url=CALLBACK
    )
    conversation = ConnectSession(_connect(session, flatpeak), token.connect_token)
    await conversation.start()
    await conversation.select_provider("prv_1")
    await conversation.select_structure("FIXED")
    page = await conversation.submit_fixed_rate(price_to_connect(0.245, "GBP"))
    assert page.route == "tariff_summary"
    page = await conversation.act("DISCONNECT")
    assert is_session_end(page, CALLBACK)
    assert flatpeak.fake.connect_bodies[3]["data"] == {"cost": 0.245}
    done = await api.get_connect_token(token.connect_token)
    assert done.complete_action == "DISCONNECT"


@pytest.mark.parametrize(
    ("call", "route", "data"),
    [
        (
            lambda s: s.submit_postal_address(
                PostalAddress(
                    address_line1="1 High Street",
                    city="London",
                    post_code="N1 1AA",
                    country_code="GB",
                )
            ),
            "postal_address_capture",
            {
                "postal_address": {
                    "address_line1": "1 High Street",
                    "city": "London",
                    "post_code": "N1 1AA",
                    "country_code": "GB",
                }
            },
        ),
        (
            lambda s: s.name_provider("Acme"),
            "provider_name_capture",
            {"provider": {"name": "Acme"}},
        ),
        (
            lambda s: s.select_tariff("trt_1"),
            "tariff_select",
            {"tariff": {"id": "trt_1"}},
        ),
        (
            lambda s: s.name_tariff("Flex"),
            "tariff_name_capture",
            {"tariff": {"name": "Flex"}},
        ),
        (
            lambda s: s.submit_surcharge(fixed=0.02, percentage=18.5),
            "surcharge_capture",
            {"surcharge": {"fixed": 0.02, "percentage": 18.5}},
        ),
        (
            lambda s: s.select_region("FR"),
            "region_select",
            {"region": "FR"},
        ),
        (
            lambda s: s.submit_contract_term(end=datetime(2027, 3, 31, tzinfo=UTC)),
            "contract_term_capture",
            {
                "contract_start_date": None,
                "contract_end_date": "2027-03-31T00:00:00+00:00",
                "contract_term_type": None,
            },
        ),
        (
            lambda s: s.submit_contract_term(until_terminated=True),
            "contract_term_capture",
            {
                "contract_start_date": None,
                "contract_end_date": None,
                "contract_term_type": "UNTIL_TERMINATED",
            },
        ),
    ],
)
async def test_answers_are_shaped_per_route(
    flatpeak: Running,
    session: aiohttp.ClientSession,
    call: Callable[[ConnectSession], Any],
    route: str,
    data: dict[str, Any],
) -> None:
    """Each helper posts the current route with the data connect.md gives for it."""
    flatpeak.fake.scripted = [(200, _page(route)), (200, _page("tariff_summary"))]
    conversation = ConnectSession(_connect(session, flatpeak), "cot_1")
    assert (await conversation.start()).route == route
    await call(conversation)
    assert flatpeak.fake.connect_bodies[-1] == {
        "connect_token": "cot_1",
        "route": route,
        "data": data,
    }


async def test_submit_without_data_sends_the_route_alone(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """A skip (the reference client's contract-term skip) posts no data key."""
    flatpeak.fake.scripted = [
        (200, _page("contract_term_capture")),
        (200, _page("tariff_summary", connect_token="cot_2")),
    ]
    conversation = ConnectSession(_connect(session, flatpeak), "cot_1")
    await conversation.start()
    await conversation.submit(None)
    assert flatpeak.fake.connect_bodies[-1] == {
        "connect_token": "cot_1",
        "route": "contract_term_capture",
    }
    # Connect repeats the token on every page; the session follows it.
    assert conversation.connect_token == "cot_2"
    flatpeak.fake.scripted = [(200, {"route": "tariff_summary", "data": {}})]
    await conversation.act("BACK")
    assert conversation.connect_token == "cot_2"


async def test_session_must_start_first(session: aiohttp.ClientSession) -> None:
    """There is no route to answer before the first page."""
    conversation = ConnectSession(ConnectClient(session), "cot_1")
    assert conversation.client.connect_api_url == DEFAULT_CONNECT_API_URL
    with pytest.raises(RuntimeError):
        await conversation.act("BACK")


async def test_uncovered_day_is_refused_before_sending(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """Rates that leave a gap never reach Connect."""
    flatpeak.fake.scripted = [(200, _page("rate_tod_capture"))]
    conversation = ConnectSession(_connect(session, flatpeak), "cot_1")
    await conversation.start()
    with pytest.raises(FlatpeakTimeOfDayCoverError) as err:
        await conversation.submit_time_of_day_rates(
            [time_of_day_rate(0.3, "07:00", "23:00")]
        )
    assert err.value.code == "gap_in_time_period"
    assert len(flatpeak.fake.connect_bodies) == 1


# Errors


@pytest.mark.parametrize("status", [400, 200, 500])
async def test_error_object_becomes_connect_error(
    flatpeak: Running, session: aiohttp.ClientSession, status: int
) -> None:
    """connect.md §2: an error object is an error whatever the HTTP status."""
    flatpeak.fake.scripted = [
        (
            status,
            _error(
                "country_code_missing",
                "Country code is required",
                context="connect.postal_address_capture",
                request_id="req_1",
                connect_token="cot_1",
            ),
        )
    ]
    with pytest.raises(FlatpeakConnectError) as err:
        await _connect(session, flatpeak).submit("cot_1", "postal_address_capture", {})
    assert not isinstance(err.value, FlatpeakConnectTokenError)
    assert isinstance(err.value, FlatpeakApiError)
    assert err.value.code == "country_code_missing"
    assert err.value.message == "Country code is required"
    assert err.value.error_type == "invalid_request"
    assert err.value.context == "connect.postal_address_capture"
    assert err.value.request_id == "req_1"
    assert err.value.status == status


async def test_token_error_is_its_own_class(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """An error naming the token calls for a new token."""
    with pytest.raises(FlatpeakConnectTokenError) as err:
        await _connect(session, flatpeak).start("cot_unknown")
    assert err.value.code == "connect_token_invalid"
    assert str(err.value) == "Token expired"


async def test_error_route_becomes_connect_error(
    flatpeak: Running, session: aiohttp.ClientSession
) -> None:
    """The reference client's `error` page is read as an error object."""
    flatpeak.fake.scripted = [
        (
            200,
            {
                "route": "error",
                "data": {"error_code": "server_error", "error_message": "Try again"},
            },
        )
    ]
    with pytest.raises(FlatpeakConnectError) as err:
        await _connect(session, flatpeak).start("cot_1")
    assert (err.value.code, err.value.message) == ("server_error", "Try again")
    assert err.value.context == "connect.error"


def test_error_object_with_odd_fields() -> None:
    """Missing or mistyped fields of an error object read as absent."""
    error = connect_error({"object": "error", "code": 5, "message": None})
    assert type(error) is FlatpeakConnectError
    assert (error.code, error.message, error.error_type) == (None, "", None)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (502, b"<html>Bad gateway</html>", FlatpeakServerError),
        (200, b"<html>hello</html>", FlatpeakResponseError),
        (200, b"[1, 2]", FlatpeakResponseError),
        (429, {"message": "Slow down"}, FlatpeakRateLimitError),
        (404, {"message": "Not Found"}, FlatpeakNotFoundError),
    ],
)
async def test_other_failures(
    flatpeak: Running,
    session: aiohttp.ClientSession,
    status: int,
    body: object,
    error: type[Exception],
) -> None:
    """Replies that are neither a page nor an error object map to the package's errors."""
    flatpeak.fake.scripted = [(status, body)]
    with pytest.raises(error):
        await _connect(session, flatpeak).start("cot_1")


async def test_timeout(flatpeak: Running, session: aiohttp.ClientSession) -> None:
    """A slow Connect is a timeout, which is also a connection error."""
    flatpeak.fake.delay = 2.0
    with pytest.raises(FlatpeakTimeoutError) as err:
        await _connect(session, flatpeak, request_timeout=0.2).start("cot_1")
    assert isinstance(err.value, FlatpeakConnectionError)
    assert isinstance(err.value.__cause__, TimeoutError)


async def test_connection_refused(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    """Nothing listening is a connection error, not a timeout."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ConnectClient(session, connect_api_url=f"http://127.0.0.1:{port}")
    with pytest.raises(FlatpeakConnectionError) as err:
        await client.start("cot_1")
    assert not isinstance(err.value, FlatpeakTimeoutError)
    assert isinstance(err.value.__cause__, aiohttp.ClientError)


# Helpers


@pytest.mark.parametrize(
    ("amount", "currency", "unit", "expected"),
    [
        ("0.245", "GBP", PriceUnit.MAJOR, 0.245),
        ("0,245", "EUR", PriceUnit.MAJOR, 0.245),
        (" 24.5 ", "GBP", PriceUnit.MINOR, 0.245),
        ("24,57", "USD", PriceUnit.MINOR, 0.2457),
        (0.1, "GBP", PriceUnit.MAJOR, 0.1),
        (12.3456789, "GBP", PriceUnit.MINOR, 0.123457),
        ("0.1234567", "GBP", PriceUnit.MAJOR, 0.123457),
        ("25", "JPY", PriceUnit.MINOR, 25.0),
        ("245", "KWD", PriceUnit.MINOR, 0.245),
        (0, "GBP", PriceUnit.MAJOR, 0.0),
    ],
)
def test_price_to_connect(
    amount: str | float, currency: str, unit: PriceUnit, expected: float
) -> None:
    """What people type becomes major units per kWh, as Connect takes it."""
    assert price_to_connect(amount, currency, unit=unit) == expected


@pytest.mark.parametrize("amount", ["-1", "abc", "", "nan", "inf", float("inf")])
def test_price_to_connect_refuses(amount: str | float) -> None:
    """Negative, non-numeric and non-finite prices are refused."""
    with pytest.raises(ValueError, match=r"number|negative"):
        price_to_connect(amount, "GBP")


@pytest.mark.parametrize(
    ("cost", "currency", "unit", "expected"),
    [
        (0.245, "GBP", PriceUnit.MAJOR, 0.245),
        (0.245, "GBP", PriceUnit.MINOR, 24.5),
        (0.1 + 0.2, "EUR", PriceUnit.MINOR, 30.0),
        (0.2457, "usd", PriceUnit.MINOR, 24.57),
        (25, "JPY", PriceUnit.MINOR, 25.0),
    ],
)
def test_price_from_connect(
    cost: float, currency: str, unit: PriceUnit, expected: float
) -> None:
    """A cost from Connect is shown in the unit the form asks in, and round-trips."""
    shown = price_from_connect(cost, currency, unit=unit)
    assert shown == expected
    assert price_to_connect(shown, currency, unit=unit) == round(cost, 6)


def test_currency_exponents() -> None:
    """ISO 4217 minor units: most have two decimals, some none, some three."""
    assert [currency_exponent(code) for code in ("GBP", "jpy", "BHD", "XYZ")] == [
        2,
        0,
        3,
        2,
    ]


def _rates(*periods: tuple[str, str]) -> list[TimeOfDayRate]:
    return [time_of_day_rate(0.2, start, end) for start, end in periods]


@pytest.mark.parametrize(
    "periods",
    [
        [("00:00:00", "00:00:00")],
        [("07:30", "07:30")],
        [("07:00", "00:00"), ("00:00", "07:00")],
        [("07:00", "23:00"), ("23:00", "07:00")],
        [("00:00", "06:00"), ("06:00", "18:00"), ("18:00", "24:00")],
        [("16:00", "19:00"), ("19:00", "16:00")],
    ],
)
def test_time_of_day_cover_accepts(periods: list[tuple[str, str]]) -> None:
    """Periods that tile the day, wrapping past midnight or not, are accepted."""
    check_time_of_day_cover(_rates(*periods))


@pytest.mark.parametrize(
    ("periods", "code"),
    [
        ([], "incomplete_time_period"),
        ([("07:00", "23:00")], "gap_in_time_period"),
        ([("07:00", "23:00"), ("23:30", "07:00")], "gap_in_time_period"),
        ([("07:00", "23:00"), ("22:00", "07:00")], "overlap_in_time_period"),
        ([("00:00", "00:00"), ("06:00", "07:00")], "overlap_in_time_period"),
        ([("22:00", "08:00"), ("07:00", "22:00")], "overlap_in_time_period"),
        (
            [("07:00", "23:00"), ("23:00", "07:00"), ("23:00", "07:00")],
            "overlap_in_time_period",
        ),
    ],
)
def test_time_of_day_cover_refuses(periods: list[tuple[str, str]], code: str) -> None:
    """A gap or an overlap is refused with a code a form can translate."""
    with pytest.raises(FlatpeakTimeOfDayCoverError) as err:
        check_time_of_day_cover(_rates(*periods))
    assert err.value.code == code
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [("7am", "08:00", "valid_from_invalid"), ("07:00", "25:00", "valid_to_invalid")],
)
def test_time_of_day_rate_refuses_bad_times(start: str, end: str, code: str) -> None:
    """Times that are not HH:MM[:SS] carry the server's code for them."""
    with pytest.raises(FlatpeakTimeOfDayCoverError) as err:
        time_of_day_rate(0.2, start, end)
    assert err.value.code == code


def test_time_of_day_parsing() -> None:
    """Times are read as Connect writes them and written back with seconds."""
    assert parse_time_of_day("07:30") == time(7, 30)
    assert parse_time_of_day("24:00:00") == time(0)
    assert parse_time_of_day(time(5)) == time(5)
    assert parse_time_of_day("07:00+01:00") is None
    assert parse_time_of_day(7) is None
    assert format_time_of_day(time(7, 30)) == "07:30:00"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://acme.connect.flatpeak.com",
            "https://acme.connect.flatpeak.com?fp_cot=cot_1",
        ),
        (
            "https://acme.connect.flatpeak.com/login?x=1#top",
            "https://acme.connect.flatpeak.com/login?x=1&fp_cot=cot_1#top",
        ),
        (
            "https://acme.connect.flatpeak.com/?fp_cot=cot_1",
            "https://acme.connect.flatpeak.com/?fp_cot=cot_1",
        ),
        # A token already there is Connect's own; it is not replaced.
        (
            "https://acme.connect.flatpeak.com/?fp_cot=cot_0",
            "https://acme.connect.flatpeak.com/?fp_cot=cot_0",
        ),
    ],
)
def test_with_connect_token(url: str, expected: str) -> None:
    """fp_cot is added only where it is missing (connect.md §3)."""
    assert with_connect_token(url, "cot_1") == expected


def test_with_connect_token_keeps_existing_parameters() -> None:
    """Extra parameters never replace ones the URL already has."""
    assert (
        with_connect_token(
            "https://a.example/?state=x", "cot_1", {"state": "y", "z": "1"}
        )
        == "https://a.example/?state=x&fp_cot=cot_1&z=1"
    )


def test_connect_token_from_url() -> None:
    """The callback's fp_cot is found among other parameters, or is absent."""
    assert connect_token_from_url(f"{CONNECT_URL}?a=1&fp_cot=cot_7") == "cot_7"
    assert connect_token_from_url(f"{CONNECT_URL}?fp_cot=") is None
    assert connect_token_from_url(CONNECT_URL) is None


@pytest.mark.parametrize(
    ("page", "ended"),
    [
        (
            {
                "route": "session_redirect",
                "data": {"redirect_url": f"{CALLBACK}/?fp_cot=cot_1"},
            },
            True,
        ),
        (
            {
                "route": "session_redirect",
                "data": {"redirect_url": "https://acme.example/"},
            },
            False,
        ),
        ({"route": "session_redirect", "data": {}}, False),
        ({"route": "session_complete", "data": {"callback_uri": CALLBACK}}, True),
        ({"route": "complete_tariff"}, True),
        ({"route": "tariff_summary"}, False),
    ],
)
def test_is_session_end(page: dict[str, Any], ended: bool) -> None:
    """The session ends in a redirect to the callback, or Zero's completion page."""
    assert is_session_end(ConnectPage.from_dict(page), CALLBACK) is ended
