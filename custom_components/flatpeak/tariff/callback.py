"""The page a browser comes back to after a provider login in Flatpeak Connect.

Flatpeak sends the browser to the connect token's `connect_url` with `fp_cot` and the
parameters the integration added to the provider's URL (connect.md §3.2, §3.4). This
view is that URL: it accepts only a state it issued itself (signed, single-use,
expiring, naming the flow and bound to the flow's connect token), advances the flow
that waits for the login, and tells the user to close the tab. Anything else is
answered 400 and changes nothing; never 401, which Home Assistant logs with the URL
(and so with the connect token in it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import hashlib
import hmac
from html import escape
from http import HTTPStatus
import json
import secrets
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.data_entry_flow import FlowResultType, UnknownFlow, UnknownStep
from homeassistant.helpers import http as http_helper
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from ..api.connect import CONNECT_TOKEN_PARAM
from ..const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.data_entry_flow import FlowManager

CALLBACK_PATH: Final = f"/api/{DOMAIN}/connect"
RETURN_URL_PATH: Final = f"{CALLBACK_PATH}/return"
END_URL_PATH: Final = f"{CALLBACK_PATH}/end"
# The parameter added to the provider's URL; Flatpeak returns it on connect_url (§3.2).
STATE_PARAM: Final = "flatpeak_state"
# A provider login takes minutes; a state older than this is refused.
STATE_LIFETIME: Final = timedelta(hours=1)
# Bounded, so a flood of started logins cannot grow memory without end.
MAX_PENDING_STATES: Final = 256

DATA_CALLBACKS: HassKey[ConnectCallbacks] = HassKey(f"{DOMAIN}_connect_callbacks")


class FlowKind(StrEnum):
    """The flow manager a waiting flow belongs to."""

    CONFIG = "config"
    OPTIONS = "options"
    REPAIRS = "repairs"


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingLogin:
    """A provider login a flow waits for."""

    kind: FlowKind
    flow_id: str
    token_digest: str
    expires: datetime


def _digest(connect_token: str) -> str:
    # Only a digest of the token is kept in the state: the state travels in URLs.
    return hashlib.sha256(connect_token.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ConnectCallbacks:
    """Issues and checks the states of provider logins; one per Home Assistant run.

    The signing key lives in memory only: flows do not survive a restart, so neither
    need the states that name them, and a key that is never stored cannot leak.
    """

    def __init__(self) -> None:
        """Start with a fresh key and no pending login."""
        self._key = secrets.token_bytes(32)
        self._pending: dict[str, PendingLogin] = {}

    def issue(self, kind: FlowKind, flow_id: str, connect_token: str) -> str:
        """Return a new state for a flow waiting for the login of a connect token."""
        now = dt_util.utcnow()
        self._drop_expired(now)
        while len(self._pending) >= MAX_PENDING_STATES:
            del self._pending[next(iter(self._pending))]
        nonce = secrets.token_urlsafe(16)
        pending = PendingLogin(
            kind=kind,
            flow_id=flow_id,
            token_digest=_digest(connect_token),
            expires=now + STATE_LIFETIME,
        )
        self._pending[nonce] = pending
        payload = _b64(
            json.dumps(
                {"k": str(kind), "f": flow_id, "n": nonce}, separators=(",", ":")
            ).encode()
        )
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def _drop_expired(self, now: datetime) -> None:
        for nonce in [n for n, p in self._pending.items() if p.expires <= now]:
            del self._pending[nonce]

    def redeem(self, state: str, connect_token: str) -> PendingLogin | None:
        """Return the login a state names, once; None for anything not issued here."""
        payload, _, signature = state.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            fields: Any = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(fields, dict) or not isinstance(
            nonce := fields.get("n"), str
        ):
            return None
        self._drop_expired(dt_util.utcnow())
        # Single use: the state is gone whatever follows.
        pending = self._pending.pop(nonce, None)
        if (
            pending is None
            or pending.flow_id != fields.get("f")
            or pending.kind != fields.get("k")
            or not hmac.compare_digest(pending.token_digest, _digest(connect_token))
        ):
            return None
        return pending

    def forget_flow(self, flow_id: str) -> None:
        """Drop the states of a flow that no longer waits (finished or closed)."""
        for nonce in [n for n, p in self._pending.items() if p.flow_id == flow_id]:
            del self._pending[nonce]


def connect_callbacks(hass: HomeAssistant) -> ConnectCallbacks:
    """Return the run's callback registry, registering the view on first use."""
    if (callbacks := hass.data.get(DATA_CALLBACKS)) is None:
        callbacks = hass.data[DATA_CALLBACKS] = ConnectCallbacks()
        hass.http.register_view(ConnectCallbackView())
    return callbacks


