"""Tests for the local Flatpeak API simulator, over real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any
import urllib.error
import urllib.request

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
import pytest

from tests.simulator import (
    ANY_ROUTE,
    API_VERSION,
    PriceSlot,
    RunningSimulator,
    SigningKey,
    SimulatorState,
    WebhookSender,
    seed_demo,
    start_simulator,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

ACCOUNT = "acc_0123456789abcdef01234567"
OTHER_ACCOUNT = "acc_fedcba9876543210fedcba98"
LIVE_KEY = "sk_live_0123456789abcdef"
TEST_KEY = "sk_test_0123456789abcdef"
OTHER_KEY = "sk_live_fedcba9876543210"
START = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
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
        """Start at a fixed time."""
        self.current = now

    def __call__(self) -> datetime:
        """Return the current time."""
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """Return a clock frozen at START."""
    return Clock(START)


@pytest.fixture
def state(clock: Clock) -> SimulatorState:
    """Return a state with two accounts on a frozen clock."""
    state = SimulatorState(clock=clock)
    state.add_account(ACCOUNT, [LIVE_KEY, TEST_KEY])
    state.add_account(OTHER_ACCOUNT, [OTHER_KEY])
    return state


@pytest.fixture
async def simulator(state: SimulatorState) -> AsyncIterator[RunningSimulator]:
    """Serve the state on a loopback port."""
    async with await start_simulator(state) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return an HTTP client session."""
    async with aiohttp.ClientSession() as client:
        yield client


@dataclass
class Api:
    """A small client for the simulator, as the integration's client would call it."""

    session: aiohttp.ClientSession
    url: str
    token: str | None = None

    async def login(self, account: str = ACCOUNT, key: str = LIVE_KEY) -> Any:
        """Log in, keep the token and return the body."""
        status, body, _ = await self.request(
            "GET",
            "/login",
            headers={"Authorization": aiohttp.encode_basic_auth(account, key)},
        )
        assert status == 200, body
        self.token = body["bearer_token"]
        return body

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """Send a request; return status, decoded JSON (or text) and headers."""
        all_headers = {"Flatpeak-Version": API_VERSION}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        async with self.session.request(
            method,
            self.url + path,
            json=json_body,
            params=params,
            headers=all_headers,
        ) as response:
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = text
            return response.status, body, response.headers

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        """GET a path with query parameters."""
        status, body, _ = await self.request("GET", path, params=params or None)
        return status, body

    async def prices(self, location_id: str, **body: Any) -> tuple[int, Any]:
        """POST /prices/{id}."""
        status, answer, _ = await self.request(
            "POST", f"/prices/{location_id}", json_body=body
        )
        return status, answer


@pytest.fixture
async def api(simulator: RunningSimulator, session: aiohttp.ClientSession) -> Api:
    """Return a logged-in live-mode client."""
    client = Api(session, simulator.url)
    await client.login()
    return client


def assert_error(body: Any, code: str, error_type: str = "invalid_request") -> None:
    """Check a body is the documented error object with this code."""
    assert set(body) == ERROR_FIELDS
    assert body["object"] == "error"
    assert body["code"] == code
    assert body["type"] == error_type
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", body["time_created"])


def utc(text: str) -> datetime:
    """Parse an ISO time."""
    return datetime.fromisoformat(text)


# -- authentication -----------------------------------------------------------------


async def test_login_issues_bearer_tokens_by_key_mode(api: Api) -> None:
    """Live and test keys give tokens in their mode."""
    body = await api.login()
    assert body["expires_in"] == 3600
    assert body["live_mode"] is True
    assert (await api.login(key=TEST_KEY))["live_mode"] is False
    status, _ = await api.get("/locations")
    assert status == 200


async def test_login_bad_credentials(api: Api) -> None:
    """A wrong key or no Basic header is a 403 error object."""
    for header in (
        aiohttp.encode_basic_auth(ACCOUNT, "sk_live_wrong"),
        aiohttp.encode_basic_auth(OTHER_ACCOUNT, LIVE_KEY),
        "Basic !!!",
        "",
    ):
        status, body, _ = await api.request(
            "GET", "/login", headers={"Authorization": header}
        )
        assert status == 403
        assert_error(body, "unauthorized")
        assert body["message"] == "Bad credentials"


async def test_disabled_account_is_422_everywhere(
    api: Api, state: SimulatorState
) -> None:
    """A disabled account gets account_disabled on login and on calls."""
    state.set_account_disabled(ACCOUNT, True)
    status, body = await api.get("/locations")
    assert status == 422
    assert_error(body, "account_disabled", "api_error")
    status, body, _ = await api.request(
        "GET",
        "/login",
        headers={"Authorization": aiohttp.encode_basic_auth(ACCOUNT, LIVE_KEY)},
    )
    assert status == 422
    assert body["code"] == "account_disabled"
    state.set_account_disabled(ACCOUNT, False)
    assert (await api.get("/locations"))[0] == 200


async def test_tokens_expire_by_state_clock(
    api: Api, state: SimulatorState, clock: Clock
) -> None:
    """Tokens stop working after their lifetime, on expire_tokens and key revocation."""
    state.token_lifetime = 60
    body = await api.login()
    assert body["expires_in"] == 60
    clock.advance(seconds=59)
    assert (await api.get("/locations"))[0] == 200
    clock.advance(seconds=1)
    status, body = await api.get("/locations")
    assert status == 401
    assert_error(body, "unauthorized")

    await api.login()
    state.expire_tokens()
    assert (await api.get("/locations"))[0] == 401

    await api.login()
    state.revoke_key(LIVE_KEY)
    assert (await api.get("/locations"))[0] == 401
    status, _, _ = await api.request(
        "GET",
        "/login",
        headers={"Authorization": aiohttp.encode_basic_auth(ACCOUNT, LIVE_KEY)},
    )
    assert status == 403

    api.token = "not-a-token"
    assert (await api.get("/locations"))[0] == 401


