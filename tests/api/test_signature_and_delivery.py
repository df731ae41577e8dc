"""Tests for parsing webhook deliveries and verifying their signatures."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
import pytest

from custom_components.flatpeak.api.delivery import MAX_JSON_DEPTH, parse_event
from custom_components.flatpeak.api.exceptions import (
    FlatpeakConnectionError,
    WebhookKeyUnavailableError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from custom_components.flatpeak.api.models import JsonWebKey
from custom_components.flatpeak.api.signature import (
    JWKS_FAILURE_BACKOFF,
    JWKS_MAX_AGE,
    SignatureHeaders,
    SignatureVerifier,
)

NOW = 1_790_000_000


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(kid: str, key: rsa.RSAPrivateKey) -> JsonWebKey:
    numbers = key.public_key().public_numbers()
    return JsonWebKey(
        kid=kid,
        n=_b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        e=_b64url(numbers.e.to_bytes(3, "big")),
        alg="PS256",
    )


def _sign(key: rsa.RSAPrivateKey, timestamp: int, body: bytes) -> str:
    signature = key.sign(
        f"{timestamp}.".encode() + body,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    return "v1=" + _b64url(signature)


@pytest.fixture(scope="module")
def flatpeak_key() -> rsa.RSAPrivateKey:
    """Stand-in for Flatpeak's signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    """A key that is not Flatpeak's."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeJwks:
    """Serves a JWKS and counts fetches; can be made to fail."""

    def __init__(self, keys: list[JsonWebKey]) -> None:
        self.keys = keys
        self.fetches = 0
        self.fail = False

    async def __call__(self) -> list[JsonWebKey]:
        self.fetches += 1
        if self.fail:
            raise FlatpeakConnectionError("down")
        return self.keys


def _headers(
    key: rsa.RSAPrivateKey, body: bytes, *, timestamp: int = NOW, kid: str = "wsk_1"
) -> SignatureHeaders:
    headers = SignatureHeaders.from_headers(
        {
            "Flatpeak-Signature": _sign(key, timestamp, body),
            "Flatpeak-Signature-Scheme": "v1",
            "Flatpeak-Timestamp": str(timestamp),
            "Flatpeak-Key-ID": kid,
        }
    )
    assert headers is not None
    return headers


def _verifier(
    jwks: FakeJwks, monotonic: list[float] | None = None
) -> SignatureVerifier:
    clock = monotonic if monotonic is not None else [0.0]
    return SignatureVerifier(jwks, clock=lambda: NOW, monotonic=lambda: clock[0])


BODY = json.dumps(
    {
        "id": "evt_6966d693e8d7beb3558bc54a",
        "object": "event",
        "type": "tariff.expired",
        "time_created": "2026-01-14T10:00:00Z",
        "data": {
            "live_mode": True,
            "location_id": "loc_69661c764a5497be3666d0f6",
            "tariff_id": "trf_69665bd289b104fb993db999",
            "account_id": "acc_67ff7e8e2e5c80a54972fc75",
        },
    }
).encode()


def test_parse_tariff_event() -> None:
    """A tariff event exposes the ids it concerns."""
    event = parse_event(BODY)
    assert event.id == "evt_6966d693e8d7beb3558bc54a"
    assert event.type == "tariff.expired"
    assert event.location_id == "loc_69661c764a5497be3666d0f6"
    assert event.tariff_id == "trf_69665bd289b104fb993db999"
    assert event.account_id == "acc_67ff7e8e2e5c80a54972fc75"
    assert event.live_mode is True
    assert event.time_created is not None
    assert event.time_created.isoformat() == "2026-01-14T10:00:00+00:00"


def test_parse_location_update_takes_location_id_from_data() -> None:
    """location.* events carry the location as data, so its id is the location id."""
    event = parse_event(
        json.dumps(
            {
                "id": "evt_1",
                "type": "location.update",
                "data": {"id": "loc_1", "object": "location", "live_mode": False},
            }
        ).encode()
    )
    assert event.location_id == "loc_1"
    assert event.live_mode is False
    assert event.time_created is None


