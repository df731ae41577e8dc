"""Hostile input and delivery patterns: fuzzed bodies and headers, floods, restarts.

The webhook is the integration's only surface open to the internet. Whatever arrives, the
handler answers with one of the contract's status codes, applies nothing that is not a
valid event of this entry, and applies every event exactly once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import itertools
import json
import random
import re
from typing import TYPE_CHECKING, Any
import uuid

import aiohttp
from hypothesis import HealthCheck, example, given, settings, strategies as st
from multidict import CIMultiDict
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.flatpeak.api.delivery import parse_event
from custom_components.flatpeak.api.exceptions import (
    FlatpeakConnectionError,
    WebhookKeyUnavailableError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from custom_components.flatpeak.api.models import Event, JsonWebKey
from custom_components.flatpeak.api.signature import (
    HEADER_KEY_ID,
    HEADER_SIGNATURE,
    HEADER_SIGNATURE_SCHEME,
    HEADER_TIMESTAMP,
    SignatureHeaders,
    SignatureVerifier,
)
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK, Outcome
from custom_components.flatpeak.webhook.confirmation import (
    EventConfirmer,
    ReadBackLimiter,
)
from custom_components.flatpeak.webhook.event_log import MAX_REMEMBERED_IDS, EventLog
from custom_components.flatpeak.webhook.handler import MAX_BODY_BYTES
from tests.helpers import ACCOUNT_ID, HOME_ID, NOW, WEBHOOK_PATH, make_event
from tests.simulator import SigningKey, WebhookSender

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.simulator import RunningSimulator, SimulatorState

# Hypothesis's own false alarm about the PRNG it registers for itself (seen on 3.14).
pytestmark = pytest.mark.filterwarnings(
    "ignore:It looks like `register_random`:hypothesis.errors.HypothesisWarning"
)

# Modest example counts: the suite runs on a loaded two-core machine. No example database,
# so a failure is reproduced from its printed blob rather than from saved state.
PURE = settings(max_examples=300, deadline=None, database=None)
WITH_HASS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NOW_TS = int(NOW.timestamp())
EVENT_TYPES = (
    "tariff.expired",
    "tariff.expiring",
    "tariff.fetch.failed",
    "tariff.connection.upgrade",
    "schedule.created",
    "customer.update",
    "device.update",
    "brand.new.type",
)
# Header values as they survive HTTP: no control characters (aiohttp refuses to send them).
header_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A delivery as Flatpeak sends it, with fields removed, mutated or mistyped."""
    event = make_event(
        draw(st.sampled_from(EVENT_TYPES)),
        event_id=draw(st.sampled_from([f"evt_{n}" for n in range(5)])),
        location_id=draw(st.sampled_from([HOME_ID, "loc_elsewhere"])),
        live_mode=draw(st.booleans()),
        account_id=draw(st.sampled_from([ACCOUNT_ID, "acc_other"])),
    )
    for target in draw(st.lists(st.sampled_from(["event", "data"]), max_size=4)):
        data = event.get("data")
        obj = data if target == "data" and isinstance(data, dict) else event
        key = draw(
            st.sampled_from(
                [
                    *("id", "type", "data", "object", "time_created", "account_id"),
                    *("live_mode", "location_id", "tariff_id"),
                ]
            )
            | st.text(max_size=5)
        )
        if draw(st.booleans()):
            obj.pop(key, None)
        else:
            obj[key] = draw(
                json_values
                | st.sampled_from(["", "location", "event", NOW.isoformat(), "2026-13"])
            )
    return event


def _optional(obj: dict[str, Any], key: str, kind: type) -> bool:
    value = obj.get(key)
    return value is None or isinstance(value, kind)


def _is_time(value: Any) -> bool:
    if value is None or value == "":
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


class _InvalidEventError(Exception):
    """The body is not a valid event."""


def _require(condition: object) -> None:
    if not condition:
        raise _InvalidEventError


# The contract's shapes: `evt_` and a token of at most 64 letters, digits, `_` or `-`;
# dotted lower-case words of at most 64 characters; at most 16 levels of nesting.
CONTRACT_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_-]{1,64}")
CONTRACT_EVENT_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
CONTRACT_MAX_DEPTH = 16


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _shaped_like_an_event(event_id: Any, event_type: Any, payload: Any) -> bool:
    return (
        isinstance(event_id, str)
        and CONTRACT_EVENT_ID.fullmatch(event_id) is not None
        and isinstance(event_type, str)
        and len(event_type) <= 64
        and CONTRACT_EVENT_TYPE.fullmatch(event_type) is not None
        and _depth(payload) <= CONTRACT_MAX_DEPTH
    )