def base_url(hass: HomeAssistant) -> str:
    """Return the address the user's browser reaches Home Assistant by.

    The address of the request that drives the flow, when there is one: it works
    whether that is the internal URL, the external URL or Home Assistant Cloud's
    remote URL. Otherwise the configured URLs, the external one first.
    """
    if (request := http_helper.current_request.get()) is not None:
        return str(request.url.origin())
    try:
        return get_url(hass, prefer_external=True)
    except NoURLAvailableError:
        return get_url(hass, allow_external=False, allow_cloud=False)


def _flow_manager(hass: HomeAssistant, kind: FlowKind) -> FlowManager[Any, Any, Any]:
    if kind is FlowKind.CONFIG:
        return hass.config_entries.flow
    if kind is FlowKind.OPTIONS:
        return hass.config_entries.options
    manager: FlowManager[Any, Any, Any] = hass.data[REPAIRS_DOMAIN]["flow_manager"]
    return manager


def _page(title: str, text: str, status: HTTPStatus) -> web.Response:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'>"
        f"<title>{escape(title)}</title></head><body>"
        f"<h1>{escape(title)}</h1><p id='message'>{escape(text)}</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html", status=status)


_REFUSED = (
    "Flatpeak",
    (
        "This link is not valid any more: it was used already, has expired, or was "
        "not issued by this Home Assistant. Go back to Home Assistant and start again."
    ),
)


class ConnectCallbackView(HomeAssistantView):
    """Where Flatpeak sends the browser back: `connect_url` and `callback_url`."""

    url = CALLBACK_PATH + "/{kind}"
    name = f"api:{DOMAIN}:connect"
    # The browser comes from the provider's site, without Home Assistant's credentials;
    # the signed state is what lets it in.
    requires_auth = False

    async def get(self, request: web.Request, kind: str) -> web.Response:
        """Advance the flow a provider login returns to; refuse anything else."""
        hass = request.app[KEY_HASS]
        if kind == "end":
            # callback_url: the integration ends sessions itself and never sends a
            # browser here; one that comes anyway has nothing to do.
            return _page(
                "Flatpeak",
                "The Flatpeak Connect session has ended. Close this tab.",
                HTTPStatus.OK,
            )
        token = request.query.get(CONNECT_TOKEN_PARAM, "")
        state = request.query.get(STATE_PARAM, "")
        callbacks = hass.data.get(DATA_CALLBACKS)
        pending = (
            callbacks.redeem(state, token)
            if callbacks is not None and kind == "return" and token and state
            else None
        )
        if pending is None:
            # Logged without the query: it holds a connect token.
            LOGGER.warning("Refused a Flatpeak Connect callback that was not issued")
            return _page(*_REFUSED, HTTPStatus.BAD_REQUEST)
        try:
            result = await _flow_manager(hass, pending.kind).async_configure(
                pending.flow_id, {CONNECT_TOKEN_PARAM: token, STATE_PARAM: state}
            )
        except UnknownFlow, UnknownStep:
            return _page(
                "Flatpeak",
                "This Home Assistant dialog was closed meanwhile. Start again from "
                "Home Assistant.",
                HTTPStatus.BAD_REQUEST,
            )
        if result["type"] is not FlowResultType.EXTERNAL_STEP_DONE:
            return _page(*_REFUSED, HTTPStatus.BAD_REQUEST)
        return _page(
            "Flatpeak",
            "You are logged in with your energy provider. Close this tab and go back "
            "to Home Assistant to finish.",
            HTTPStatus.OK,
        )