def test_parse_unknown_type_and_extra_fields() -> None:
    """Types Flatpeak adds later and fields it adds are accepted."""
    event = parse_event(
        b'{"id": "evt_2", "type": "battery.melted", "data": {"x": 1}, "new": true}'
    )
    assert event.type == "battery.melted"
    assert event.location_id is None
    assert event.data == {"x": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b'"text"', "JSON str"),
        (b"null", "JSON NoneType"),
        (b'{"type": "x", "data": {}}', "no 'id'"),
        (b'{"id": "evt_1", "data": {}}', "no 'type'"),
        (b'{"id": "evt_1", "type": "x"}', "no 'data'"),
        (b'{"id": 5, "type": "x", "data": {}}', "'id' is not a str"),
        (b'{"id": "", "type": "x", "data": {}}', "'id' is not a str"),
        (b'{"id": "evt_1", "type": ["x"], "data": {}}', "'type' is not a str"),
        (b'{"id": "evt_1", "type": "x", "data": []}', "'data' is not a dict"),
        (b'{"id": "evt_1", "type": "x", "data": {}, "object": "price"}', "malformed"),
        (
            b'{"id": "evt_1", "type": "x", "data": {}, "time_created": "yesterday"}',
            "malformed",
        ),
        (b'{"id": "evt_1", "type": "x", "data": {"live_mode": "yes"}}', "malformed"),
        (b'{"id": "evt_1", "type": "x", "data": {"location_id": 7}}', "malformed"),
        (b"[" * 100_000, "not JSON"),
        (b'{"id": "evt_", "type": "x", "data": {}}', "not a Flatpeak event id"),
        (b'{"id": "loc_1", "type": "x", "data": {}}', "not a Flatpeak event id"),
        (b'{"id": "evt_a/b", "type": "x", "data": {}}', "not a Flatpeak event id"),
        (b'{"id": "evt_a b", "type": "x", "data": {}}', "not a Flatpeak event id"),
        (
            b'{"id": "evt_' + b"f" * 65 + b'", "type": "x", "data": {}}',
            "not a Flatpeak event id",
        ),
        (
            b'{"id": "evt_' + b"f" * 1_000_000 + b'", "type": "x", "data": {}}',
            "not a Flatpeak event id",
        ),
        (
            b'{"id": "evt_1", "type": "' + b"a" * 65 + b'", "data": {}}',
            "not a Flatpeak event type",
        ),
        (b'{"id": "evt_1", "type": "Tariff Expired", "data": {}}', "event type"),
        (b'{"id": "evt_1", "type": "tariff..expired", "data": {}}', "event type"),
        (
            b'{"id": "evt_1", "type": "x", "data": {"a": '
            + b'{"a": ' * 300
            + b"1"
            + b"}" * 301
            + b"}",
            "nests deeper",
        ),
        (
            b'{"id": "evt_1", "type": "x", "data": {"a": '
            + b"[" * 20
            + b"]" * 20
            + b"}}",
            "nests deeper",
        ),
    ],
)
def test_parse_rejects_with_precise_error(body: bytes, message: str) -> None:
    """Each malformed body says what is wrong with it."""
    with pytest.raises(WebhookPayloadError, match=message):
        parse_event(body)


def test_parse_accepts_the_deepest_allowed_nesting() -> None:
    """Nesting up to the limit is an event like any other (the limit is not off by one)."""
    inner = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
    event = parse_event(
        f'{{"id": "evt_{"f" * 64}", "type": "a_b.c", "data": {{"x": {inner}}}}}'.encode()
    )
    assert event.id == "evt_" + "f" * 64


def test_unsigned_headers() -> None:
    """No signature header, or the literal `none`, means unsigned."""
    assert SignatureHeaders.from_headers({}) is None
    assert SignatureHeaders.from_headers({"Flatpeak-Signature": "none"}) is None
    assert SignatureHeaders.from_headers({"Flatpeak-Signature": " None "}) is None


async def test_valid_signature(flatpeak_key: rsa.RSAPrivateKey) -> None:
    """A delivery signed by a published key verifies, and the keys are cached."""
    jwks = FakeJwks([_jwk("wsk_1", flatpeak_key)])
    verifier = _verifier(jwks)
    assert await verifier.verify(_headers(flatpeak_key, BODY), BODY) is True
    fresh = await verifier.verify(
        _headers(flatpeak_key, BODY, timestamp=NOW - 299), BODY
    )
    assert fresh is True
    assert jwks.fetches == 1


