"""RSA-PSS webhook signing keys as Flatpeak publishes them in its JWKS."""

from __future__ import annotations

import base64
import functools
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGNATURE_SCHEME = "v1"
PSS_SALT_LENGTH = 32
KEY_SIZE = 2048
PUBLIC_EXPONENT = 65537


def b64url(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    """Encode a big-endian unsigned integer as JWKs do."""
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def new_kid(*, live_mode: bool = True) -> str:
    """Return a key id shaped like Flatpeak's (`wsk_live_<hex>`)."""
    return f"wsk_{'live' if live_mode else 'test'}_{secrets.token_hex(12)}"


class SigningKey:
    """An RSA-2048 webhook signing key with the signature scheme Flatpeak calls v1."""

    def __init__(self, private_key: rsa.RSAPrivateKey, kid: str) -> None:
        """Wrap an existing private key under a key id."""
        self.private_key = private_key
        self.kid = kid

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        """Generate a fresh key (slow: 0.1-1 s), e.g. a "wrong" key for a test."""
        private_key = rsa.generate_private_key(
            public_exponent=PUBLIC_EXPONENT, key_size=KEY_SIZE
        )
        return cls(private_key, kid or new_kid())

    @classmethod
    def default(cls) -> SigningKey:
        """Return the key shared by every simulator in this process."""
        return _default_key()

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """Return the public half."""
        return self.private_key.public_key()

    def sign_message(self, message: bytes) -> bytes:
        """Sign raw bytes with PS256 (RSA-PSS, SHA-256, MGF1-SHA256, salt 32)."""
        return self.private_key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
            hashes.SHA256(),
        )

    def sign(self, timestamp: int, body: bytes) -> str:
        """Return the `Flatpeak-Signature` value for a timestamp and the exact body."""
        signature = self.sign_message(f"{timestamp}.".encode() + body)
        return f"{SIGNATURE_SCHEME}={b64url(signature)}"

    def jwk(self) -> dict[str, str]:
        """Return the public key as a JWKS entry."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "PS256",
            "n": _int_b64url(numbers.n),
            "e": _int_b64url(numbers.e),
        }

    def __repr__(self) -> str:
        """Show the key id only."""
        return f"SigningKey(kid={self.kid!r})"


# RSA key generation is slow, so one key serves every simulator in the process.
@functools.cache
def _default_key() -> SigningKey:
    """Generate the process-wide default key on first use."""
    return SigningKey.generate()
