"""The entry's webhook: registration and the delivery handler.

A delivery is read (bounded), its signature checked, its body parsed, unsigned ones
(and signed ones too old to rule out a replay) confirmed with Flatpeak, and then handed
to the applier; the status code tells Flatpeak whether to deliver it again. A refusal
that a real event can meet also asks for a catch-up from Flatpeak's event list, so the
event arrives whatever becomes of its deliveries.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from aiohttp import web
from homeassistant.components import webhook

from ..api.delivery import parse_event
from ..api.exceptions import (
    FlatpeakTimeoutError,
    WebhookKeyUnavailableError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from ..api.signature import SignatureHeaders
from ..const import (
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    CONF_WEBHOOK_ID,
    DOMAIN,
    LOGGER,
)
from .applier import Outcome
from .catch_up import async_follow_cloud
from .confirmation import Confirmation, Verdict

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.core import HomeAssistant
    from homeassistant.util.aiohttp import MockRequest

    from ..api.client import FlatpeakClient
    from ..api.models import Event, JsonWebKey
    from ..runtime import FlatpeakConfigEntry

# Contract: larger deliveries are refused with 413. Flatpeak's events are a few KiB.
MAX_BODY_BYTES: Final = 1024 * 1024
READ_CHUNK_BYTES: Final = 64 * 1024
# Advice to Flatpeak when it should try again (it keeps its own schedule regardless).
RETRY_AFTER_SECONDS: Final = 60
# Flatpeak gives up on a delivery after 10 s; fetching the signing keys must fit well within.
JWKS_TIMEOUT: Final = 5.0
# Refusals a real event can meet, and that reading Flatpeak's event list (with our API
# key, so it trusts nothing from the delivery) would heal: a body mangled on the way
# (400), a signature that does not hold, e.g. a key rotated in the last minute (401),
# an error of ours (500), and the signing keys or the event that cannot be checked now,
# or a read-back budget spent by a flood (503). Not 404: Flatpeak has not listed the
# event, so a listing would not find it either (its own retry reads it back); not 413:
# no Flatpeak event is that large.
CATCH_UP_ON_STATUS: Final = frozenset(
    {
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        HTTPStatus.SERVICE_UNAVAILABLE,
    }
)


def jwks_fetcher(
    client: FlatpeakClient,
) -> Callable[[], Awaitable[list[JsonWebKey]]]:
    """Return a JWKS fetch bounded so a delivery is answered in time."""

    async def fetch() -> list[JsonWebKey]:
        try:
            async with asyncio.timeout(JWKS_TIMEOUT):
                return await client.get_jwks()
        except TimeoutError as err:
            raise FlatpeakTimeoutError("fetching the signing keys timed out") from err

    return fetch


def _response(
    status: HTTPStatus, message: str, *, retry_after: int | None = None
) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response({"message": message}, status=status, headers=headers)


async def read_body(request: web.Request | MockRequest) -> bytes | None:
    """Read the body, or None once it exceeds the limit (without reading it all).

    The same code reads direct requests and those Home Assistant Cloud relays as a
    `MockRequest`, which has no `content_length` and whose stream offers only
    `read(n)`: both streams answer `read(n)` with at most n bytes and b"" at the end.
    """
    length = getattr(request, "content_length", None)
    if length is not None and length > MAX_BODY_BYTES:
        return None
    # Taken once: a MockRequest hands out a new stream, from the start, at each access.
    stream = request.content
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def async_start_receiving(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Receive the entry's deliveries until it is unloaded, and catch up on missed ones."""
    webhook_id: str = entry.data[CONF_WEBHOOK_ID]

    async def handle(
        hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        return await async_handle_delivery(entry, request)

    webhook.async_register(
        hass,
        DOMAIN,
        f"Flatpeak ({entry.title})",
        webhook_id,
        handle,
        allowed_methods=["POST"],
    )
    entry.async_on_unload(lambda: webhook.async_unregister(hass, webhook_id))
    catch_up = entry.runtime_data.catch_up
    async_follow_cloud(hass, entry, catch_up)
    catch_up.async_start()


async def async_handle_delivery(
    entry: FlatpeakConfigEntry, request: web.Request | MockRequest
) -> web.Response:
    """Answer one delivery; never 200 for an event that was not applied."""
    try:
        response = await _async_handle(entry, request)
    except Exception:  # noqa: BLE001 - any fault of ours must not read as success
        # Home Assistant would answer 200 (and log the webhook id, a secret): answer
        # 500 ourselves so that Flatpeak delivers the event again.
        LOGGER.exception("Unexpected error while handling a Flatpeak delivery")
        response = _response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
    if response.status in CATCH_UP_ON_STATUS:
        # Flatpeak's next retry may meet the same refusal (a flood keeps the read-back
        # budget spent; an old timestamp stays old): its event list does not. Asking
        # costs nothing when a catch-up is due anyway (catch_up.py).
        entry.runtime_data.catch_up.async_request()
    return response


async def _async_handle(
    entry: FlatpeakConfigEntry, request: web.Request | MockRequest
) -> web.Response:
    """Verify, confirm and apply one delivery; the status tells Flatpeak whether to retry."""
    accepted = await _async_read_event(entry, request)
    if isinstance(accepted, web.Response):
        return accepted
    event, trusted = accepted
    runtime = entry.runtime_data
    if event.id in runtime.event_log:
        # Applied before, so it was confirmed then; an id is remembered only once it
        # is in the journal, so acknowledging it again promises nothing new.
        return _response(HTTPStatus.OK, Outcome.DUPLICATE)
    if not trusted or event.account_id is None or event.live_mode is None:
        # Unsigned, signed too long ago to rule out a replay, or signed without saying
        # whose it is: a hint, applied as Flatpeak itself reports the event.
        confirmation = await runtime.confirmer.async_confirm(event)
        if confirmation.event is None:
            return _unconfirmed(event, confirmation)
        event = confirmation.event
    # Applying records the id in the journal (event_log.py), and stores what the event
    # changed, before this answer: a crash after it cannot make Flatpeak's retry apply
    # the event twice, nor lose its effect.
    outcome = await runtime.applier.async_apply(event)
    return _response(HTTPStatus.OK, outcome)


async def _async_read_event(
    entry: FlatpeakConfigEntry, request: web.Request | MockRequest
) -> tuple[Event, bool] | web.Response:
    """Return the delivered event and whether its signature vouches for it, or the refusal."""
    body = await read_body(request)
    if body is None:
        return _response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    signature = SignatureHeaders.from_headers(request.headers)
    trusted = await _check_signature(entry, signature, body)
    if isinstance(trusted, web.Response):
        return trusted
    try:
        event = parse_event(body)
    except WebhookPayloadError as err:
        LOGGER.warning("Refused a Flatpeak delivery: %s", err)
        return _response(HTTPStatus.BAD_REQUEST, str(err))
    return event, trusted


def _unconfirmed(event: Event, confirmation: Confirmation) -> web.Response:
    """Return the answer for a delivery Flatpeak did not confirm."""
    match confirmation.verdict:
        case Verdict.UNKNOWN:
            # Maybe not listed yet: a non-2xx answer makes Flatpeak deliver it again,
            # and anything else sending it gets nothing for it.
            LOGGER.debug("Flatpeak does not know the delivered event %s", event.id)
            return _response(HTTPStatus.NOT_FOUND, "event not known to Flatpeak")
        case Verdict.THROTTLED:
            LOGGER.debug("Too many unconfirmed Flatpeak deliveries; asking to retry")
            return _response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "too many deliveries to confirm",
                retry_after=RETRY_AFTER_SECONDS,
            )
        case _:
            LOGGER.warning(
                "Cannot confirm a Flatpeak delivery with Flatpeak now, asking to retry"
            )
            return _response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "cannot confirm the event with Flatpeak now",
                retry_after=RETRY_AFTER_SECONDS,
            )