async def test_tampered_body(flatpeak_key: rsa.RSAPrivateKey) -> None:
    """A body changed after signing is refused."""
    verifier = _verifier(FakeJwks([_jwk("wsk_1", flatpeak_key)]))
    tampered = BODY.replace(b"tariff.expired", b"tariff.expiring")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(_headers(flatpeak_key, BODY), tampered)


async def test_timestamp_is_signed(flatpeak_key: rsa.RSAPrivateKey) -> None:
    """Moving the timestamp header forward breaks the signature."""
    verifier = _verifier(FakeJwks([_jwk("wsk_1", flatpeak_key)]))
    headers = _headers(flatpeak_key, BODY, timestamp=NOW - 10)
    moved = SignatureHeaders(
        signature=headers.signature,
        timestamp=str(NOW),
        key_id=headers.key_id,
        scheme=headers.scheme,
    )
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(moved, BODY)


async def test_wrong_key(
    flatpeak_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    """A signature made with another key under Flatpeak's key id is refused."""
    verifier = _verifier(FakeJwks([_jwk("wsk_1", flatpeak_key)]))
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(_headers(other_key, BODY), BODY)


async def test_unknown_kid_refetches_then_refuses(
    flatpeak_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    """An unknown key id refetches the JWKS (rotation), at most once a minute."""
    jwks = FakeJwks([_jwk("wsk_1", flatpeak_key)])
    monotonic = [0.0]
    verifier = _verifier(jwks, monotonic)
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    with pytest.raises(WebhookSignatureError, match="not one of Flatpeak's keys"):
        await verifier.verify(_headers(other_key, BODY, kid="wsk_2"), BODY)
    assert jwks.fetches == 1  # fetched moments ago: not again

    jwks.keys = [*jwks.keys, _jwk("wsk_2", other_key)]
    monotonic[0] = 61.0
    await verifier.verify(_headers(other_key, BODY, kid="wsk_2"), BODY)
    assert jwks.fetches == 2


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
async def test_stale_or_future_timestamp(
    flatpeak_key: rsa.RSAPrivateKey, offset: int
) -> None:
    """A valid signature more than five minutes away from now verifies, as not fresh.

    Flatpeak's retries (30 s to 24 h later) may carry the first attempt's timestamp:
    such a delivery is Flatpeak's, and the caller confirms it before applying it.
    """
    verifier = _verifier(FakeJwks([_jwk("wsk_1", flatpeak_key)]))
    headers = _headers(flatpeak_key, BODY, timestamp=NOW + offset)
    assert await verifier.verify(headers, BODY) is False


@pytest.mark.parametrize("offset", [-301, -86_400])
async def test_old_timestamp_does_not_excuse_a_bad_signature(
    flatpeak_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, offset: int
) -> None:
    """An old timestamp on a signature that does not verify is refused as before."""
    verifier = _verifier(FakeJwks([_jwk("wsk_1", flatpeak_key)]))
    stamp = NOW + offset
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(_headers(other_key, BODY, timestamp=stamp), BODY)
    tampered = BODY.replace(b"tariff.expired", b"tariff.expiring")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(_headers(flatpeak_key, BODY, timestamp=stamp), tampered)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Flatpeak-Signature": "v2=abc"}, "scheme v1"),
        ({"Flatpeak-Signature": "v1="}, "scheme v1"),
        ({"Flatpeak-Signature": "garbage"}, "scheme v1"),
        ({"Flatpeak-Signature-Scheme": "v9"}, "unsupported"),
        ({"Flatpeak-Key-ID": ""}, "no key id"),
        ({"Flatpeak-Timestamp": "soon"}, "no valid timestamp"),
        ({"Flatpeak-Timestamp": ""}, "no valid timestamp"),
        ({"Flatpeak-Signature": "v1=!!!"}, "base64url"),
    ],
)
async def test_malformed_signature_headers(
    flatpeak_key: rsa.RSAPrivateKey, headers: dict[str, str], message: str
) -> None:
    """Malformed signing headers are refused with the reason."""
    good: dict[str, Any] = {
        "Flatpeak-Signature": _sign(flatpeak_key, NOW, BODY),
        "Flatpeak-Signature-Scheme": "v1",
        "Flatpeak-Timestamp": str(NOW),
        "Flatpeak-Key-ID": "wsk_1",
    }
    parsed = SignatureHeaders.from_headers(good | headers)
    assert parsed is not None
    verifier = _verifier(FakeJwks([_jwk("wsk_1", flatpeak_key)]))
    with pytest.raises(WebhookSignatureError, match=message):
        await verifier.verify(parsed, BODY)


