"""Tests for the Flatpeak client against the simulator, over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import socket
from typing import TYPE_CHECKING
from unittest.mock import patch

import aiohttp
import pytest

from custom_components.flatpeak.api.client import (
    API_VERSION,
    FlatpeakClient,
    format_timestamp,
)
from custom_components.flatpeak.api.exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakApiError,
    FlatpeakApiVersionError,
    FlatpeakAuthenticationError,
    FlatpeakConnectionError,
    FlatpeakNoPriceDataError,
    FlatpeakNoTariffError,
    FlatpeakNotFoundError,
    FlatpeakPendingConnectError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
    FlatpeakServerError,
    FlatpeakTimeoutError,
)
from tests.simulator import PriceSlot, RunningSimulator, SimulatorState, start_simulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ACCOUNT = "acc_661677911f2197045e6cf1b1"
LIVE_KEY = "sk_live_65e88ad8b13031c26a39c06c"
TEST_KEY = "sk_test_687b8977879fd796a86faa03"


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[RunningSimulator]:
    """A simulator with one account and one location with half-hourly prices."""
    state = SimulatorState()
    state.add_account(ACCOUNT, [LIVE_KEY, TEST_KEY])
    state.add_location(ACCOUNT, "loc_home", reference_id="Home")
    state.set_status("loc_home")
    start = datetime(2026, 6, 1, tzinfo=UTC)
    state.set_prices(
        "loc_home",
        [
            PriceSlot(
                start + timedelta(minutes=30 * i),
                start + timedelta(minutes=30 * (i + 1)),
                0.1 + i / 100,
                1.0 if i < 4 else 0.6,
            )
            for i in range(8)
        ],
        next_update=datetime(2026, 6, 1, 15, tzinfo=UTC),
    )
    async with await start_simulator(state) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(
    session: aiohttp.ClientSession,
    simulator: RunningSimulator,
    *,
    api_key: str = LIVE_KEY,
    **kwargs: object,
) -> FlatpeakClient:
    return FlatpeakClient(
        session,
        ACCOUNT,
        api_key,
        api_url=simulator.url,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_login_and_token_reuse(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """One login serves many requests; every request names the API version."""
    client = _client(session, simulator)
    assert client.live_mode
    await client.get_location("loc_home")
    await client.get_location_status("loc_home")
    assert simulator.state.calls["login"] == 1
    assert simulator.state.missing_version_header == 0
    assert API_VERSION == "2025-09-14.anode"


async def test_test_key_is_test_mode(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A test key logs into test mode and sees only test data."""
    client = _client(session, simulator, api_key=TEST_KEY)
    assert not client.live_mode
    token = await client.login()
    assert token.live_mode is False
    assert await client.list_locations() == []