def _valid_event(payload: Any) -> tuple[str, str | None, bool | None]:
    """Return a valid event's id, account and mode; raise _InvalidEventError otherwise."""
    _require(isinstance(payload, dict))
    event_id, event_type, data = (payload.get(k) for k in ("id", "type", "data"))
    _require(isinstance(data, dict))
    _require(_shaped_like_an_event(event_id, event_type, payload))
    _require(payload.get("object", "event") == "event")
    _require(_is_time(payload.get("time_created")))
    for key in ("location_id", "tariff_id", "account_id"):
        _require(_optional(data, key, str))
    _require(_optional(data, "live_mode", bool))
    # location.* events carry the location itself: its id is the location's.
    _require(
        data.get("location_id")
        or data.get("object") != "location"
        or _optional(data, "id", str)
    )
    account = data.get("account_id") or None
    if account is None:
        _require(_optional(payload, "account_id", str))
        account = payload.get("account_id") or None
    if "live_mode" in data:
        return event_id, account, data["live_mode"]
    _require(_optional(payload, "live_mode", bool))
    return event_id, account, payload.get("live_mode")


def expected_delivery(body: bytes) -> tuple[str, str | None]:
    """Classify a body as the contract does: too_large, invalid, ignored or apply (+id).

    Written from the documented event shape, not from the parser: `id`, `type` non-empty
    strings and `data` an object; the documented optional fields absent, null or of their
    type; the event belongs to the entry unless it names another account or test mode.
    """
    if len(body) > MAX_BODY_BYTES:
        return "too_large", None
    try:
        event_id, account, live_mode = _valid_event(json.loads(body))
    except ValueError, RecursionError, _InvalidEventError:
        return "invalid", None
    if account not in (None, ACCOUNT_ID) or live_mode is False:
        return "ignored", event_id
    return "apply", event_id


# -- 1. parse_event: total over any input ----------------------------------------------


def _check_parse(body: bytes) -> None:
    try:
        event = parse_event(body)
    except WebhookPayloadError:
        assert expected_delivery(body)[0] == "invalid"
        return
    assert isinstance(event, Event)
    assert isinstance(event.id, str)
    assert event.id
    assert isinstance(event.type, str)
    assert event.type
    assert isinstance(event.data, dict)
    assert expected_delivery(body) in (("apply", event.id), ("ignored", event.id))


@PURE
@given(st.binary(max_size=300))
@example(b"")
@example(b" \t\r\n")
@example(b"\xff\xfe\x00")
@example(b"[" * 100_000)
@example(b"1" * 5000)
@example(b'{"id": "e", "type": "t", "data": {}, "time_created": "\\ud800"}')
@example(b'\xef\xbb\xbf{"id": "e", "type": "t", "data": {}}')
@example(b'{"id": "e", "type": "t", "data": {}, "time_created": NaN}')
def test_parse_event_any_bytes(body: bytes) -> None:
    """Any bytes parse into a well-formed event or raise WebhookPayloadError."""
    _check_parse(body)


@PURE
@given(json_values)
def test_parse_event_any_json(value: Any) -> None:
    """Any JSON value parses into a well-formed event or raises WebhookPayloadError."""
    _check_parse(json.dumps(value).encode())


@PURE
@given(near_valid_events())
def test_parse_event_near_valid(event: dict[str, Any]) -> None:
    """Real events with fields removed or mistyped: the same two outcomes, and only those."""
    _check_parse(json.dumps(event).encode())


@PURE
@given(
    event_id=json_values
    | st.text(max_size=10)
    | st.from_regex(r"evt_[A-Za-z0-9_-]{0,66}", fullmatch=True),
    event_type=json_values | st.sampled_from(EVENT_TYPES),
    data=json_values
    | st.dictionaries(st.sampled_from(["x", "y", "note"]), json_values, max_size=3),
)
def test_parse_event_required_fields(event_id: Any, event_type: Any, data: Any) -> None:
    """With only id/type/data present, it parses exactly when the contract says so."""
    body = json.dumps({"id": event_id, "type": event_type, "data": data}).encode()
    valid = (
        _shaped_like_an_event(event_id, event_type, {"data": data})
        and isinstance(data, dict)
        and not ({"location_id", "tariff_id", "account_id", "live_mode"} & set(data))
    )
    if valid:
        event = parse_event(body)
        assert (event.id, event.type) == (event_id, event_type)
        # Compared as JSON: NaN, which JSON numbers may spell, is not equal to itself.
        assert json.dumps(event.data) == json.dumps(data)
    else:
        _check_parse(body)