async def test_version_header(api: Api, state: SimulatorState) -> None:
    """Another version is refused; a missing one is served but counted."""
    status, body, _ = await api.request(
        "GET", "/locations", headers={"Flatpeak-Version": "2024-08-24.zero"}
    )
    assert status == 422
    assert_error(body, "api_version_not_supported")
    assert state.missing_version_header == 0
    async with api.session.get(
        f"{api.url}/locations", headers={"Authorization": f"Bearer {api.token}"}
    ) as response:
        assert response.status == 200
    assert state.missing_version_header == 1


async def test_unknown_route_and_method(api: Api) -> None:
    """Unknown paths and wrong methods answer error objects."""
    status, body = await api.get("/nowhere")
    assert status == 404
    assert_error(body, "not_found")
    status, body, _ = await api.request("DELETE", "/locations")
    assert status == 405
    assert_error(body, "method_not_allowed")


# -- locations ----------------------------------------------------------------------


async def test_location_ids_are_object_id_like_and_sorted(
    state: SimulatorState, clock: Clock
) -> None:
    """Ids carry the creation time in their first 8 hex digits and sort by creation."""
    ids = []
    for _ in range(3):
        ids.append(state.add_location(ACCOUNT)["id"])
        clock.advance(seconds=1)
    clock.advance(hours=-5)  # a clock going back must not break the order
    ids.append(state.add_location(ACCOUNT)["id"])
    assert all(re.fullmatch(r"loc_[0-9a-f]{24}", item) for item in ids)
    assert int(ids[0][4:12], 16) == int(START.timestamp())
    assert sorted(ids) == ids


async def test_locations_pagination_both_directions(
    api: Api, state: SimulatorState
) -> None:
    """starting_after walks to older pages, ending_before back to newer ones."""
    ids = [state.add_location(ACCOUNT, reference_id=f"ref{n}")["id"] for n in range(7)]
    state.add_location(ACCOUNT, live_mode=False)
    state.add_location(OTHER_ACCOUNT)
    newest_first = ids[::-1]

    status, page1 = await api.get("/locations", limit="3")
    assert status == 200
    assert page1["object"] == "list"
    assert page1["url"] == "/locations"
    assert [item["id"] for item in page1["data"]] == newest_first[:3]
    assert page1["has_more"] is True
    _, page2 = await api.get("/locations", limit="3", starting_after=newest_first[2])
    assert [item["id"] for item in page2["data"]] == newest_first[3:6]
    assert page2["has_more"] is True
    _, page3 = await api.get("/locations", limit="3", starting_after=newest_first[5])
    assert [item["id"] for item in page3["data"]] == newest_first[6:]
    assert page3["has_more"] is False

    _, back2 = await api.get("/locations", limit="3", ending_before=newest_first[6])
    assert [item["id"] for item in back2["data"]] == newest_first[3:6]
    assert back2["has_more"] is True
    _, back1 = await api.get("/locations", limit="3", ending_before=newest_first[3])
    assert [item["id"] for item in back1["data"]] == newest_first[:3]
    assert back1["has_more"] is False

    _, everything = await api.get("/locations")
    assert [item["id"] for item in everything["data"]] == newest_first
    assert everything["has_more"] is False
    _, filtered = await api.get("/locations", reference_id="ref3")
    assert [item["id"] for item in filtered["data"]] == [ids[3]]

    status, body = await api.get(
        "/locations", starting_after=ids[1], ending_before=ids[3]
    )
    assert status == 422
    assert_error(body, "pagination_parameters_conflict")
    for limit in ("0", "101", "ten"):
        status, body = await api.get("/locations", limit=limit)
        assert status == 422
        assert_error(body, "limit_invalid")
    status, body = await api.get("/locations", starting_after="loc_unknown")
    assert status == 422


async def test_default_page_size_is_30(api: Api, state: SimulatorState) -> None:
    """Without a limit a page holds 30 locations."""
    for _ in range(31):
        state.add_location(ACCOUNT)
    _, page = await api.get("/locations")
    assert len(page["data"]) == 30
    assert page["has_more"] is True


