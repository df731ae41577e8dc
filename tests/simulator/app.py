"""The aiohttp application that answers like the Flatpeak API (Anode release)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from http import HTTPStatus
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from .connect import ConnectError, create_token, retrieve_token
from .control import add_control_routes
from .sender import Dispatcher
from .state import (
    ANY_ROUTE,
    API_VERSION,
    ROUTES,
    TARIFF_DIRECTIONS,
    Fault,
    PriceFeed,
    PriceSlot,
    SimulatorState,
    Token,
    iso_z,
)

STATE_KEY = web.AppKey("flatpeak_simulator_state", SimulatorState)
DISPATCHER_KEY = web.AppKey("flatpeak_simulator_dispatcher", Dispatcher)

MAX_PRICE_WINDOW = timedelta(days=90)
DEFAULT_PAGE_LIMIT = 30
MAX_PAGE_LIMIT = 100
# RFC 3339 date-time only: a date alone or a time without an offset is refused.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Invalid request"),
    401: ("unauthorized", "Invalid or expired bearer token"),
    403: ("unauthorized", "Bad credentials"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    409: ("conflict", "Conflict"),
    422: ("invalid_request", "The request could not be processed"),
    429: ("rate_limit", "Too many requests"),
    500: ("internal_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
    504: ("gateway_timeout", "Gateway Timeout"),
}
_PRICE_ERROR_MESSAGES = {
    "pending_connect": "Connect is accessing the tariff for the first time; prices are not available yet",
    "no_tariff_connected": "No tariff is connected for this location and direction",
    "no_price_data": "Price data could not be retrieved for this location",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answered with Flatpeak's error object."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        error_type: str | None = None,
        context: str = "api",
        live_mode: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Describe the error object to send."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_type = error_type or error_type_for(status)
        self.context = context
        self.live_mode = live_mode
        self.headers = headers or {}


def error_type_for(status: int) -> str:
    """Map an HTTP status to the error object's `type` as the docs classify it."""
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return "rate_limit"
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return "api_error"
    return "invalid_request"


def default_error(status: int) -> tuple[str, str]:
    """Return the code and message used when a fault gives only a status."""
    if status in _DEFAULT_ERRORS:
        return _DEFAULT_ERRORS[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        "api_error" if status >= HTTPStatus.INTERNAL_SERVER_ERROR else "error",
        phrase,
    )


