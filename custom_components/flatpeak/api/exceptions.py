"""Exceptions raised by the Flatpeak API client and the webhook parser."""

from __future__ import annotations


class FlatpeakError(Exception):
    """Base class for every error raised by this package."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        """Keep the API's own error code and message next to the HTTP status."""
        super().__init__(message or code or self.__class__.__name__)
        self.message = message
        self.code = code
        self.status = status


class FlatpeakConnectionError(FlatpeakError):
    """The API could not be reached."""


class FlatpeakTimeoutError(FlatpeakConnectionError):
    """The API did not answer in time."""


class FlatpeakAuthenticationError(FlatpeakError):
    """The account id or API key was refused."""


class FlatpeakRateLimitError(FlatpeakError):
    """The API answered 429; `retry_after` holds its advice in seconds, if any."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        """Store the Retry-After advice."""
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after


class FlatpeakServerError(FlatpeakError):
    """The API failed on its side (5xx)."""


class FlatpeakApiError(FlatpeakError):
    """The API refused the request with a documented error object."""


class FlatpeakAccountDisabledError(FlatpeakApiError):
    """The account is disabled (422 `account_disabled`)."""


class FlatpeakApiVersionError(FlatpeakApiError):
    """The account's default API release is newer than the one this client speaks.

    Flatpeak answers 422 `api_version_not_supported` when the `Flatpeak-Version` sent is
    older than the account's default, which can only be moved forward (api-facts.md,
    "Versioning mechanics"): no retry helps, only a client that speaks the newer one.
    """


class FlatpeakPricesUnavailableError(FlatpeakApiError):
    """No prices can be served for the location yet or right now (422)."""


class FlatpeakNoTariffError(FlatpeakPricesUnavailableError):
    """No tariff is connected for the location and direction (422 `no_tariff_connected`)."""


class FlatpeakPendingConnectError(FlatpeakPricesUnavailableError):
    """Flatpeak is still accessing the tariff for the first time (422 `pending_connect`)."""


class FlatpeakNoPriceDataError(FlatpeakPricesUnavailableError):
    """Flatpeak has had no price data for an extended period (422 `no_price_data`)."""


class FlatpeakNotFoundError(FlatpeakApiError):
    """The requested object does not exist (404)."""


class FlatpeakConnectError(FlatpeakApiError):
    """Connect answered with an error object (`object: "error"`, connect.md §2)."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        context: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Keep the error's `type`, `context` and `request_id` next to its code."""
        super().__init__(message, code=code, status=status)
        self.error_type = error_type
        self.context = context
        self.request_id = request_id


class FlatpeakConnectTokenError(FlatpeakConnectError):
    """Connect refused the connect token (expired, used or unknown); a new one is needed."""


class FlatpeakTimeOfDayCoverError(FlatpeakError, ValueError):
    """Time-of-day rates do not cover the 24 hours of a day exactly once."""


class FlatpeakResponseError(FlatpeakError):
    """The API answered with a body that is not what it documents."""


class WebhookError(FlatpeakError):
    """A webhook delivery could not be accepted."""


class WebhookPayloadError(WebhookError):
    """The body is not a Flatpeak event (not JSON, not an object, missing or wrong fields)."""


class WebhookSignatureError(WebhookError):
    """The signature is absent where required, malformed, stale or does not verify."""


class WebhookKeyUnavailableError(WebhookError):
    """The signing keys could not be fetched, so the signature cannot be checked now."""
