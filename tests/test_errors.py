"""The one mapping from the client's exceptions to Home Assistant's."""

from __future__ import annotations

import logging

from homeassistant.data_entry_flow import AbortFlow
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)
import pytest

from custom_components.flatpeak.api.exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakAuthenticationError,
    FlatpeakConnectionError,
    FlatpeakError,
    FlatpeakPendingConnectError,
    FlatpeakRateLimitError,
    FlatpeakServerError,
    FlatpeakTimeoutError,
)
from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.errors import (
    action_error,
    error_key,
    form_errors,
    setup_error,
)


@pytest.mark.parametrize(
    ("err", "key"),
    [
        (FlatpeakAuthenticationError("no"), "invalid_auth"),
        (FlatpeakAccountDisabledError("off"), "account_disabled"),
        (
            FlatpeakPendingConnectError("wait", code="pending_connect"),
            "prices_unavailable",
        ),
        (FlatpeakTimeoutError("slow"), "cannot_connect"),
        (FlatpeakConnectionError("down"), "cannot_connect"),
        (FlatpeakServerError("500"), "cannot_connect"),
        (FlatpeakRateLimitError("429"), "cannot_connect"),
        (FlatpeakError("other"), "cannot_connect"),
        (ValueError("ours"), "unknown"),
    ],
)
def test_each_failure_has_one_key(err: BaseException, key: str) -> None:
    """The most specific kind names the failure; anything not Flatpeak's is unknown."""
    assert error_key(err) == key


@pytest.mark.parametrize(
    ("err", "kind", "key"),
    [
        (FlatpeakAuthenticationError("no"), ConfigEntryAuthFailed, "invalid_auth"),
        (FlatpeakAccountDisabledError("off"), ConfigEntryError, "account_disabled"),
        (FlatpeakTimeoutError("slow"), ConfigEntryNotReady, "cannot_connect"),
    ],
)
def test_setup_error_reauths_gives_up_or_retries(
    err: FlatpeakError, kind: type[HomeAssistantError], key: str
) -> None:
    """Reauth for a refused key, no retry for a disabled account, else a retry."""
    mapped = setup_error(err)
    assert type(mapped) is kind
    assert mapped.translation_domain == DOMAIN
    assert mapped.translation_key == key


def test_action_error_placeholders_follow_the_key() -> None:
    """Each translation gets exactly the placeholders its text uses."""
    unavailable = action_error(
        FlatpeakPendingConnectError("wait", code="pending_connect"), "loc_x"
    )
    assert unavailable.translation_key == "prices_unavailable"
    assert unavailable.translation_placeholders == {
        "code": "pending_connect",
        "location_id": "loc_x",
    }
    down = action_error(FlatpeakConnectionError("refused"), "loc_x")
    assert down.translation_key == "cannot_connect"
    assert down.translation_placeholders == {"error": "refused"}
    refused = action_error(FlatpeakAuthenticationError("no"), "loc_x")
    assert refused.translation_key == "invalid_auth"
    assert not refused.translation_placeholders


def test_form_errors_set_the_base_error_and_let_aborts_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed call becomes the form's error; an abort is not swallowed."""
    errors: dict[str, str] = {}
    with form_errors(errors):
        raise FlatpeakAccountDisabledError("off")
    assert errors == {"base": "account_disabled"}

    errors.clear()
    with caplog.at_level(logging.ERROR), form_errors(errors):
        raise KeyError("a bug of ours")
    assert errors == {"base": "unknown"}
    assert "Unexpected error while talking to Flatpeak" in caplog.text

    errors.clear()
    with pytest.raises(AbortFlow), form_errors(errors):
        raise AbortFlow("already_configured")
    assert errors == {}
