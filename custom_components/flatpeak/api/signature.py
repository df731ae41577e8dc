"""Verify the signatures of Flatpeak webhook deliveries.

Flatpeak signs `"{Flatpeak-Timestamp}.{raw body}"` with RSA-PSS SHA-256 (MGF1-SHA256,
salt length 32) and publishes the public keys as a JWKS; the key is picked by
`Flatpeak-Key-ID`. Unsigned deliveries carry `Flatpeak-Signature: none`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
import time
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .exceptions import (
    FlatpeakError,
    WebhookKeyUnavailableError,
    WebhookSignatureError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from .models import JsonWebKey

HEADER_SIGNATURE: Final = "Flatpeak-Signature"
HEADER_SIGNATURE_SCHEME: Final = "Flatpeak-Signature-Scheme"
HEADER_TIMESTAMP: Final = "Flatpeak-Timestamp"
HEADER_KEY_ID: Final = "Flatpeak-Key-ID"

SIGNATURE_SCHEME: Final = "v1"
UNSIGNED: Final = "none"
# Deliveries signed longer ago than this are not trusted on their signature alone (they
# may be replays): they are confirmed with Flatpeak like unsigned ones.
DEFAULT_TOLERANCE: Final = 300.0
PSS_SALT_LENGTH: Final = 32
# Unix seconds have 10 digits until the year 2286; anything much longer is not a time.
MAX_TIMESTAMP_DIGITS: Final = 12
# A flood of deliveries naming unknown key ids must not turn into a flood of JWKS fetches.
UNKNOWN_KID_REFETCH_INTERVAL: Final = 60.0
# While the JWKS cannot be fetched, deliveries are asked to retry without a fetch each;
# shorter than Flatpeak's first retry (30 s later), which therefore always fetches again.
JWKS_FAILURE_BACKOFF: Final = 10.0
# Keys are read again after this long, so a key Flatpeak withdrew stops verifying.
JWKS_MAX_AGE: Final = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class SignatureHeaders:
    """The signing headers of one delivery."""

    signature: str
    timestamp: str | None
    key_id: str | None
    scheme: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignatureHeaders | None:
        """Read the signing headers; None when the delivery is unsigned."""
        signature = headers.get(HEADER_SIGNATURE, "").strip()
        if not signature or signature.lower() == UNSIGNED:
            return None
        return cls(
            signature=signature,
            timestamp=headers.get(HEADER_TIMESTAMP),
            key_id=headers.get(HEADER_KEY_ID),
            scheme=headers.get(HEADER_SIGNATURE_SCHEME),
        )


def _b64url_decode(value: str) -> bytes:
    return base64.b64decode(
        value + "=" * (-len(value) % 4), altchars=b"-_", validate=True
    )


def public_key_from_jwk(jwk: JsonWebKey) -> rsa.RSAPublicKey:
    """Build an RSA public key from a JWK's modulus and exponent."""
    try:
        modulus = int.from_bytes(_b64url_decode(jwk.n), "big")
        exponent = int.from_bytes(_b64url_decode(jwk.e), "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except (binascii.Error, ValueError) as err:
        raise WebhookKeyUnavailableError(
            f"key {jwk.kid} is not a usable RSA key"
        ) from err


def check_signature_headers(headers: SignatureHeaders) -> tuple[str, bytes, str]:
    """Validate the headers' form; return (key id, signature bytes, timestamp)."""
    scheme, _, encoded = headers.signature.partition("=")
    if scheme != SIGNATURE_SCHEME or not encoded:
        raise WebhookSignatureError("the signature is not of scheme v1")
    if headers.scheme not in (None, SIGNATURE_SCHEME):
        raise WebhookSignatureError(f"unsupported signature scheme {headers.scheme}")
    if not headers.key_id:
        raise WebhookSignatureError("the signature has no key id")
    timestamp = headers.timestamp
    # ASCII digits (str.isdigit also takes "²"), no longer than a Unix time needs:
    # int() refuses very long digit strings and a huge int does not convert to float.
    if (
        not timestamp
        or not (timestamp.isascii() and timestamp.isdigit())
        or len(timestamp) > MAX_TIMESTAMP_DIGITS
    ):
        raise WebhookSignatureError("the signature has no valid timestamp")
    try:
        signature = _b64url_decode(encoded)
    except (binascii.Error, ValueError) as err:
        raise WebhookSignatureError("the signature is not base64url") from err
    return headers.key_id, signature, timestamp


def is_fresh(
    timestamp: str, *, now: float, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """Whether a signature's timestamp is within `tolerance` seconds of `now`."""
    return abs(now - int(timestamp)) <= tolerance


def verify_signature(
    public_key: rsa.RSAPublicKey, signature: bytes, timestamp: str, body: bytes
) -> None:
    """Verify an RSA-PSS SHA-256 signature over `"{timestamp}.{body}"`."""
    try:
        public_key.verify(
            signature,
            timestamp.encode() + b"." + body,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
            hashes.SHA256(),
        )
    except InvalidSignature as err:
        raise WebhookSignatureError("the signature does not match the body") from err


def _wall_clock() -> float:
    return time.time()


def _monotonic_clock() -> float:
    return time.monotonic()


class SignatureVerifier:
    """Verifies deliveries against Flatpeak's JWKS, cached and refreshed on unknown keys."""

    def __init__(
        self,
        fetch_jwks: Callable[[], Awaitable[list[JsonWebKey]]],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        """Fetch keys lazily with `fetch_jwks`; clocks default to the time module's."""
        self._fetch_jwks = fetch_jwks
        self._tolerance = tolerance
        # Looked up at call time, so a patched time module (frozen clocks) is honoured.
        self._clock = clock or _wall_clock
        self._monotonic = monotonic or _monotonic_clock
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, headers: SignatureHeaders, body: bytes) -> bool:
        """Raise unless a current Flatpeak key signed the delivery; return if it is fresh.

        A valid signature whose timestamp is more than the tolerance away from now is
        not an error: Flatpeak's docs do not say that a retry (30 s to 24 h after the
        first attempt) is signed again, so an old timestamp may be a genuine retry as
        well as a replay. The caller decides what such a delivery is worth (the
        handler reads the event back, as for an unsigned one).
        """
        key_id, signature, timestamp = check_signature_headers(headers)
        public_key = await self._key(key_id)
        verify_signature(public_key, signature, timestamp, body)
        return is_fresh(timestamp, now=self._clock(), tolerance=self._tolerance)

    def _age(self, moment: float | None) -> float:
        return float("inf") if moment is None else self._monotonic() - moment

    async def _key(self, key_id: str) -> rsa.RSAPublicKey:
        if (key := self._keys.get(key_id)) and self._age(
            self._fetched_at
        ) < JWKS_MAX_AGE:
            return key
        async with self._lock:
            known = self._keys.get(key_id)
            fetched_age = self._age(self._fetched_at)
            if known and fetched_age < JWKS_MAX_AGE:
                return known
            if known is None and fetched_age < UNKNOWN_KID_REFETCH_INTERVAL:
                raise WebhookSignatureError(
                    f"key {key_id} is not one of Flatpeak's keys"
                )
            try:
                await self._refresh()
            except WebhookKeyUnavailableError:
                # An old key still verifies what it signed; only a key we never had
                # makes the delivery wait for the keys to be reachable again.
                if known is not None:
                    return known
                raise
        if key := self._keys.get(key_id):
            return key
        raise WebhookSignatureError(f"key {key_id} is not one of Flatpeak's keys")

    async def _refresh(self) -> None:
        if self._age(self._failed_at) < JWKS_FAILURE_BACKOFF:
            raise WebhookKeyUnavailableError(
                "the signing keys could not be fetched moments ago"
            )
        try:
            jwks = await self._fetch_jwks()
        except FlatpeakError as err:
            self._failed_at = self._monotonic()
            raise WebhookKeyUnavailableError(
                f"the signing keys could not be fetched: {err}"
            ) from err
        keys: dict[str, rsa.RSAPublicKey] = {}
        for jwk in jwks:
            try:
                keys[jwk.kid] = public_key_from_jwk(jwk)
            except WebhookKeyUnavailableError:
                continue
        self._keys = keys
        self._fetched_at = self._monotonic()
        self._failed_at = None