# -- 2. Signature headers and verification: only the two documented errors -------------


@st.composite
def signature_headers(draw: st.DrawFn) -> tuple[dict[str, str], bytes, bool]:
    """Headers, body, and whether they carry a genuine v1 signature (fresh or not)."""
    key = SigningKey.default()
    body = draw(st.binary(max_size=64))
    stamp = NOW_TS + draw(st.integers(-400, 400))
    headers: dict[str, str] = {}
    genuine = draw(st.booleans())
    if genuine:
        headers[HEADER_SIGNATURE] = key.sign(stamp, body)
        headers[HEADER_TIMESTAMP] = str(stamp)
        headers[HEADER_KEY_ID] = key.kid
    else:
        headers[HEADER_SIGNATURE] = draw(
            header_text
            | st.sampled_from(["none", "NONE", " none ", "v1=", "v1=@@@", "v2=AAAA"])
            | st.text("ABCDEFabcdef0123456789-_=", max_size=40).map(lambda s: "v1=" + s)
        )
        headers[HEADER_TIMESTAMP] = draw(
            header_text
            | st.integers(-(10**30), 10**30).map(str)
            | st.integers(0, 10**600).map(str)
            | st.sampled_from(["²", "١٢٣", "0x10", " 1", "-0", str(NOW_TS)])
        )
        headers[HEADER_KEY_ID] = draw(header_text | st.just(key.kid))
    if draw(st.booleans()):
        headers[HEADER_SIGNATURE_SCHEME] = draw(header_text | st.just("v1"))
    for name in draw(
        st.lists(st.sampled_from([HEADER_TIMESTAMP, HEADER_KEY_ID]), max_size=2)
    ):
        headers.pop(name, None)
    ok = (
        genuine
        and HEADER_TIMESTAMP in headers
        and HEADER_KEY_ID in headers
        and headers.get(HEADER_SIGNATURE_SCHEME, "v1") == "v1"
    )
    return headers, body, ok


@PURE
@given(signature_headers(), st.booleans())
@example(
    (
        {HEADER_SIGNATURE: "v1=AAAA", HEADER_TIMESTAMP: "²", HEADER_KEY_ID: "k"},
        b"",
        False,
    ),
    True,
)
@example(
    (
        {HEADER_SIGNATURE: "v1=AAAA", HEADER_TIMESTAMP: "9" * 400, HEADER_KEY_ID: "k"},
        b"",
        False,
    ),
    True,
)
@example(
    (
        {HEADER_SIGNATURE: "v1=AAAA", HEADER_TIMESTAMP: "9" * 5000, HEADER_KEY_ID: "k"},
        b"",
        False,
    ),
    True,
)
async def test_signature_verification_total(
    case: tuple[dict[str, str], bytes, bool], jwks_reachable: bool
) -> None:
    """Arbitrary signing headers: success only when genuine, else the two errors.

    A genuine signature verifies whatever its timestamp; whether the timestamp is within
    the 5 minutes is the answer.
    """
    headers, body, genuine = case
    key = SigningKey.default()

    async def fetch_jwks() -> list[JsonWebKey]:
        if not jwks_reachable:
            raise FlatpeakConnectionError("unreachable")
        return [JsonWebKey.from_dict(key.jwk())]

    signature = SignatureHeaders.from_headers(CIMultiDict(headers))
    raw = headers[HEADER_SIGNATURE].strip()
    if not raw or raw.lower() == "none":
        assert signature is None
        return
    assert signature is not None
    verifier = SignatureVerifier(fetch_jwks, clock=lambda: float(NOW_TS))
    try:
        fresh = await verifier.verify(signature, body)
    except WebhookKeyUnavailableError:
        assert not jwks_reachable
    except WebhookSignatureError:
        assert not (genuine and jwks_reachable)
    else:
        assert genuine
        assert jwks_reachable
        assert fresh == (abs(int(headers[HEADER_TIMESTAMP]) - NOW_TS) <= 300)