def error_object(state: SimulatorState, err: ApiError) -> dict[str, Any]:
    """Build the documented error object."""
    now = state.now().astimezone(UTC)
    return {
        "object": "error",
        "live_mode": err.live_mode,
        "context": err.context,
        "type": err.error_type,
        "code": err.code,
        "message": err.message,
        # The docs show this one timestamp without a zone and with milliseconds.
        "time_created": now.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{now.microsecond // 1000:03d}",
    }


def _error_response(state: SimulatorState, err: ApiError) -> web.Response:
    """Answer with an error object."""
    return web.json_response(
        error_object(state, err), status=err.status, headers=err.headers
    )


def _state(request: web.Request) -> SimulatorState:
    """Return the state behind this application."""
    return request.app[STATE_KEY]


# -- middleware: counters, faults, version header, error objects ----------------------


@web.middleware
async def _api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count, inject faults, check the version header and render errors."""
    state = _state(request)
    route = request.match_info.route.name
    if route is not None and route.startswith("_sim"):
        return await handler(request)
    try:
        if route in ROUTES:
            state.record_call(route, request.match_info.get("location_id"))
        fault = state.take_fault(route if route in ROUTES else ANY_ROUTE)
        if fault is not None and (response := await apply_fault(state, fault)):
            return response
        # The JWKS is a static public document: no version applies to it.
        if route in ROUTES and route != "jwks":
            _check_version(state, request)
        return await handler(request)
    except ApiError as err:
        return _error_response(state, err)
    except web.HTTPException as err:
        if err.status < HTTPStatus.BAD_REQUEST:
            raise
        code, message = default_error(err.status)
        return _error_response(state, ApiError(err.status, code, message))


async def apply_fault(state: SimulatorState, fault: Fault) -> web.Response | None:
    """Delay, then answer with the fault's status/body (None: serve normally)."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status is None and fault.body is None:
        return None
    status = fault.status or HTTPStatus.OK
    headers = dict(fault.headers)
    body = fault.body
    if body is None:
        if status < HTTPStatus.BAD_REQUEST:
            return web.Response(status=status, headers=headers)
        code, message = default_error(status)
        body = error_object(state, ApiError(status, code, message))
    if isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = json.dumps(body).encode()
    headers.setdefault("Content-Type", "application/json")
    return web.Response(status=status, body=raw, headers=headers)


def _check_version(state: SimulatorState, request: web.Request) -> None:
    """Refuse a Flatpeak-Version other than the pinned one; count missing ones."""
    version = request.headers.get("Flatpeak-Version")
    if version is None:
        state.missing_version_header += 1
    elif version != API_VERSION:
        raise ApiError(
            422,
            "api_version_not_supported",
            f"Requested API version {version} is not supported; use {API_VERSION}",
        )


# -- authentication --------------------------------------------------------------------


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return (login, password) from a Basic Authorization header."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def _authenticate(request: web.Request) -> Token:
    """Return the caller's valid bearer token, or raise the documented error."""
    state = _state(request)
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    token = state.token_info(value.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        code, message = _DEFAULT_ERRORS[401]
        raise ApiError(401, code, message)
    if state.accounts[token.account_id].disabled:
        raise _account_disabled(token.live_mode)
    return token


def _account_disabled(live_mode: bool) -> ApiError:
    """Build the 422 every endpoint answers for a disabled account."""
    # The docs' example of this error carries type api_error despite the 422.
    return ApiError(
        422,
        "account_disabled",
        "Your account is disabled",
        error_type="api_error",
        live_mode=live_mode,
    )


async def _login(request: web.Request) -> web.Response:
    """GET /login: trade Basic credentials for a bearer token."""
    state = _state(request)
    credentials = _parse_basic(request.headers.get("Authorization"))
    account = state.accounts.get(credentials[0]) if credentials else None
    if credentials is None or account is None or credentials[1] not in account.api_keys:
        raise ApiError(403, "unauthorized", "Bad credentials", context="api.login")
    if account.disabled:
        raise _account_disabled(live_mode=not credentials[1].startswith("sk_test_"))
    token = state.issue_token(account.account_id, credentials[1])
    return web.json_response(
        {
            "bearer_token": token.value,
            "expires_in": state.token_lifetime,
            "live_mode": token.live_mode,
        }
    )


# -- pagination ------------------------------------------------------------------------


def _paginate(
    request: web.Request, items: Sequence[dict[str, Any]], live_mode: bool
) -> tuple[list[dict[str, Any]], bool]:
    """Cut a newest-first list by `limit`, `starting_after` or `ending_before`."""
    state = _state(request)
    query = request.query
    raw_limit = query.get("limit", str(DEFAULT_PAGE_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ApiError(
            422,
            "limit_invalid",
            f"limit must be an integer between 1 and {MAX_PAGE_LIMIT}",
            live_mode=live_mode,
        )
    after, before = query.get("starting_after"), query.get("ending_before")
    if after and before:
        raise ApiError(
            422,
            "pagination_parameters_conflict",
            "starting_after and ending_before are mutually exclusive",
            live_mode=live_mode,
        )
    if not after and not before:
        return list(items[:limit]), len(items) > limit
    cursor = after or before or ""
    position = state.sequence(cursor)
    if position is None:
        raise ApiError(
            422,
            "starting_after_invalid" if after else "ending_before_invalid",
            f"No such object: {cursor}",
            live_mode=live_mode,
        )
    if after:
        older = [item for item in items if _seq(state, item) < position]
        return older[:limit], len(older) > limit
    newer = [item for item in items if _seq(state, item) > position]
    return newer[-limit:], len(newer) > limit


def _seq(state: SimulatorState, item: dict[str, Any]) -> int:
    """Return an item's creation position."""
    position = state.sequence(item["id"])
    return -1 if position is None else position


def _list_response(
    url: str, page: list[dict[str, Any]], has_more: bool
) -> web.Response:
    """Answer with Flatpeak's list envelope."""
    return web.json_response(
        {"object": "list", "url": url, "has_more": has_more, "data": page}
    )


# -- locations -------------------------------------------------------------------------


async def _list_locations(request: web.Request) -> web.Response:
    """GET /locations: the account's locations in this mode, newest first."""
    token = _authenticate(request)
    state = _state(request)
    reference_id = request.query.get("reference_id")
    customer_id = request.query.get("customer_id")
    items = [
        location
        for location in reversed(state.locations.values())
        if location["account_id"] == token.account_id
        and location["live_mode"] == token.live_mode
        and (reference_id is None or location["reference_id"] == reference_id)
        and (customer_id is None or location["customer_id"] == customer_id)
    ]
    page, has_more = _paginate(request, items, token.live_mode)
    return _list_response("/locations", page, has_more)


def _owned_location(request: web.Request, token: Token) -> dict[str, Any]:
    """Return the path's location if the token may see it, else raise 404."""
    location_id = request.match_info["location_id"]
    location = _state(request).locations.get(location_id)
    if (
        location is None
        or location["account_id"] != token.account_id
        or location["live_mode"] != token.live_mode
    ):
        raise ApiError(
            404,
            "not_found",
            f"No such location: {location_id}",
            live_mode=token.live_mode,
        )
    return location


async def _get_location(request: web.Request) -> web.Response:
    """GET /locations/{id}."""
    token = _authenticate(request)
    return web.json_response(_owned_location(request, token))


async def _get_location_status(request: web.Request) -> web.Response:
    """GET /locations/{id}/status."""
    token = _authenticate(request)
    location = _owned_location(request, token)
    return web.json_response(_state(request).location_status(location["id"]))


# -- prices ----------------------------------------------------------------------------


def _parse_time(value: Any, name: str, live_mode: bool) -> datetime:
    """Parse an RFC 3339 date-time with an offset, or raise 422."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ApiError(
            422,
            f"{name}_invalid",
            f"{name} must be an RFC 3339 date-time with a time zone offset",
            context="api.price_retrieve",
            live_mode=live_mode,
        )
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    return datetime.fromisoformat(text.replace("t", "T"))


def format_time(value: datetime, zone: tzinfo, *, use_z: bool) -> str:
    """Format a time in the request's offset, with `Z` if the request used `Z`."""
    local = value.astimezone(zone)
    text = local.isoformat(timespec="seconds")
    if use_z and text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def default_next_update(now: datetime, zone: ZoneInfo) -> datetime:
    """Return the next 16:00 local time, when day-ahead prices are usually in."""
    today = now.astimezone(zone).date()
    candidate = datetime.combine(today, time(16), tzinfo=zone)
    if candidate <= now:
        candidate = datetime.combine(today + timedelta(days=1), time(16), tzinfo=zone)
    return candidate


def _price_error(code: str, message: str, live_mode: bool) -> ApiError:
    """Build a 422 of the price endpoint."""
    return ApiError(
        422, code, message, context="api.price_retrieve", live_mode=live_mode
    )


@dataclass(frozen=True, slots=True)
class _PriceRequest:
    """A validated POST /prices body."""

    direction: str
    start: datetime
    end: datetime
    raw_start: str | None
    raw_end: str


async def _price_request(
    request: web.Request, now: datetime, live_mode: bool
) -> _PriceRequest:
    """Parse and validate the body of POST /prices, or raise 422."""
    try:
        body = await request.json() if await request.read() else {}
    except ValueError:
        raise _price_error(
            "body_invalid", "The request body is not valid JSON", live_mode
        ) from None
    if not isinstance(body, dict):
        raise _price_error(
            "body_invalid", "The request body must be a JSON object", live_mode
        )
    direction = body.get("tariff_direction") or "IMPORT"
    if direction not in TARIFF_DIRECTIONS:
        raise _price_error(
            "tariff_direction_invalid",
            "Direction parameter must be EXPORT or IMPORT",
            live_mode,
        )
    if body.get("end_time") is None:
        raise _price_error("end_time_missing", "end_time is required", live_mode)
    end = _parse_time(body["end_time"], "end_time", live_mode)
    raw_start = body.get("start_time")
    start = (
        now if raw_start is None else _parse_time(raw_start, "start_time", live_mode)
    )
    if start >= end:
        raise _price_error(
            "time_window_invalid", "start_time must be before end_time", live_mode
        )
    if end - start > MAX_PRICE_WINDOW:
        raise _price_error(
            "time_window_too_large", "The time window cannot exceed 90 days", live_mode
        )
    return _PriceRequest(direction, start, end, raw_start, body["end_time"])


def _unavailable_code(feed: PriceFeed | None) -> str | None:
    """Return the 422 code when a location has no prices for a direction."""
    if feed is not None and feed.error is not None:
        return feed.error
    if feed is None or (feed.slots is None and feed.pattern is None):
        return "no_tariff_connected"
    return None


async def _get_prices(request: web.Request) -> web.Response:
    """POST /prices/{id}: the price slots overlapping a window."""
    token = _authenticate(request)
    state = _state(request)
    location = _owned_location(request, token)
    query = await _price_request(request, state.now(), token.live_mode)
    feed = state.price_feed(location["id"], query.direction)
    code = _unavailable_code(feed)
    if code is not None:
        raise _price_error(code, _PRICE_ERROR_MESSAGES[code], token.live_mode)
    assert feed is not None

    # Flatpeak answers in end_time's offset, whatever start_time used.
    zone = query.end.tzinfo or UTC
    use_z = query.raw_end[-1] in "Zz"

    def fmt(value: datetime) -> str:
        return format_time(value, zone, use_z=use_z)

    location_zone = ZoneInfo(location["timezone"])
    next_update = feed.next_update or default_next_update(state.now(), location_zone)
    last_updated = feed.last_updated or state.now()
    slots = state.price_slots(location["id"], query.direction, query.start, query.end)
    return web.json_response(
        {
            "id": state.new_id("prs"),
            "object": "price",
            "live_mode": location["live_mode"],
            "location_id": location["id"],
            "location_timezone": location["timezone"],
            "currency_code": location["currency_code"],
            "tariff_direction": query.direction,
            "last_updated": fmt(last_updated),
            "next_update": fmt(next_update),
            "request": {
                "tariff_direction": query.direction,
                "start_time": query.raw_start or fmt(query.start),
                "end_time": query.raw_end,
            },
            "data": [_price_row(state, slot, fmt) for slot in slots],
            "time_created": iso_z(state.now()),
            "account_id": location["account_id"],
        }
    )


def _price_row(
    state: SimulatorState, slot: PriceSlot, fmt: Callable[[datetime], str]
) -> dict[str, Any]:
    """Render one slot in the configured row shape."""
    row: dict[str, Any] = {"valid_from": fmt(slot.start), "valid_to": fmt(slot.end)}
    if state.price_row_shape == "tariff":
        # The timezones guide shows this older shape for the same endpoint.
        row["tariff"] = {"rate": slot.value, "confidence": slot.confidence}
    else:
        row["price"] = {"value": slot.value, "confidence": slot.confidence}
    return row


# -- events ----------------------------------------------------------------------------


def _event_visible(state: SimulatorState, event: dict[str, Any], token: Token) -> bool:
    """Tell whether an event belongs to the token's account and mode."""
    return state.event_owner(event["id"]) == (token.account_id, token.live_mode)


async def _list_events(request: web.Request) -> web.Response:
    """GET /events: newest first, filtered by type and object id."""
    token = _authenticate(request)
    state = _state(request)
    event_type = request.query.get("event_type")
    object_id = request.query.get("object_id")
    items = [
        event
        for event in reversed(state.events)
        if _event_visible(state, event, token)
        and (event_type is None or event["type"] == event_type)
        and (
            object_id is None
            or object_id in (event["data"].get("id"), event["data"].get("location_id"))
        )
    ]
    page, has_more = _paginate(request, items, token.live_mode)
    return _list_response("/events", page, has_more)


async def _get_event(request: web.Request) -> web.Response:
    """GET /events/{id}."""
    token = _authenticate(request)
    state = _state(request)
    event_id = request.match_info["event_id"]
    for event in state.events:
        if event["id"] == event_id and _event_visible(state, event, token):
            return web.json_response(event)
    raise ApiError(
        404, "not_found", f"No such event: {event_id}", live_mode=token.live_mode
    )


# -- Connect tokens ---------------------------------------------------------------


def _api_error(err: ConnectError, live_mode: bool) -> ApiError:
    """Answer a Connect validation error with the API's error object."""
    return ApiError(
        err.status,
        err.code,
        err.message,
        error_type=err.error_type,
        context=err.context,
        live_mode=live_mode,
    )


async def _create_connect_token(request: web.Request) -> web.Response:
    """POST /connect/token and /connect/tariff/token (connect.md §1)."""
    token = _authenticate(request)
    state = _state(request)
    try:
        body = await request.json() if await request.read() else None
    except ValueError:
        body = None
    try:
        connect_token = create_token(state, token.account_id, token.live_mode, body)
    except ConnectError as err:
        raise _api_error(err, token.live_mode) from None
    return web.json_response(
        {
            "connect_token": connect_token.id,
            "expires_in": state.connect.token_lifetime,
            "live_mode": token.live_mode,
        }
    )


async def _retrieve_connect_token(request: web.Request) -> web.Response:
    """GET /connect/tariff/token?connect_token= (connect.md §4)."""
    token = _authenticate(request)
    try:
        body = retrieve_token(
            _state(request),
            token.account_id,
            token.live_mode,
            request.query.get("connect_token"),
        )
    except ConnectError as err:
        raise _api_error(err, token.live_mode) from None
    return web.json_response(body)


# -- JWKS ------------------------------------------------------------------------------


async def _jwks(request: web.Request) -> web.Response:
    """GET /jwks.json: every webhook signing key, current one last."""
    return web.json_response(
        {"keys": [key.jwk() for key in _state(request).signing_keys]}
    )


def create_app(state: SimulatorState | None = None) -> web.Application:
    """Build the simulator application around a state."""
    state = state or SimulatorState()
    app = web.Application(middlewares=[_api_middleware])
    app[STATE_KEY] = state
    dispatcher = app[DISPATCHER_KEY] = Dispatcher(state)
    app.on_cleanup.append(dispatcher.close)
    app.router.add_get("/login", _login, name="login")
    app.router.add_get("/locations", _list_locations, name="locations")
    app.router.add_get("/locations/{location_id}", _get_location, name="location")
    app.router.add_get(
        "/locations/{location_id}/status",
        _get_location_status,
        name="location_status",
    )
    app.router.add_post("/prices/{location_id}", _get_prices, name="prices")
    app.router.add_get("/events", _list_events, name="events")
    app.router.add_get("/events/{event_id}", _get_event, name="event")
    app.router.add_get("/jwks.json", _jwks, name="jwks")
    # The Anode path and the older one the Zero docs and the DZ spec use (§1); a GET
    # at the new path is not documented (§4) but costs nothing to answer.
    app.router.add_post(
        "/connect/token", _create_connect_token, name="connect_token_create"
    )
    app.router.add_get(
        "/connect/token", _retrieve_connect_token, name="connect_token_retrieve"
    )
    app.router.add_post(
        "/connect/tariff/token",
        _create_connect_token,
        name="connect_tariff_token_create",
    )
    app.router.add_get(
        "/connect/tariff/token",
        _retrieve_connect_token,
        name="connect_tariff_token_retrieve",
    )
    add_control_routes(app, state, dispatcher)
    return app