async def test_location_and_status(api: Api, state: SimulatorState) -> None:
    """A location and its status follow the Anode shapes; others' are 404."""
    location = state.add_location(ACCOUNT, reference_id="Home")
    end = datetime(2027, 1, 1, tzinfo=UTC)
    state.set_status(location["id"], contract_end_date=end, tariff_name="Agile")
    state.set_status(location["id"], "export", status="NOT_CONNECTED")
    status, body = await api.get(f"/locations/{location['id']}")
    assert status == 200
    assert body["object"] == "location"
    assert body["timezone"] == "Europe/London"
    assert body["currency_code"] == "GBP"
    assert body["tariff_status"]["commodity_import"] == "CONNECTED"
    assert body["tariff_elements"] == [state.tariff_id(location["id"])]

    status, body = await api.get(f"/locations/{location['id']}/status")
    assert status == 200
    assert body["object"] == "location_status"
    imported = body["tariff_status"]["commodity_import"]
    assert imported["status"] == "CONNECTED"
    assert imported["connection_type"] == "DIRECT"
    assert imported["provider"]["display_name"] == "Octopus Energy"
    assert imported["tariff"]["display_name"] == "Agile"
    assert imported["tariff"]["contract_end_date"] == "2027-01-01T00:00:00Z"
    assert body["tariff_status"]["commodity_export"] == {"status": "NOT_CONNECTED"}
    assert body["tariff_status"]["local"] == {"status": "NOT_SUPPORTED"}

    tariff_id = imported["tariff"]["id"]
    state.set_status(location["id"], status="ERROR")
    _, body = await api.get(f"/locations/{location['id']}/status")
    assert body["tariff_status"]["commodity_import"]["status"] == "ERROR"
    assert body["tariff_status"]["commodity_import"]["tariff"]["id"] == tariff_id

    foreign = state.add_location(OTHER_ACCOUNT)
    test_mode = state.add_location(ACCOUNT, live_mode=False)
    for location_id in (foreign["id"], test_mode["id"], "loc_missing"):
        for path in (f"/locations/{location_id}", f"/locations/{location_id}/status"):
            status, body = await api.get(path)
            assert status == 404
            assert_error(body, "not_found")


# -- prices -------------------------------------------------------------------------


async def test_prices_clip_two_hour_slots(api: Api, state: SimulatorState) -> None:
    """Slots of any length are clipped to the requested window."""
    location_id = state.add_location(ACCOUNT)["id"]
    day = datetime(2026, 6, 1, tzinfo=UTC)
    state.set_prices(
        location_id,
        [
            PriceSlot(day + timedelta(hours=h), day + timedelta(hours=h + 2), h / 100)
            for h in range(0, 24, 2)
        ],
    )
    status, body = await api.prices(
        location_id,
        start_time="2026-06-01T01:00:00Z",
        end_time="2026-06-01T05:30:00Z",
    )
    assert status == 200, body
    assert [
        (row["valid_from"], row["valid_to"], row["price"]["value"])
        for row in body["data"]
    ] == [
        ("2026-06-01T01:00:00Z", "2026-06-01T02:00:00Z", 0.0),
        ("2026-06-01T02:00:00Z", "2026-06-01T04:00:00Z", 0.02),
        ("2026-06-01T04:00:00Z", "2026-06-01T05:30:00Z", 0.04),
    ]


async def test_prices_fifteen_minute_pattern(api: Api, state: SimulatorState) -> None:
    """A pattern makes slots of its length with the confidence it returns."""
    location_id = state.add_location(ACCOUNT)["id"]
    state.set_price_pattern(
        location_id, lambda start: (start.minute / 100, 0.8), slot_minutes=15
    )
    _, body = await api.prices(
        location_id,
        start_time="2026-06-01T10:10:00Z",
        end_time="2026-06-01T11:00:00Z",
    )
    assert [(row["valid_from"], row["price"]) for row in body["data"]] == [
        ("2026-06-01T10:10:00Z", {"value": 0.0, "confidence": 0.8}),
        ("2026-06-01T10:15:00Z", {"value": 0.15, "confidence": 0.8}),
        ("2026-06-01T10:30:00Z", {"value": 0.3, "confidence": 0.8}),
        ("2026-06-01T10:45:00Z", {"value": 0.45, "confidence": 0.8}),
    ]


async def test_prices_across_spring_forward(api: Api, state: SimulatorState) -> None:
    """The 23-hour London day has 46 half hours; times use end_time's offset."""
    location_id = state.add_location(ACCOUNT)["id"]
    state.set_price_pattern(location_id, lambda _start: 0.1)
    _, body = await api.prices(
        location_id,
        start_time="2026-03-29T00:00:00Z",
        end_time="2026-03-30T00:00:00+01:00",
    )
    rows = body["data"]
    assert len(rows) == 46
    assert rows[0]["valid_from"] == "2026-03-29T01:00:00+01:00"
    assert rows[-1]["valid_to"] == "2026-03-30T00:00:00+01:00"
    assert all(row["valid_from"].endswith("+01:00") for row in rows)
    assert body["request"] == {
        "tariff_direction": "IMPORT",
        "start_time": "2026-03-29T00:00:00Z",
        "end_time": "2026-03-30T00:00:00+01:00",
    }

    # Two-hour slots start at local midnight; the short day's last slot is cut.
    state.set_price_pattern(location_id, lambda _start: 0.1, slot_minutes=120)
    _, body = await api.prices(
        location_id,
        start_time="2026-03-29T00:00:00Z",
        end_time="2026-03-29T23:00:00Z",
    )
    rows = body["data"]
    assert len(rows) == 12
    assert rows[1]["valid_from"] == "2026-03-29T02:00:00Z"
    assert (rows[-1]["valid_from"], rows[-1]["valid_to"]) == (
        "2026-03-29T22:00:00Z",
        "2026-03-29T23:00:00Z",
    )


