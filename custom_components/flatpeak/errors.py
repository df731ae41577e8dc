"""The one mapping from the client's exceptions to Home Assistant's.

Set-up, coordinators, actions, config flows and Repairs flows each need a Home
Assistant error (or a form error key) for a failed Flatpeak call. The translation key of
each kind of failure is chosen here, once, so the same failure reads the same wherever
it happens.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from homeassistant.data_entry_flow import AbortFlow
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)

from .api.client import API_VERSION
from .api.exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakApiVersionError,
    FlatpeakAuthenticationError,
    FlatpeakConnectError,
    FlatpeakConnectTokenError,
    FlatpeakError,
    FlatpeakPricesUnavailableError,
)
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from collections.abc import Iterator

INVALID_AUTH: Final = "invalid_auth"
ACCOUNT_DISABLED: Final = "account_disabled"
API_VERSION_NOT_SUPPORTED: Final = "api_version_not_supported"
PRICES_UNAVAILABLE: Final = "prices_unavailable"
CANNOT_CONNECT: Final = "cannot_connect"
UNKNOWN: Final = "unknown"
# Flatpeak Connect refused a page's answer: shown with Flatpeak's own message.
CONNECT_ERROR: Final = "connect_error"
# The connect token expired or was used up: a new session is started.
CONNECT_TOKEN_EXPIRED: Final = "connect_token_expired"  # noqa: S105 - a text key

# Most specific first: the first match names the failure.
_KEYS: Final[tuple[tuple[type[FlatpeakError], str], ...]] = (
    (FlatpeakAuthenticationError, INVALID_AUTH),
    (FlatpeakAccountDisabledError, ACCOUNT_DISABLED),
    (FlatpeakApiVersionError, API_VERSION_NOT_SUPPORTED),
    (FlatpeakPricesUnavailableError, PRICES_UNAVAILABLE),
    (FlatpeakConnectTokenError, CONNECT_TOKEN_EXPIRED),
    (FlatpeakConnectError, CONNECT_ERROR),
    # Unreachable, timed out, rate limited, 5xx, or an answer that is not the API's.
    (FlatpeakError, CANNOT_CONNECT),
)


# What the texts of set-up, reauth and reconfigure forms may name: the API release
# the integration speaks, for `api_version_not_supported`.
FORM_PLACEHOLDERS: Final = {"api_version": API_VERSION}


def error_key(err: BaseException) -> str:
    """Return the translation key that names a failure (a form's base error)."""
    for kind, key in _KEYS:
        if isinstance(err, kind):
            return key
    return UNKNOWN


def _placeholders(err: FlatpeakError) -> dict[str, str]:
    return {"error": str(err) or type(err).__name__}


def connect_error_placeholders(err: FlatpeakError) -> dict[str, str]:
    """Return the placeholders a Connect error's text shows: Flatpeak's code and message."""
    code = err.code or ""
    return {"connect_code": code, "connect_message": err.message or code or str(err)}


def setup_error(err: FlatpeakError) -> HomeAssistantError:
    """Return the error that fails set-up: reauth, give up, or retry later."""
    key = error_key(err)
    if key == INVALID_AUTH:
        return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key=key)
    if key == ACCOUNT_DISABLED:
        # Retrying cannot help; Repairs says what to do.
        return ConfigEntryError(translation_domain=DOMAIN, translation_key=key)
    if key == API_VERSION_NOT_SUPPORTED:
        # Neither can it here: only a release of the integration that speaks the
        # account's API version can.
        return ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=dict(FORM_PLACEHOLDERS),
        )
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key=CANNOT_CONNECT,
        translation_placeholders=_placeholders(err),
    )


def action_error(err: FlatpeakError, location_id: str) -> HomeAssistantError:
    """Return the error an action raises for a failed call about a location."""
    key = error_key(err)
    placeholders: dict[str, str] = {}
    if isinstance(err, FlatpeakPricesUnavailableError):
        placeholders = {"code": err.code or "", "location_id": location_id}
    elif key == API_VERSION_NOT_SUPPORTED:
        placeholders = dict(FORM_PLACEHOLDERS)
    elif key == CANNOT_CONNECT:
        placeholders = _placeholders(err)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


@contextmanager
def form_errors(errors: dict[str, str]) -> Iterator[None]:
    """Turn a failed Flatpeak call inside the block into a flow form's base error."""
    try:
        yield
    except AbortFlow:
        raise
    except FlatpeakError as err:
        errors["base"] = error_key(err)
    except Exception:  # noqa: BLE001 - logged with its traceback here
        LOGGER.exception("Unexpected error while talking to Flatpeak")
        errors["base"] = UNKNOWN