@PURE
@given(
    st.dictionaries(
        st.sampled_from(
            [HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_KEY_ID, HEADER_SIGNATURE_SCHEME]
        )
        | st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12),
        header_text,
        max_size=6,
    )
)
def test_signature_headers_from_any_headers(headers: dict[str, str]) -> None:
    """Any header set is unsigned (None) or carries the signature header's value."""
    signature = SignatureHeaders.from_headers(CIMultiDict(headers))
    raw = headers.get(HEADER_SIGNATURE, "").strip()
    if not raw or raw.lower() == "none":
        assert signature is None
    else:
        assert signature is not None
        assert signature.signature == raw
        assert signature.timestamp == headers.get(HEADER_TIMESTAMP)
        assert signature.key_id == headers.get(HEADER_KEY_ID)
        assert signature.scheme == headers.get(HEADER_SIGNATURE_SCHEME)


# -- 3. The real handler over HTTP -------------------------------------------------------

OVERSIZED = json.dumps(make_event("tariff.expired", event_id="evt_big")).encode()[:-1]
OVERSIZED += b" " * MAX_BODY_BYTES + b"}"


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str], bool | None]:
    """A delivery: body, headers, and whether a signature vouches for it.

    True for a genuine fresh signature, False for one that does not verify, None for a
    hint: unsigned, or genuinely signed more than 5 minutes ago (read back like one).
    """
    kind = draw(st.sampled_from(["bytes", "json", "near", "near"] + ["event"] * 4))
    if kind == "bytes":
        body = draw(st.binary(max_size=200) | st.just(OVERSIZED))
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "near":
        body = json.dumps(draw(near_valid_events())).encode()
    else:  # mostly ours, sometimes a redelivery of an id seen before
        body = json.dumps(
            make_event(
                draw(st.sampled_from(EVENT_TYPES)),
                event_id=f"evt_http_{draw(st.integers(0, 10**9) | st.integers(0, 4))}",
                location_id=draw(st.sampled_from([HOME_ID, HOME_ID, "loc_elsewhere"])),
                live_mode=draw(st.sampled_from([True, True, True, False])),
                account_id=draw(st.sampled_from([ACCOUNT_ID] * 3 + ["acc_other"])),
            )
        ).encode()
    headers = {
        "Content-Type": draw(
            st.sampled_from(["application/json", "text/plain", "", "multipart/x"])
            | header_text
        )
    }
    key = SigningKey.default()
    mode = draw(
        st.sampled_from(
            [
                *("absent", "absent", "none", "genuine", "genuine"),
                *("stale", "other-kid", "junk", "junk"),
            ]
        )
    )
    genuine: bool | None = None
    if mode == "none":
        headers[HEADER_SIGNATURE] = "none"
    elif mode in ("genuine", "stale", "other-kid"):
        stamp = NOW_TS - (301 if mode == "stale" else draw(st.integers(0, 300)))
        headers[HEADER_SIGNATURE] = key.sign(stamp, body)
        headers[HEADER_TIMESTAMP] = str(stamp)
        headers[HEADER_KEY_ID] = key.kid if mode != "other-kid" else "wsk_live_other"
        headers[HEADER_SIGNATURE_SCHEME] = "v1"
        genuine = {"genuine": True, "stale": None, "other-kid": False}[mode]
    elif mode == "junk":
        for name in (HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_KEY_ID):
            headers[name] = draw(
                header_text | st.integers(0, 10**500).map(str) | st.just("v1=AAAA")
            )
        raw = headers[HEADER_SIGNATURE].strip()
        genuine = None if not raw or raw.lower() == "none" else False
    return body, headers, genuine


@pytest.fixture
def applied_ids() -> set[str]:
    """The ids applied so far: lives as long as Home Assistant, across examples."""
    return set()


@pytest.fixture
def flatpeak_events() -> dict[str, tuple[str, bool]]:
    """The ids Flatpeak has (and their owners): lives as long as Home Assistant."""
    return {}


def _owner(body: bytes) -> tuple[str, bool]:
    """Whose event a valid body is, as Flatpeak would store it."""
    data = json.loads(body)["data"]
    return data.get("account_id") or ACCOUNT_ID, data.get("live_mode", True)