async def test_prices_across_fall_back(api: Api, state: SimulatorState) -> None:
    """The 25-hour London day has 50 half hours; +00:00 stays +00:00, Z stays Z."""
    location_id = state.add_location(ACCOUNT)["id"]
    state.set_price_pattern(location_id, lambda _start: 0.1)
    _, body = await api.prices(
        location_id,
        start_time="2026-10-25T00:00:00+01:00",
        end_time="2026-10-26T00:00:00+00:00",
    )
    rows = body["data"]
    assert len(rows) == 50
    assert rows[0]["valid_from"] == "2026-10-24T23:00:00+00:00"
    assert rows[-1]["valid_to"] == "2026-10-26T00:00:00+00:00"
    assert len({row["valid_from"] for row in rows}) == 50

    state.set_price_pattern(location_id, lambda _start: 0.1, slot_minutes=120)
    _, body = await api.prices(
        location_id,
        start_time="2026-10-24T23:00:00Z",
        end_time="2026-10-26T00:00:00Z",
    )
    rows = body["data"]
    assert len(rows) == 13
    assert (rows[-1]["valid_from"], rows[-1]["valid_to"]) == (
        "2026-10-25T23:00:00Z",
        "2026-10-26T00:00:00Z",
    )


async def test_price_response_metadata(api: Api, state: SimulatorState) -> None:
    """The price object carries location, currency, next_update and the request echo."""
    location_id = state.add_location(ACCOUNT, currency_code="EUR")["id"]
    state.set_price_pattern(location_id, lambda _start: (0.2, 1.0))
    status, body = await api.prices(location_id, end_time="2026-03-28T14:00:00+01:00")
    assert status == 200
    assert re.fullmatch(r"prs_[0-9a-f]{24}", body["id"])
    assert body["object"] == "price"
    assert body["live_mode"] is True
    assert body["location_id"] == location_id
    assert body["location_timezone"] == "Europe/London"
    assert body["currency_code"] == "EUR"
    assert body["tariff_direction"] == "IMPORT"
    assert body["account_id"] == ACCOUNT
    assert body["time_created"] == "2026-03-28T12:00:00Z"
    # Default start is now; the next update is the next 16:00 in London (GMT here).
    assert body["data"][0]["valid_from"] == "2026-03-28T13:00:00+01:00"
    assert body["data"][-1]["valid_to"] == "2026-03-28T14:00:00+01:00"
    assert body["next_update"] == "2026-03-28T17:00:00+01:00"
    assert body["last_updated"] == "2026-03-28T13:00:00+01:00"
    assert body["request"]["start_time"] == "2026-03-28T13:00:00+01:00"

    seeded = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    state.set_prices(
        location_id,
        [PriceSlot(START, START + timedelta(hours=1), 0.3, 0.5)],
        next_update=seeded,
    )
    state.price_row_shape = "tariff"
    _, body = await api.prices(location_id, end_time="2026-03-28T13:00:00Z")
    assert body["next_update"] == "2026-03-28T23:00:00Z"
    assert body["data"] == [
        {
            "valid_from": "2026-03-28T12:00:00Z",
            "valid_to": "2026-03-28T13:00:00Z",
            "tariff": {"rate": 0.3, "confidence": 0.5},
        }
    ]


async def test_price_errors(api: Api, state: SimulatorState) -> None:
    """Missing tariffs, seeded errors and bad windows answer 422 with their codes."""
    location_id = state.add_location(ACCOUNT)["id"]
    end = "2026-03-29T00:00:00Z"
    status, body = await api.prices(location_id, end_time=end)
    assert status == 422
    assert_error(body, "no_tariff_connected")

    state.set_price_pattern(location_id, lambda _start: 0.1)
    status, body = await api.prices(
        location_id, end_time=end, tariff_direction="EXPORT"
    )
    assert status == 422
    assert body["code"] == "no_tariff_connected"
    for code in ("pending_connect", "no_price_data"):
        state.set_prices_error(location_id, code)
        status, body = await api.prices(location_id, end_time=end)
        assert status == 422
        assert body["code"] == code
    state.set_prices_error(location_id, None)
    assert (await api.prices(location_id, end_time=end))[0] == 200

    bad_requests: list[tuple[dict[str, Any], str]] = [
        ({}, "end_time_missing"),
        ({"end_time": "2026-03-29T00:00:00"}, "end_time_invalid"),
        ({"end_time": "2026-03-29"}, "end_time_invalid"),
        ({"end_time": end, "start_time": "yesterday"}, "start_time_invalid"),
        ({"end_time": end, "start_time": end}, "time_window_invalid"),
        (
            {"end_time": end, "start_time": "2025-12-28T23:59:59Z"},
            "time_window_too_large",
        ),
        ({"end_time": end, "tariff_direction": "SIDEWAYS"}, "tariff_direction_invalid"),
    ]
    for request, code in bad_requests:
        status, body = await api.prices(location_id, **request)
        assert status == 422, request
        assert_error(body, code)
    status, _ = await api.prices(
        location_id, end_time=end, start_time="2025-12-29T00:00:00Z"
    )
    assert status == 200  # exactly 90 days is allowed
    status, body = await api.prices("loc_missing", end_time=end)
    assert status == 404


# -- events -------------------------------------------------------------------------