async def test_jwks_unreachable_then_recovers(flatpeak_key: rsa.RSAPrivateKey) -> None:
    """Unreachable keys are reported as such (so the sender retries), then recover."""
    jwks = FakeJwks([_jwk("wsk_1", flatpeak_key)])
    jwks.fail = True
    monotonic = [0.0]
    verifier = _verifier(jwks, monotonic)
    with pytest.raises(WebhookKeyUnavailableError):
        await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    jwks.fail = False
    monotonic[0] = JWKS_FAILURE_BACKOFF
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    assert jwks.fetches == 2


async def test_jwks_failures_are_not_retried_per_delivery(
    flatpeak_key: rsa.RSAPrivateKey,
) -> None:
    """While the JWKS is unreachable, a flood of deliveries costs one fetch, not one each."""
    jwks = FakeJwks([_jwk("wsk_1", flatpeak_key)])
    jwks.fail = True
    monotonic = [0.0]
    verifier = _verifier(jwks, monotonic)
    for _ in range(20):
        with pytest.raises(WebhookKeyUnavailableError):
            await verifier.verify(_headers(flatpeak_key, BODY, kid="wsk_forged"), BODY)
    assert jwks.fetches == 1
    monotonic[0] = JWKS_FAILURE_BACKOFF + 1
    with pytest.raises(WebhookKeyUnavailableError):
        await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    assert jwks.fetches == 2


async def test_keys_are_read_again_after_a_day(
    flatpeak_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    """A key Flatpeak withdrew stops verifying once the cached set is a day old."""
    jwks = FakeJwks([_jwk("wsk_1", flatpeak_key)])
    monotonic = [0.0]
    verifier = _verifier(jwks, monotonic)
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    jwks.keys = [_jwk("wsk_2", other_key)]
    monotonic[0] = JWKS_MAX_AGE - 1
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    assert jwks.fetches == 1
    monotonic[0] = JWKS_MAX_AGE + 1
    with pytest.raises(WebhookSignatureError, match="not one of Flatpeak's keys"):
        await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    assert jwks.fetches == 2


async def test_old_key_still_verifies_while_jwks_is_unreachable(
    flatpeak_key: rsa.RSAPrivateKey,
) -> None:
    """An aged cache is better than a refusal when the keys cannot be read again."""
    jwks = FakeJwks([_jwk("wsk_1", flatpeak_key)])
    monotonic = [0.0]
    verifier = _verifier(jwks, monotonic)
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    jwks.fail = True
    monotonic[0] = JWKS_MAX_AGE + 1
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    assert jwks.fetches == 2


async def test_unusable_jwk_is_skipped(flatpeak_key: rsa.RSAPrivateKey) -> None:
    """A key that is not valid RSA does not spoil the rest of the set."""
    broken = JsonWebKey(kid="wsk_bad", n="!!", e="AQAB")
    verifier = _verifier(FakeJwks([broken, _jwk("wsk_1", flatpeak_key)]))
    await verifier.verify(_headers(flatpeak_key, BODY), BODY)
    with pytest.raises(WebhookSignatureError, match="not one of"):
        await verifier.verify(_headers(flatpeak_key, BODY, kid="wsk_bad"), BODY)


def test_clock_default_is_wall_time() -> None:
    """The default clock is Unix time, which the timestamp header uses."""
    verifier = SignatureVerifier(FakeJwks([]))
    assert abs(verifier._clock() - time.time()) < 5
