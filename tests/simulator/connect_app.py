"""The Connect API (`https://connect.flatpeak.com`) and DIRECT providers' login pages.

A separate application, served on its own port, so a client is given a Connect URL
distinct from the API's, as with Flatpeak (connect.md §2 Transport).
"""

from __future__ import annotations

from html import escape
from http import HTTPStatus
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from .app import STATE_KEY, ApiError, Handler, apply_fault, error_object
from .connect import ConnectError, converse, direct_login, session_token
from .sender import Dispatcher
from .state import ANY_ROUTE, ROUTES, SimulatorState

if TYPE_CHECKING:
    from collections.abc import Iterable

CONNECT_DISPATCHER_KEY = web.AppKey("flatpeak_connect_dispatcher", Dispatcher)
#: Form fields of the login page that are not the integrator's own parameters.
_LOGIN_FIELDS = frozenset({"fp_cot", "username", "password", "decision"})


@web.middleware
async def _connect_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Count requests and inject faults; Connect takes no version header."""
    state = request.app[STATE_KEY]
    route = request.match_info.route.name
    if route in ROUTES:
        state.record_call(route)
    fault = state.take_fault(route if route in ROUTES else ANY_ROUTE)
    if fault is not None and (response := await apply_fault(state, fault)):
        return response
    return await handler(request)


def _error_page(state: SimulatorState, err: ConnectError, body: Any) -> web.Response:
    """Answer a conversation error: the error object with the token (§2 Errors)."""
    value = body.get("connect_token") if isinstance(body, dict) else None
    token = state.connect.tokens.get(value) if isinstance(value, str) else None
    payload = error_object(
        state,
        ApiError(
            err.status,
            err.code,
            err.message,
            error_type=err.error_type,
            context=err.context,
            live_mode=token.live_mode if token else False,
        ),
    )
    payload["connect_token"] = value if isinstance(value, str) else None
    return web.json_response(payload, status=err.status)


async def _conversation(request: web.Request) -> web.Response:
    """POST /: one step of the conversation (§2)."""
    state = request.app[STATE_KEY]
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    try:
        reply = converse(state, body)
    except ConnectError as err:
        return _error_page(state, err, body)
    request.app[CONNECT_DISPATCHER_KEY].publish(reply.events)
    return web.json_response(reply.page)


def _add_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """Append query parameters to a URL of any scheme (deep links included)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode(list(params)))))
    return urlunsplit(parts._replace(query=query))


def _redirect(location: str) -> web.Response:
    """Answer 302 with the Location exactly as given (no normalising of deep links)."""
    return web.Response(status=HTTPStatus.FOUND, headers={"Location": location})


def _html(title: str, body: str, status: int = HTTPStatus.OK) -> web.Response:
    """Answer a small HTML page."""
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=page, content_type="text/html", status=status)


def _login_form(
    provider_name: str,
    fields: list[tuple[str, str]],
    message: str = "",
    status: int = HTTPStatus.OK,
) -> web.Response:
    """The provider's login and consent page; the query travels in hidden fields."""
    hidden = "".join(
        f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'>"
        for name, value in fields
    )
    error = f"<p id='error' role='alert'>{escape(message)}</p>" if message else ""
    body = (
        f"{error}<p>Sign in to share your tariff with Flatpeak.</p>"
        f"<form method='post'>{hidden}"
        "<label>Email <input name='username' autocomplete='username'></label>"
        "<label>Password <input name='password' type='password'></label>"
        "<button name='decision' value='login' type='submit'>Log in and allow</button>"
        "<button name='decision' value='decline' type='submit'>Decline</button>"
        "</form>"
    )
    return _html(f"{provider_name} login", body, status)


async def _provider_login(request: web.Request) -> web.StreamResponse:
    """GET or POST /providers/{id}/login: a DIRECT provider's login (§3.2-3.4).

    The form posts here; a GET that carries `username` and `password` (or
    `decision=decline`) logs in at once, so a test without a browser needs one
    request.
    """
    state = request.app[STATE_KEY]
    provider = state.connect.providers.get(request.match_info["provider_id"])
    if provider is None or provider.direct is None:
        return _html("Not found", "<p>No such provider.</p>", HTTPStatus.NOT_FOUND)
    form = list(request.query.items())
    if request.method == "POST":
        # The form posts to its own URL: its fields win over the query's repeat.
        posted = [(name, str(value)) for name, value in (await request.post()).items()]
        names = {name for name, _ in posted}
        form = posted + [(name, value) for name, value in form if name not in names]
    values = dict(form)
    extras = [(name, value) for name, value in form if name not in _LOGIN_FIELDS]
    hidden = [("fp_cot", values.get("fp_cot", "")), *extras]
    try:
        session_token(state, values.get("fp_cot"))
    except ConnectError as err:
        return _html("Connect session", f"<p>{escape(err.message)}</p>", 400)
    decline = values.get("decision") == "decline"
    if not decline and "username" not in values:
        return _login_form(provider.display_name, hidden)
    try:
        reply = direct_login(
            state,
            values["fp_cot"],
            provider.id,
            username=values.get("username"),
            password=values.get("password"),
            decline=decline,
        )
    except ConnectError as err:
        return _login_form(
            provider.display_name, hidden, err.message, HTTPStatus.UNAUTHORIZED
        )
    request.app[CONNECT_DISPATCHER_KEY].publish(reply.events)
    # Back through Flatpeak's auth host, which forwards to connect_url (§3.4).
    return _redirect(
        _add_query("/auth", [("connect_token", values["fp_cot"]), *extras])
    )


async def _auth_return(request: web.Request) -> web.StreamResponse:
    """GET /auth?connect_token=: forward the browser to connect_url with fp_cot (§3.4)."""
    state = request.app[STATE_KEY]
    value = request.query.get("connect_token")
    try:
        token = session_token(state, value)
    except ConnectError as err:
        return _html("Connect session", f"<p>{escape(err.message)}</p>", 400)
    extras = [(name, v) for name, v in request.query.items() if name != "connect_token"]
    # The integrator's own parameters come back with the token (§3.2).
    return _redirect(_add_query(token.connect_url, [("fp_cot", token.id), *extras]))


def create_connect_app(
    state: SimulatorState, dispatcher: Dispatcher | None = None
) -> web.Application:
    """Build the Connect application around a state (sharing the API's dispatcher)."""
    app = web.Application(middlewares=[_connect_middleware])
    app[STATE_KEY] = state
    if dispatcher is None:
        dispatcher = Dispatcher(state)
        app.on_cleanup.append(dispatcher.close)
    app[CONNECT_DISPATCHER_KEY] = dispatcher
    app.router.add_post("/", _conversation, name="connect")
    login = app.router.add_resource(
        "/providers/{provider_id}/login", name="connect_login"
    )
    login.add_route("GET", _provider_login)
    login.add_route("POST", _provider_login)
    app.router.add_get("/auth", _auth_return, name="connect_auth")
    return app