async def test_events_filters_and_pagination(
    api: Api, state: SimulatorState, clock: Clock
) -> None:
    """Events list newest first, filter by type and object id, page both ways."""
    home = state.add_location(ACCOUNT)["id"]
    shed = state.add_location(ACCOUNT)["id"]
    state.set_status(home)
    makers: list[Callable[[], dict[str, Any]]] = [
        lambda: state.make_tariff_event("tariff.expired", home),
        lambda: state.make_location_update(shed),
        lambda: state.make_connect_session_complete(home),
        lambda: state.make_tariff_event("tariff.fetch.failed", shed, "trf_given"),
        lambda: state.make_event("tariff.connection.upgrade", home),
    ]
    events = []
    for make in makers:
        events.append(make())
        clock.advance(minutes=1)
    state.make_location_update(state.add_location(OTHER_ACCOUNT)["id"])
    ids = [event["id"] for event in events]

    _, body = await api.get("/events")
    assert body["url"] == "/events"
    assert [event["id"] for event in body["data"]] == ids[::-1]
    assert body["data"][-1] == {
        "id": ids[0],
        "object": "event",
        "type": "tariff.expired",
        "time_created": "2026-03-28T12:00:00Z",
        "data": {
            "live_mode": True,
            "location_id": home,
            "tariff_id": state.tariff_id(home),
            "account_id": ACCOUNT,
        },
    }
    assert events[1]["data"]["id"] == shed
    assert events[1]["data"]["object"] == "location"
    assert events[2]["data"]["object"] == "connect_session"
    assert events[2]["data"]["id"].startswith("cot_")
    assert events[3]["data"]["tariff_id"] == "trf_given"

    _, body = await api.get("/events", event_type="tariff.expired")
    assert [event["id"] for event in body["data"]] == [ids[0]]
    _, body = await api.get("/events", object_id=shed)
    assert [event["id"] for event in body["data"]] == [ids[3], ids[1]]

    _, body = await api.get("/events", limit="2", starting_after=ids[3])
    assert [event["id"] for event in body["data"]] == [ids[2], ids[1]]
    assert body["has_more"] is True
    # Catching up: everything newer than the last processed id.
    _, body = await api.get("/events", ending_before=ids[1])
    assert [event["id"] for event in body["data"]] == [ids[4], ids[3], ids[2]]
    assert body["has_more"] is False
    _, body = await api.get("/events", limit="1", ending_before=ids[1])
    assert [event["id"] for event in body["data"]] == [ids[2]]
    assert body["has_more"] is True

    status, body = await api.get(f"/events/{ids[2]}")
    assert status == 200
    assert body == events[2]
    status, body = await api.get("/events/evt_missing")
    assert status == 404
    assert_error(body, "not_found")


# -- faults and counters ------------------------------------------------------------


async def test_fault_counts_down_and_is_counted(
    api: Api, state: SimulatorState
) -> None:
    """A fault serves `times` requests, then the route behaves; all are counted."""
    state.inject_fault("locations", status=500, times=2)
    for _ in range(2):
        status, body = await api.get("/locations")
        assert status == 500
        assert_error(body, "internal_error", "api_error")
    assert (await api.get("/locations"))[0] == 200
    assert state.calls["locations"] == 3
    assert state.calls["login"] == 1


async def test_fault_bodies_headers_and_delays(api: Api, state: SimulatorState) -> None:
    """Faults can rate-limit with Retry-After, send broken JSON, delay or persist."""
    state.inject_fault("locations", status=429, headers={"Retry-After": "7"})
    status, body, headers = await api.request("GET", "/locations")
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert_error(body, "rate_limit", "rate_limit")

    state.inject_fault("locations", body='{"object": "list", "data": [')
    status, body, _ = await api.request("GET", "/locations")
    assert status == 200
    assert body == '{"object": "list", "data": ['

    state.inject_fault("locations", status=503, body={"message": "down"})
    assert await api.get("/locations") == (503, {"message": "down"})

    state.inject_fault("locations", delay=0.2)
    started = time.monotonic()
    assert (await api.get("/locations"))[0] == 200
    assert time.monotonic() - started >= 0.2

    state.inject_fault("login", status=502, times=None)
    for _ in range(3):
        status, body, _ = await api.request("GET", "/login")
        assert status == 502
        assert body["type"] == "api_error"
    state.clear_faults()
    await api.login()

    with pytest.raises(ValueError, match="Unknown route"):
        state.inject_fault("nowhere", status=500)


async def test_outage_answers_every_request(api: Api, state: SimulatorState) -> None:
    """A fault on `*` answers every API request, unknown paths too, not the control API."""
    location_id = state.add_location(ACCOUNT)["id"]
    async with api.session.post(
        f"{api.url}/_sim/fault", json={"route": ANY_ROUTE, "status": 503, "times": None}
    ) as response:
        assert response.status == 200
    for path in ("/locations", f"/locations/{location_id}/status", "/jwks.json", "/x"):
        status, body = await api.get(path)
        assert status == 503, path
        assert_error(body, "service_unavailable", "api_error")
    status, body, _ = await api.request("GET", "/login")
    assert status == 503
    async with api.session.get(f"{api.url}/_sim/calls") as response:
        assert response.status == 200
        assert (await response.json())["calls"]["locations"] == 1

    # A route's own fault comes first; the outage serves whatever is left.
    state.inject_fault("locations", status=429)
    assert (await api.get("/locations"))[0] == 429
    assert (await api.get("/locations"))[0] == 503
    state.clear_faults(ANY_ROUTE)
    assert (await api.get("/locations"))[0] == 200
    assert (await api.get("/x"))[0] == 404


async def test_calls_per_location(api: Api, state: SimulatorState) -> None:
    """Price, location and status calls are counted per location."""
    one = state.add_location(ACCOUNT)["id"]
    two = state.add_location(ACCOUNT)["id"]
    state.set_price_pattern(one, lambda _start: 0.1)
    for _ in range(2):
        await api.prices(one, end_time="2026-03-29T00:00:00Z")
    await api.prices(two, end_time="2026-03-29T00:00:00Z")
    await api.get(f"/locations/{one}/status")
    assert state.calls_for("prices", one) == 2
    assert state.calls_for("prices", two) == 1
    assert state.calls_for("location_status", one) == 1
    assert state.calls_for("location", one) == 0
    assert state.calls["prices"] == 3
    state.reset_calls()
    assert state.calls["prices"] == 0