def _expected_answer(
    body: bytes,
    genuine: bool | None,
    applied: set[str],
    flatpeak_has: dict[str, tuple[str, bool]],
) -> tuple[int, str | None]:
    """The contract's status (and message) for one delivery, from the model."""
    kind, event_id = expected_delivery(body)
    if kind == "too_large":
        return 413, None
    if genuine is False:
        return 401, None
    if kind == "invalid":
        return 400, None
    assert event_id is not None
    if event_id in applied:
        return 200, Outcome.DUPLICATE
    data = json.loads(body)["data"]
    says_whose = (
        data.get("account_id") is not None and data.get("live_mode") is not None
    )
    if genuine and says_whose:
        return 200, Outcome.APPLIED if kind == "apply" else Outcome.IGNORED
    # A hint: only what Flatpeak has, for our key, is applied (its copy).
    known = flatpeak_has.get(event_id) == (ACCOUNT_ID, True)
    return (200, Outcome.APPLIED) if known else (404, None)


@settings(WITH_HASS, max_examples=200)
@given(st.lists(st.tuples(deliveries(), st.booleans()), min_size=1, max_size=4))
async def test_handler_over_http(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    simulator_state: SimulatorState,
    applied_ids: set[str],
    flatpeak_events: dict[str, tuple[str, bool]],
    batch: list[tuple[tuple[bytes, dict[str, str], bool | None], bool]],
) -> None:
    """Every delivery gets a contract status from our handler and only valid events act.

    Home Assistant lives across examples, so each request is judged on its own against
    the model: which events were applied before it, and which ones Flatpeak has (an
    unsigned delivery is applied only as Flatpeak's own copy). The read-back budget
    is given a clock that refills it at once, so throttling is not what is tested.
    """
    runtime = init_integration.runtime_data
    runtime.confirmer = EventConfirmer(
        runtime.client, ReadBackLimiter(clock=itertools.count(step=3600).__next__)
    )
    client = await hass_client_no_auth()
    event_log = runtime.event_log
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    for (body, headers, genuine), sent_by_flatpeak in batch:
        states_before = {s.entity_id: s.state for s in hass.states.async_all()}
        kind, event_id = expected_delivery(body)
        if sent_by_flatpeak and kind in ("apply", "ignored") and event_id:
            account, live_mode = _owner(body)
            if event_id not in flatpeak_events:
                flatpeak_events[event_id] = (account, live_mode)
                simulator_state.store_event(
                    json.loads(body), account_id=account, live_mode=live_mode
                )
        status, message = _expected_answer(body, genuine, applied_ids, flatpeak_events)

        response = await client.post(WEBHOOK_PATH, data=body, headers=headers)
        await hass.async_block_till_done()

        assert response.status in (200, 400, 401, 404, 413, 503)
        # Always our handler's JSON answer, never Home Assistant's reply to a crash.
        answer = await response.json(content_type=None)
        assert response.status == status, (answer, body[:200], headers)
        if message is not None:
            assert answer["message"] == message
        if message == Outcome.APPLIED:
            assert event_id is not None
            applied_ids.add(event_id)
            assert [e.data["event_id"] for e in captured] == [event_id]
        else:
            assert captured == []
            assert {
                s.entity_id: s.state for s in hass.states.async_all()
            } == states_before
        captured.clear()
    assert len(event_log) == len(applied_ids)
    assert all(event_id in event_log for event_id in applied_ids)


# -- 4. A flood with duplicates and reordering ----------------------------------------


def _stream(unique: int, duplicates: int, seed: int) -> list[dict[str, Any]]:
    """Unique events, neighbours swapped here and there, redeliveries mixed in later."""
    rng = random.Random(seed)
    events = [
        make_event(rng.choice(EVENT_TYPES), event_id=f"evt_{index:06}")
        for index in range(unique)
    ]
    for index in range(0, unique - 1, 7):  # out of order
        events[index], events[index + 1] = events[index + 1], events[index]
    stream = list(events)
    for _ in range(duplicates):
        position = rng.randrange(1, len(stream) + 1)
        stream.insert(position, rng.choice(stream[:position]))
    return stream