async def test_token_renewed_before_expiry(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The bearer is renewed shortly before `expires_in` runs out, not after."""
    simulator.state.token_lifetime = 600
    clock = FakeMonotonic()
    client = _client(session, simulator, monotonic=clock)
    await client.get_location("loc_home")
    clock.now += 530  # within the renewal margin but before expiry
    await client.get_location("loc_home")
    assert simulator.state.calls["login"] == 1
    clock.now += 20
    await client.get_location("loc_home")
    assert simulator.state.calls["login"] == 2


async def test_token_renewed_once_on_401(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A bearer the API no longer accepts is replaced once, transparently."""
    client = _client(session, simulator)
    await client.get_location("loc_home")
    simulator.state.expire_tokens()
    location = await client.get_location("loc_home")
    assert location.reference_id == "Home"
    assert simulator.state.calls["login"] == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_twice_is_authentication_error(
    simulator: RunningSimulator, session: aiohttp.ClientSession, status: int
) -> None:
    """After one renewal, a second refusal is an authentication error."""
    client = _client(session, simulator)
    simulator.state.inject_fault("location", status=status, times=2)
    with pytest.raises(FlatpeakAuthenticationError) as err:
        await client.get_location("loc_home")
    assert err.value.status == status
    assert simulator.state.calls["login"] == 2
    assert simulator.state.calls["location"] == 2


async def test_bad_credentials(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A wrong or revoked key fails at login with the API's message kept."""
    client = FlatpeakClient(session, ACCOUNT, "sk_live_wrong", api_url=simulator.url)
    with pytest.raises(FlatpeakAuthenticationError) as err:
        await client.login()
    assert err.value.status == 403
    assert err.value.message == "Bad credentials"

    client = _client(session, simulator)
    await client.get_location("loc_home")
    simulator.state.revoke_key(LIVE_KEY)
    with pytest.raises(FlatpeakAuthenticationError):
        await client.get_location("loc_home")


async def test_account_disabled(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A disabled account is its own error, with the API's code."""
    simulator.state.set_account_disabled(ACCOUNT, True)
    with pytest.raises(FlatpeakAccountDisabledError) as err:
        await _client(session, simulator).login()
    assert err.value.code == "account_disabled"


async def test_newer_account_api_version_is_its_own_error(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """422 api_version_not_supported (an account default newer than what is sent)."""
    with (
        patch("custom_components.flatpeak.api.client.API_VERSION", "2024-08-24.zero"),
        pytest.raises(FlatpeakApiVersionError) as err,
    ):
        await _client(session, simulator).login()
    assert err.value.code == "api_version_not_supported"
    assert err.value.status == 422


async def test_pagination_collects_every_page(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """All locations come back, newest first, one request per page of 100."""
    created = [
        simulator.state.add_location(ACCOUNT, reference_id=f"L{i}")["id"]
        for i in range(230)
    ]
    locations = await _client(session, simulator).list_locations()
    assert [loc.id for loc in locations] == [*reversed(created), "loc_home"]
    assert simulator.state.calls["locations"] == 3


async def test_location_and_status(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A location and its status are parsed into models."""
    client = _client(session, simulator)
    location = await client.get_location("loc_home")
    assert (location.timezone, location.currency_code) == ("Europe/London", "GBP")
    status = await client.get_location_status("loc_home")
    assert status.commodity_import is not None
    assert status.commodity_import.connected
    with pytest.raises(FlatpeakNotFoundError):
        await client.get_location("loc_missing")


async def test_prices_window_and_offsets(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """Prices come back clipped to the window, in order, with confidence."""
    client = _client(session, simulator)
    start = datetime(2026, 6, 1, 1, 15, tzinfo=UTC)
    prices = await client.get_prices(
        "loc_home", start=start, end=start + timedelta(hours=2)
    )
    assert prices.currency_code == "GBP"
    assert prices.next_update == datetime(2026, 6, 1, 15, tzinfo=UTC)
    assert prices.slots[0].valid_from == start
    assert prices.slots[-1].valid_to == start + timedelta(hours=2)
    assert [slot.confidence for slot in prices.slots] == [1.0, 1.0, 0.6, 0.6, 0.6]
    assert prices.slots[0].value == pytest.approx(0.12)


async def test_prices_legacy_row_shape(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The documented `tariff{rate}` row shape parses to the same slots."""
    simulator.state.price_row_shape = "tariff"
    start = datetime(2026, 6, 1, tzinfo=UTC)
    prices = await _client(session, simulator).get_prices(
        "loc_home", start=start, end=start + timedelta(hours=1)
    )
    assert [slot.value for slot in prices.slots] == pytest.approx([0.1, 0.11])


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("pending_connect", FlatpeakPendingConnectError),
        ("no_tariff_connected", FlatpeakNoTariffError),
        ("no_price_data", FlatpeakNoPriceDataError),
    ],
)
async def test_prices_unavailable_codes(
    simulator: RunningSimulator,
    session: aiohttp.ClientSession,
    code: str,
    error: type[FlatpeakApiError],
) -> None:
    """Each documented 422 code maps to its own error class, keeping code and message."""
    simulator.state.set_prices_error("loc_home", code)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(error) as err:
        await _client(session, simulator).get_prices(
            "loc_home", start=start, end=start + timedelta(hours=1)
        )
    assert err.value.code == code
    assert err.value.status == 422
    assert err.value.message


async def test_export_without_tariff(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A direction with no tariff is a no_tariff_connected error."""
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(FlatpeakNoTariffError):
        await _client(session, simulator).get_prices(
            "loc_home", start=start, end=start + timedelta(hours=1), direction="EXPORT"
        )


async def test_other_422_keeps_code(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """An undocumented 422 code is a plain API error with that code."""
    simulator.state.inject_fault(
        "location",
        status=422,
        body={"object": "error", "code": "country_code_missing", "message": "Nope"},
    )
    with pytest.raises(FlatpeakApiError) as err:
        await _client(session, simulator).get_location("loc_home")
    assert type(err.value) is FlatpeakApiError
    assert (err.value.code, err.value.message) == ("country_code_missing", "Nope")


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7.0), (None, None), ("x", None)]
)
async def test_rate_limited(
    simulator: RunningSimulator,
    session: aiohttp.ClientSession,
    header: str | None,
    expected: float | None,
) -> None:
    """429 is a rate-limit error carrying the Retry-After advice when given."""
    simulator.state.inject_fault(
        "location_status",
        status=429,
        headers={"Retry-After": header} if header else None,
    )
    with pytest.raises(FlatpeakRateLimitError) as err:
        await _client(session, simulator).get_location_status("loc_home")
    assert err.value.retry_after == expected
    assert err.value.status == 429


async def test_retry_after_http_date(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """Retry-After given as an HTTP date is turned into seconds."""
    simulator.state.inject_fault(
        "location",
        status=429,
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    with pytest.raises(FlatpeakRateLimitError) as err:
        await _client(session, simulator).get_location("loc_home")
    assert err.value.retry_after == 0.0


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors(
    simulator: RunningSimulator, session: aiohttp.ClientSession, status: int
) -> None:
    """5xx answers are server errors; the next call works again."""
    client = _client(session, simulator)
    simulator.state.inject_fault("location", status=status)
    with pytest.raises(FlatpeakServerError) as err:
        await client.get_location("loc_home")
    assert err.value.status == status
    assert (await client.get_location("loc_home")).id == "loc_home"


@pytest.mark.parametrize(
    "body", ["{not json", b"\x00\x01", "[1, 2]", '{"data": "x"}', "<html>oops</html>"]
)
async def test_malformed_bodies(
    simulator: RunningSimulator, session: aiohttp.ClientSession, body: str | bytes
) -> None:
    """Bodies that are not what the API documents are response errors."""
    simulator.state.inject_fault("locations", status=200, body=body)
    with pytest.raises(FlatpeakResponseError):
        await _client(session, simulator).list_locations()


async def test_error_body_not_json(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """An error page that is not JSON still gives a readable message."""
    simulator.state.inject_fault("location", status=502, body="<h1>Bad gateway</h1>")
    with pytest.raises(FlatpeakServerError) as err:
        await _client(session, simulator).get_location("loc_home")
    assert "Bad gateway" in err.value.message


async def test_timeout(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A slow answer is a timeout error, which is also a connection error."""
    client = _client(session, simulator, request_timeout=1.0)
    await client.login()
    simulator.state.inject_fault("location", delay=5.0)
    with pytest.raises(FlatpeakTimeoutError) as err:
        await client.get_location("loc_home")
    assert isinstance(err.value, FlatpeakConnectionError)


async def test_connection_refused(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    """Nothing listening is a connection error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = FlatpeakClient(
        session, ACCOUNT, LIVE_KEY, api_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(FlatpeakConnectionError) as err:
        await client.login()
    assert not isinstance(err.value, FlatpeakTimeoutError)


async def test_events_filters_and_catch_up(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """Events list newest first; catch-up returns what came after an id, oldest first."""
    state = simulator.state
    ids = [
        state.make_tariff_event(
            "tariff.expired" if i % 2 else "tariff.expiring", "loc_home"
        )["id"]
        for i in range(250)
    ]
    client = _client(session, simulator)
    page = await client.list_events(limit=10)
    assert [event.id for event in page.events] == ids[::-1][:10]
    assert page.has_more
    expired = await client.list_events(event_type="tariff.expired", limit=100)
    assert {event.type for event in expired.events} == {"tariff.expired"}
    assert (await client.list_events(object_id="loc_nowhere")).events == ()

    newer = await client.list_recent_events(after_id=ids[20])
    assert [event.id for event in newer] == ids[21:]
    assert await client.list_recent_events(after_id=ids[-1]) == []
    assert [
        e.id for e in await client.list_recent_events(after_id=ids[0], max_events=50)
    ] == ids[-50:]
    # Looking back in time reaches behind the newest id, for retried deliveries.
    recent = await client.list_recent_events(
        after_id=ids[-1], created_since=datetime(2000, 1, 1, tzinfo=UTC)
    )
    assert [event.id for event in recent] == ids
    # …but never behind the point the entry started following events.
    floored = await client.list_recent_events(
        after_id=ids[-1],
        created_since=datetime(2000, 1, 1, tzinfo=UTC),
        floor_id=ids[99],
    )
    assert [event.id for event in floored] == ids[100:]

    event = await client.get_event(ids[3])
    assert event.location_id == "loc_home"
    assert event.account_id == ACCOUNT
    with pytest.raises(ValueError, match="mutually exclusive"):
        await client.list_events(starting_after=ids[1], ending_before=ids[2])


async def test_jwks(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The signing keys are served without authentication."""
    keys = await _client(session, simulator).get_jwks()
    assert [key.kid for key in keys] == [k.kid for k in simulator.state.signing_keys]
    assert simulator.state.calls["login"] == 0


async def test_jwks_malformed(
    simulator: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A JWKS without keys is a response error; keys of other types are skipped."""
    client = _client(session, simulator)
    simulator.state.inject_fault("jwks", status=200, body={"nope": []})
    with pytest.raises(FlatpeakResponseError):
        await client.get_jwks()
    simulator.state.inject_fault(
        "jwks", status=200, body={"keys": [{"kty": "EC", "kid": "x"}]}
    )
    assert await client.get_jwks() == []


def test_naive_timestamps_refused() -> None:
    """Sending a naive datetime would silently mean the server's zone: refuse it."""
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001