# -- webhooks: JWKS, signatures, retries --------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint that answers queued statuses and records what it got."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request and answer the next status (200 when none is queued)."""
        self.received.append((dict(request.headers), await request.read()))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Serve a webhook receiver on loopback."""
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield target
    await runner.cleanup()


def public_key_from_jwk(jwk: dict[str, str]) -> rsa.RSAPublicKey:
    """Rebuild an RSA public key from a JWK, as the integration would."""

    def number(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))

    return rsa.RSAPublicNumbers(number(jwk["e"]), number(jwk["n"])).public_key()


def verify(jwk: dict[str, str], headers: dict[str, str], body: bytes) -> None:
    """Verify a delivery's signature with PS256 (raises InvalidSignature)."""
    scheme, _, encoded = headers["Flatpeak-Signature"].partition("=")
    assert scheme == "v1"
    assert "=" not in encoded  # base64url without padding
    signature = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    public_key_from_jwk(jwk).verify(
        signature,
        headers["Flatpeak-Timestamp"].encode() + b"." + body,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


async def test_signed_delivery_verifies_against_jwks(
    api: Api,
    state: SimulatorState,
    session: aiohttp.ClientSession,
    receiver: Receiver,
) -> None:
    """The sender's signature verifies with the key the JWKS serves under its kid."""
    location_id = state.add_location(ACCOUNT)["id"]
    event = state.make_tariff_event("tariff.expired", location_id)
    result = await WebhookSender(state, session).deliver(receiver.url, event)
    assert result.attempts == [200]
    assert result.delivered is True

    headers, body = receiver.received[0]
    assert json.loads(body) == event
    assert headers["Content-Type"] == "application/json"
    assert headers["Flatpeak-Signature-Scheme"] == "v1"
    assert headers["Flatpeak-Version"] == API_VERSION
    assert headers["Flatpeak-Timestamp"] == str(int(START.timestamp()))
    assert re.fullmatch(r"wsk_live_[0-9a-f]+", headers["Flatpeak-Key-ID"])

    api.token = None  # the JWKS is public
    status, jwks = await api.get("/jwks.json")
    assert status == 200
    (jwk,) = jwks["keys"]
    assert jwk["kid"] == headers["Flatpeak-Key-ID"]
    assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["e"]) == (
        "RSA",
        "sig",
        "PS256",
        "AQAB",
    )
    verify(jwk, headers, body)
    with pytest.raises(InvalidSignature):
        verify(jwk, headers, body + b" ")

    # A wrong key signs under its own kid, which the JWKS does not serve.
    wrong = SigningKey.generate()
    await WebhookSender(state, session).deliver(receiver.url, event, key=wrong)
    headers, body = receiver.received[1]
    assert headers["Flatpeak-Key-ID"] == wrong.kid
    with pytest.raises(InvalidSignature):
        verify(jwk, headers, body)

    # After rotation the JWKS serves both and the new key signs.
    new_key = state.rotate_key(wrong)
    _, jwks = await api.get("/jwks.json")
    assert [key["kid"] for key in jwks["keys"]] == [jwk["kid"], new_key.kid]
    await WebhookSender(state, session).deliver(receiver.url, event)
    headers, body = receiver.received[2]
    assert headers["Flatpeak-Key-ID"] == new_key.kid
    verify(jwks["keys"][1], headers, body)