async def test_flood_with_duplicates_and_reordering(
    hass: HomeAssistant, webhook_client: TestClient, init_integration: MockConfigEntry
) -> None:
    """5,000 deliveries, 10 % repeated: one bus event per id, in the order first seen."""
    stream = _stream(4500, 500, seed=20261125)
    assert len(stream) == 5000
    key = SigningKey.default()
    applier = init_integration.runtime_data.applier
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    seen: set[str] = set()
    first_seen: list[str] = []
    for index, event in enumerate(stream):
        body = json.dumps(event).encode()
        expected = Outcome.DUPLICATE if event["id"] in seen else Outcome.APPLIED
        if index % 16 == 0:  # a few hundred over HTTP (signed), the rest straight in
            response = await webhook_client.post(
                WEBHOOK_PATH,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    HEADER_SIGNATURE: key.sign(NOW_TS, body),
                    HEADER_TIMESTAMP: str(NOW_TS),
                    HEADER_KEY_ID: key.kid,
                },
            )
            assert response.status == 200
            outcome = (await response.json())["message"]
        else:
            outcome = await applier.async_apply(parse_event(body))
        assert outcome == expected, (index, event["id"])
        if event["id"] not in seen:
            seen.add(event["id"])
            first_seen.append(event["id"])
        if index % 500 == 0:
            await hass.async_block_till_done()
    await hass.async_block_till_done()
    assert [e.data["event_id"] for e in captured] == first_seen
    assert len(first_seen) == 4500


# -- 5. Bounded de-duplication memory --------------------------------------------------