async def _check_signature(
    entry: FlatpeakConfigEntry, signature: SignatureHeaders | None, body: bytes
) -> web.Response | bool:
    """Return the refusal for a delivery whose signature does not hold.

    Otherwise return whether the signature vouches for the event on its own: valid and
    signed within the last 5 minutes. Flatpeak's docs do not say whether a retry is
    signed again; we take the tolerant reading that it may not be, so a valid signature
    with an old timestamp is accepted as Flatpeak's, and, as it may be a replay, the
    event is confirmed by reading it back like an unsigned one. Such a delivery counts
    as signed for `require_signed_webhooks`: only Flatpeak can have made it.
    """
    if signature is None:
        if entry.options.get(CONF_REQUIRE_SIGNED_WEBHOOKS, False):
            LOGGER.warning("Refused an unsigned Flatpeak delivery: signing is required")
            return _response(HTTPStatus.UNAUTHORIZED, "signature required")
        return False
    try:
        fresh = await entry.runtime_data.verifier.verify(signature, body)
    except WebhookKeyUnavailableError as err:
        # Our fault, not the sender's: answer so that Flatpeak delivers it again.
        LOGGER.warning("Cannot check a Flatpeak delivery now, asking to retry: %s", err)
        return _response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "signing keys unavailable",
            retry_after=RETRY_AFTER_SECONDS,
        )
    except WebhookSignatureError as err:
        LOGGER.warning("Refused a Flatpeak delivery: %s", err)
        return _response(HTTPStatus.UNAUTHORIZED, "invalid signature")
    if not fresh:
        LOGGER.debug(
            "A Flatpeak delivery's signature is valid but its timestamp is old: "
            "confirming the event with Flatpeak"
        )
    return fresh