async def test_unsigned_delivery(
    state: SimulatorState, session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """Unsigned deliveries say `none` and carry no timestamp or key id."""
    event = state.add_event("customer.create", {"id": "cus_1"}, account_id=ACCOUNT)
    await WebhookSender(state, session, sign=False).deliver(receiver.url, event)
    headers, _ = receiver.received[0]
    assert headers["Flatpeak-Signature"] == "none"
    assert "Flatpeak-Timestamp" not in headers
    assert "Flatpeak-Key-ID" not in headers


async def test_sender_retry_schedule(
    state: SimulatorState,
    session: aiohttp.ClientSession,
    receiver: Receiver,
    clock: Clock,
) -> None:
    """Failures are retried after the scheduled delays times time_scale, re-signed."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    event = state.add_event("customer.create", {"id": "cus_1"}, account_id=ACCOUNT)
    receiver.statuses = [503, 404, 200]
    sender = WebhookSender(state, session, time_scale=0.5, sleep=fake_sleep)
    result = await sender.deliver(receiver.url, event)
    assert result.attempts == [503, 404, 200]
    assert result.delivered is True
    assert slept == [15, 1800]
    timestamps = [
        int(headers["Flatpeak-Timestamp"]) for headers, _ in receiver.received
    ]
    assert timestamps == [
        int(START.timestamp()),
        int(START.timestamp()) + 15,
        int(START.timestamp()) + 1815,
    ]
    assert len({body for _, body in receiver.received}) == 1

    slept.clear()
    receiver.statuses = [500] * 6
    result = await sender.deliver(receiver.url, event)
    assert result.attempts == [500] * 6
    assert result.delivered is False
    assert slept == [15, 1800, 10800, 21600, 43200]


async def test_sender_retries_keep_the_first_signature(
    api: Api,
    state: SimulatorState,
    session: aiohttp.ClientSession,
    receiver: Receiver,
    clock: Clock,
) -> None:
    """With re-signing off, every retry repeats the first attempt's signature."""

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    event = state.add_event("customer.create", {"id": "cus_1"}, account_id=ACCOUNT)
    receiver.statuses = [503, 500, 200]
    sender = WebhookSender(state, session, resign_retries=False, sleep=fake_sleep)
    result = await sender.deliver(receiver.url, event)
    assert result.attempts == [503, 500, 200]
    assert clock.current == START + timedelta(seconds=3630)
    signed = {
        (headers["Flatpeak-Signature"], headers["Flatpeak-Timestamp"])
        for headers, _ in receiver.received
    }
    assert signed == {
        (receiver.received[0][0]["Flatpeak-Signature"], str(int(START.timestamp())))
    }
    _, jwks = await api.get("/jwks.json")
    headers, body = receiver.received[2]
    verify(jwks["keys"][0], headers, body)


async def test_control_send_without_resigning(
    api: Api, state: SimulatorState, receiver: Receiver
) -> None:
    """The control API's send takes the same switch."""
    location_id = state.add_location(ACCOUNT)["id"]
    receiver.statuses = [500]
    async with api.session.post(
        f"{api.url}/_sim/send",
        json={
            "type": "tariff.expired",
            "location_id": location_id,
            "url": receiver.url,
            "time_scale": 0.0001,
            "resign_retries": False,
        },
    ) as response:
        answer = await response.json()
    assert answer["result"] == {"attempts": [500, 200], "delivered": True}
    first, second = (headers for headers, _ in receiver.received)
    for name in ("Flatpeak-Signature", "Flatpeak-Timestamp", "Flatpeak-Key-ID"):
        assert first[name] == second[name]


async def test_control_send_signed_in_the_past(
    api: Api, state: SimulatorState, receiver: Receiver
) -> None:
    """`timestamp` signs the first attempt then; without re-signing every retry too."""
    location_id = state.add_location(ACCOUNT)["id"]
    receiver.statuses = [500]
    then = int(START.timestamp()) - 600
    async with api.session.post(
        f"{api.url}/_sim/send",
        json={
            "type": "tariff.expired",
            "location_id": location_id,
            "url": receiver.url,
            "time_scale": 0.0001,
            "resign_retries": False,
            "timestamp": then,
        },
    ) as response:
        answer = await response.json()
    assert answer["result"] == {"attempts": [500, 200], "delivered": True}
    assert [h["Flatpeak-Timestamp"] for h, _ in receiver.received] == [str(then)] * 2
    _, jwks = await api.get("/jwks.json")
    headers, body = receiver.received[1]
    verify(jwks["keys"][0], headers, body)


async def test_sender_really_waits_scaled_delays(
    state: SimulatorState, session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """With the real sleep, the compressed schedule takes the scaled time."""
    event = state.add_event("customer.create", {"id": "cus_1"}, account_id=ACCOUNT)
    receiver.statuses = [500, 500]
    sender = WebhookSender(state, session, time_scale=0.0001)
    started = time.monotonic()
    result = await sender.deliver(receiver.url, event)
    assert result.attempts == [500, 500, 200]
    assert time.monotonic() - started >= 0.363


async def test_sender_timeouts_and_connection_errors(
    state: SimulatorState, session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """A slow endpoint times out and a closed port fails to connect; both retry."""
    event = state.add_event("customer.create", {"id": "cus_1"}, account_id=ACCOUNT)
    receiver.delay = 0.5
    sender = WebhookSender(state, session, schedule=(0, 0), timeout=0.1)
    result = await sender.deliver(receiver.url, event)
    assert result.attempts == ["timeout", "timeout"]
    assert result.delivered is False

    closed = await start_simulator()
    url = closed.url
    await closed.close()
    result = await sender.deliver(f"{url}/hook", event)
    assert result.attempts == ["ClientConnectorError", "ClientConnectorError"]


# -- control endpoints, demo, command line ------------------------------------------


async def test_control_endpoints(
    api: Api, state: SimulatorState, receiver: Receiver
) -> None:
    """Another process can inject faults, read counters, set statuses and send events."""
    location_id = state.add_location(ACCOUNT)["id"]
    state.set_price_pattern(location_id, lambda _start: 0.1)

    async def control(path: str, body: Any = None) -> Any:
        method = "GET" if body is None else "POST"
        async with api.session.request(
            method, f"{api.url}/_sim/{path}", json=body
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    await control("fault", {"route": "location", "status": 500, "times": 1})
    assert (await api.get(f"/locations/{location_id}"))[0] == 500
    await control("fault", {"route": "location", "status": 500, "times": None})
    await control("clear_faults", {})
    assert (await api.get(f"/locations/{location_id}"))[0] == 200

    await control("prices_error", {"location_id": location_id, "code": "no_price_data"})
    status, body = await api.prices(location_id, end_time="2026-03-29T00:00:00Z")
    assert (status, body["code"]) == (422, "no_price_data")
    await control("prices_error", {"location_id": location_id, "code": None})

    slot = await control(
        "status",
        {
            "location_id": location_id,
            "status": "CONNECTED",
            "connection_type": "LIBRARY",
            "contract_end_date": "2026-04-01T00:00:00Z",
        },
    )
    assert slot["connection_type"] == "LIBRARY"
    assert slot["tariff"]["contract_end_date"] == "2026-04-01T00:00:00Z"

    calls = await control("calls")
    assert calls["calls"]["location"] == 2
    assert calls["locations"]["location"] == {location_id: 2}
    assert calls["missing_version_header"] == 0

    answer = await control(
        "send",
        {"type": "tariff.expired", "location_id": location_id, "url": receiver.url},
    )
    assert answer["result"] == {"attempts": [200], "delivered": True}
    assert answer["event"]["type"] == "tariff.expired"
    assert json.loads(receiver.received[0][1]) == answer["event"]
    _, events = await api.get("/events")
    assert events["data"][0]["id"] == answer["event"]["id"]

    async with api.session.post(f"{api.url}/_sim/fault", json={"route": "x"}) as bad:
        assert bad.status == 400


async def test_demo(session: aiohttp.ClientSession, clock: Clock) -> None:
    """The demo serves two live locations with Agile-like prices and flat export."""
    state = SimulatorState(clock=clock)
    demo = seed_demo(state)
    async with await start_simulator(state) as simulator:
        api = Api(session, simulator.url)
        await api.login(demo.account_id, demo.live_key)
        _, body = await api.get("/locations")
        assert [item["id"] for item in body["data"]] == [
            demo.workshop_location_id,
            demo.home_location_id,
        ]
        _, prices = await api.prices(
            demo.home_location_id,
            start_time="2026-03-28T00:00:00Z",
            end_time="2026-03-29T00:00:00Z",
        )
        values = [row["price"]["value"] for row in prices["data"]]
        assert len(values) == 48
        assert min(values[:10]) < 0.15
        assert 0.30 <= max(values[32:38]) <= 0.41
        assert {row["price"]["confidence"] for row in prices["data"]} == {1.0}
        _, later = await api.prices(
            demo.home_location_id,
            start_time="2026-04-01T00:00:00Z",
            end_time="2026-04-01T01:00:00Z",
        )
        assert later["data"][0]["price"]["confidence"] < 1

        status, export = await api.prices(
            demo.workshop_location_id,
            end_time="2026-03-29T00:00:00Z",
            tariff_direction="EXPORT",
        )
        assert status == 200
        assert {row["price"]["value"] for row in export["data"]} == {0.15}
        status, _ = await api.prices(
            demo.home_location_id,
            end_time="2026-03-29T00:00:00Z",
            tariff_direction="EXPORT",
        )
        assert status == 422

        await api.login(demo.account_id, demo.test_key)
        _, body = await api.get("/locations")
        assert [item["id"] for item in body["data"]] == [demo.test_location_id]


@pytest.fixture
def cli_simulator() -> Iterator[str]:
    """Run `python -m tests.simulator` in its own process; yield its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", first_line)
        assert match, first_line
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_command_line_serve_and_send(cli_simulator: str) -> None:
    """`send` makes the running simulator deliver a signed event."""
    # The simulator's own clear_faults endpoint accepts any JSON object: a handy target.
    completed = subprocess.run(  # noqa: S603 - fixed arguments, this interpreter
        [
            sys.executable,
            "-m",
            "tests.simulator",
            "send",
            "location.update",
            "--url",
            f"{cli_simulator}/_sim/clear_faults",
            "--location",
            "loc_650000000000000000000001",
            "--simulator",
            cli_simulator,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    answer = json.loads(completed.stdout)
    assert answer["result"] == {"attempts": [200], "delivered": True}
    assert answer["event"]["data"]["id"] == "loc_650000000000000000000001"


def control_sync(url: str, name: str, body: dict[str, Any]) -> Any:
    """POST to a control endpoint of a simulator process (as a shell script would)."""
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL
        f"{url}/_sim/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_command_line_outage_and_unsigned_retries(cli_simulator: str) -> None:
    """A separate simulator process takes the outage fault and the re-signing switch."""
    control_sync(cli_simulator, "fault", {"route": "*", "status": 503, "times": None})
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(f"{cli_simulator}/jwks.json", timeout=10)  # noqa: S310
    assert failed.value.code == 503
    failed.value.close()
    control_sync(cli_simulator, "clear_faults", {})
    completed = subprocess.run(  # noqa: S603 - fixed arguments, this interpreter
        [
            sys.executable,
            "-m",
            "tests.simulator",
            "send",
            "tariff.expired",
            "--url",
            f"{cli_simulator}/_sim/clear_faults",
            "--location",
            "loc_650000000000000000000001",
            "--simulator",
            cli_simulator,
            "--no-resign-retries",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_tariff_events_show_in_status() -> None:
    """The status reflects what tariff.* events report; other events change nothing."""
    state = SimulatorState()
    state.add_account("acc_1", ["sk_live_1"])
    state.add_location("acc_1", "loc_1")
    state.set_status("loc_1", contract_end_date=state.now() + timedelta(days=365))
    before = state.location_status("loc_1")["tariff_status"]["commodity_import"]
    state.reflect_in_status("location.update", "loc_1")
    assert state.location_status("loc_1")["tariff_status"]["commodity_import"] == before
    state.reflect_in_status("tariff.fetch.failed", "loc_1")
    state.reflect_in_status("tariff.connection.upgrade", "loc_1")
    state.reflect_in_status("tariff.expired", "loc_1")
    after = state.location_status("loc_1")["tariff_status"]["commodity_import"]
    assert after["status"] == "ERROR"
    assert after["connection_type"] == "LIBRARY"
    assert after["tariff"]["contract_end_date"] < before["tariff"]["contract_end_date"]
    assert state.locations["loc_1"]["tariff_status"]["commodity_import"] == "ERROR"