async def test_event_log_stays_bounded(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Three times MAX_REMEMBERED_IDS ids: the log keeps the newest MAX, in memory and on disk.

    An id older than the window is forgotten and would be applied again: a documented
    limitation (Flatpeak stops retrying long before, and catch-up reads fewer events).
    """
    log = EventLog(hass, "bounded")
    await log.async_load()
    ids = [f"evt_{index:06}" for index in range(3 * MAX_REMEMBERED_IDS)]
    assert all(log.record(event_id) for event_id in ids)
    assert len(log) == MAX_REMEMBERED_IDS
    newest = ids[-MAX_REMEMBERED_IDS:]
    assert not any(log.record(event_id) for event_id in newest)
    assert ids[-MAX_REMEMBERED_IDS - 1] not in log
    assert log.last_event_id == ids[-1]

    await log.async_close()
    assert hass_storage["flatpeak.bounded.events"]["data"]["seen"] == newest
    restored = EventLog(hass, "bounded")
    await restored.async_load()
    assert len(restored) == MAX_REMEMBERED_IDS
    assert not restored.record(newest[0])
    assert restored.record(ids[0])  # fell out of the window: the known limitation
    await restored.async_close()


@WITH_HASS
@given(
    capacity=st.integers(1, 8),
    ids=st.lists(st.sampled_from([f"evt_{n:02}" for n in range(12)]), max_size=40),
)
async def test_event_log_is_a_sliding_window(
    hass: HomeAssistant, capacity: int, ids: list[str]
) -> None:
    """record() answers like a window of the last `capacity` distinct recorded ids."""
    # Home Assistant lives across examples: each gets a record of its own.
    log = EventLog(hass, f"window_{uuid.uuid4().hex}", capacity)
    await log.async_load()
    window: list[str] = []
    try:
        for event_id in ids:
            fresh = event_id not in window
            assert log.record(event_id) is fresh
            if fresh:
                window = [*window, event_id][-capacity:]
            assert len(log) == len(window) <= capacity
            assert all(remembered in log for remembered in window)
    finally:
        await log.async_close()
        await log.async_remove()


async def test_entry_event_log_bounded_after_6000_events(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The entry's own log after 6,000 events: MAX ids kept, the newest still deduplicated."""
    runtime = init_integration.runtime_data
    applier = runtime.applier
    events = [
        Event.from_dict(
            make_event("customer.update", event_id=f"evt_{n:06}", location_id="loc_x")
        )
        for n in range(6000)
    ]
    assert [await applier.async_apply(e) for e in events] == [Outcome.APPLIED] * len(
        events
    )
    assert len(runtime.event_log) == MAX_REMEMBERED_IDS
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    newest = events[-MAX_REMEMBERED_IDS:]
    assert [await applier.async_apply(e) for e in newest] == [Outcome.DUPLICATE] * len(
        newest
    )
    await hass.async_block_till_done()
    assert captured == []

    await hass.config_entries.async_unload(init_integration.entry_id)
    stored = hass_storage[f"flatpeak.{init_integration.entry_id}.events"]["data"]
    assert len(stored["seen"]) == MAX_REMEMBERED_IDS
    assert stored["last_event_id"] == events[-1].id


# -- 6. A restart in the middle of a stream --------------------------------------------


async def test_restart_mid_stream_applies_each_event_once(  # noqa: PLR0915 - one story
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Deliveries before, during and after a restart, with retries: each applied once.

    While the entry is unloaded Home Assistant answers 200 for the unknown webhook, so
    those deliveries are lost to it; start-up catch-up from GET /events recovers them.
    """
    await hass.async_block_till_done(wait_background_tasks=True)
    entry_id = init_integration.entry_id
    state = simulator.state

    def create(count: int) -> list[dict[str, Any]]:
        """Events happen in Flatpeak, so GET /events lists them."""
        return [
            state.make_event(EVENT_TYPES[n % len(EVENT_TYPES)], HOME_ID)
            for n in range(count)
        ]

    events = create(20)
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    url = str(webhook_client.make_url(WEBHOOK_PATH))
    during_wait: list[Callable[[], Awaitable[None]]] = []
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        """Flatpeak's wait before a retry: no real waiting, but the world moves on."""
        delays.append(delay)
        freezer.tick(timedelta(seconds=delay))
        while during_wait:
            await during_wait.pop(0)()

    async def restart_with_deliveries_lost_meanwhile() -> None:
        await hass.config_entries.async_unload(entry_id)
        await hass.async_block_till_done()
        for result in await sender.deliver_many(url, events[11:20]):
            assert result.attempts == [200]  # Home Assistant's answer: unknown webhook
        await hass.async_block_till_done()
        assert len(captured) == 10
        await hass.config_entries.async_setup(entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)

    async with aiohttp.ClientSession() as session:
        sender = WebhookSender(state, session, sleep=sleep)
        # Before: the signing keys are unreachable at first, so the first one is retried.
        state.inject_fault("jwks", status=502)
        results = [await sender.deliver(url, event) for event in events[:10]]
        assert results[0].attempts == [503, 200]
        assert all(result.attempts == [200] for result in results[1:])
        await hass.async_block_till_done()
        assert [e.data["event_id"] for e in captured] == [e["id"] for e in events[:10]]

        # Flatpeak rotates its key: refused until our keys refresh; while the sender
        # waits to retry, Home Assistant restarts and misses the next deliveries.
        state.rotate_key(SigningKey.generate())
        during_wait.append(restart_with_deliveries_lost_meanwhile)
        result = await sender.deliver(url, events[10])
        assert result.delivered
        assert result.attempts == [401, 200]
        await hass.async_block_till_done()
        assert [e.data["event_id"] for e in captured] == [e["id"] for e in events]

        # After: new events in a burst, mixed with redeliveries of every phase.
        events += create(10)
        burst = [*events[20:], events[3], events[10], events[15], events[25]]
        random.Random(7).shuffle(burst)
        results = await sender.deliver_many(url, burst)
        assert all(result.attempts == [200] for result in results)
    await hass.async_block_till_done(wait_background_tasks=True)

    ids = [event["id"] for event in events]
    applied = [e.data["event_id"] for e in captured]
    assert sorted(applied) == sorted(ids)  # every event, each exactly once
    assert applied[:20] == ids[:20]
    assert delays == [30, 30]


async def test_retry_landing_during_restart_after_a_newer_event(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An event refused for our fault (503) and retried while the entry restarts.

    A newer event was applied in between and the retry got Home Assistant's 200 for
    an unloaded webhook: catch-up's look-back over Flatpeak's retry window applies it.
    """
    await hass.async_block_till_done(wait_background_tasks=True)
    entry_id = init_integration.entry_id
    state = simulator.state
    older = state.make_tariff_event("tariff.expiring", HOME_ID)
    newer = state.make_tariff_event("tariff.fetch.failed", HOME_ID)
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    url = str(webhook_client.make_url(WEBHOOK_PATH))

    async with aiohttp.ClientSession() as session:

        async def meanwhile(delay: float) -> None:
            freezer.tick(timedelta(seconds=delay))
            assert (await sender.deliver(url, newer)).attempts == [200]
            await hass.config_entries.async_unload(entry_id)
            await hass.async_block_till_done()

        sender = WebhookSender(state, session, sleep=meanwhile)
        state.inject_fault("jwks", status=502)
        result = await sender.deliver(url, older)
        assert result.attempts == [503, 200]  # the retry got the unknown-webhook 200
    await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(e.data["event_id"] for e in captured) == sorted(
        [older["id"], newer["id"]]
    )
