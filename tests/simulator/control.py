"""`/_sim/…` endpoints that let another process drive a running simulator."""

from __future__ import annotations

from datetime import datetime
import json
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .sender import FLATPEAK_RETRY_SCHEDULE, FLATPEAK_TIMEOUT, WebhookSender

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .state import SimulatorState

_STATUS_FIELDS = (
    "status",
    "connection_type",
    "provider_name",
    "provider_id",
    "tariff_name",
    "structure_type",
    "tariff_id",
)
_OK = {"ok": True}
# A named tuple of types keeps the syntax valid before Python 3.14 too.
_BAD_ARGUMENTS = (KeyError, TypeError, ValueError)


class _Control:
    """The control operations on one state; each takes and returns JSON."""

    def __init__(self, state: SimulatorState) -> None:
        """Bind to a state; the HTTP session for webhooks is made on first use."""
        self.state = state
        self._session: aiohttp.ClientSession | None = None

    async def close(self, _app: web.Application) -> None:
        """Close the webhook session when the application stops."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an event and deliver it with the state's signing key."""
        if self._session is None:
            # Made here, not in __init__: the app may be built outside a running loop.
            self._session = aiohttp.ClientSession()
        event = self.state.make_event(body["type"], body["location_id"])
        if body.get("reflect_status"):
            self.state.reflect_in_status(body["type"], body["location_id"])
        sender = WebhookSender(
            self.state,
            self._session,
            schedule=body.get("schedule") or FLATPEAK_RETRY_SCHEDULE,
            time_scale=float(body.get("time_scale", 1.0)),
            timeout=float(body.get("timeout", FLATPEAK_TIMEOUT)),
            sign=bool(body.get("signed", True)),
            resign_retries=bool(body.get("resign_retries", True)),
        )
        result = await sender.deliver(body["url"], event)
        return {"event": event, "result": result.as_dict()}

    async def event(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an event without delivering it (for GET /events catch-up)."""
        return self.state.make_event(body["type"], body["location_id"])

    async def fault(self, body: dict[str, Any]) -> dict[str, Any]:
        """Inject a fault; the arguments are those of `inject_fault`."""
        self.state.inject_fault(
            body["route"],
            status=body.get("status"),
            body=body.get("body"),
            delay=float(body.get("delay", 0.0)),
            headers=body.get("headers"),
            times=body.get("times", 1),
        )
        return _OK

    async def clear_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        """Remove all faults, or one route's."""
        self.state.clear_faults(body.get("route"))
        return _OK

    async def calls(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Return the call counters."""
        per_location: dict[str, dict[str, int]] = {}
        for (route, location_id), count in self.state.location_calls.items():
            per_location.setdefault(route, {})[location_id] = count
        return {
            "calls": dict(self.state.calls),
            "locations": per_location,
            "missing_version_header": self.state.missing_version_header,
        }

    async def reset_calls(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Zero the call counters."""
        self.state.reset_calls()
        return _OK

    async def prices_error(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set (or clear, with code null) a location's price error."""
        self.state.set_prices_error(
            body["location_id"],
            body.get("code"),
            direction=body.get("direction", "IMPORT"),
        )
        return _OK

    async def prices(self, body: dict[str, Any]) -> dict[str, Any]:
        """Serve one flat price (confidence 1) for a location from now on."""
        value = float(body["value"])
        self.state.set_price_pattern(
            body["location_id"],
            lambda _start: (value, 1.0),
            slot_minutes=int(body.get("slot_minutes", 30)),
            direction=body.get("direction", "IMPORT"),
        )
        return _OK

    async def status(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set a tariff slot's status; the arguments are those of `set_status`."""
        kwargs: dict[str, Any] = {
            name: body[name] for name in _STATUS_FIELDS if name in body
        }
        if body.get("contract_end_date"):
            kwargs["contract_end_date"] = datetime.fromisoformat(
                body["contract_end_date"]
            )
        return self.state.set_status(
            body["location_id"], body.get("direction", "import"), **kwargs
        )

    async def revoke_key(self, body: dict[str, Any]) -> dict[str, Any]:
        """Delete an API key, as a user would in the Flatpeak dashboard."""
        self.state.revoke_key(body["api_key"])
        return _OK

    async def add_api_key(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an API key for an account."""
        self.state.add_api_key(body["account_id"], body["api_key"])
        return _OK

    async def account(self, body: dict[str, Any]) -> dict[str, Any]:
        """Seed an account with `count` locations with half-hourly prices (benchmarks)."""
        self.state.add_account(body["account_id"], body["api_keys"])
        value = float(body.get("price", 0.2))
        ids = []
        for index in range(int(body.get("count", 1))):
            location = self.state.add_location(
                body["account_id"], reference_id=f"Site {index + 1}"
            )
            self.state.set_status(location["id"])
            self.state.set_price_pattern(location["id"], lambda _start: (value, 1.0))
            ids.append(location["id"])
        return {"location_ids": ids}

    async def expire_tokens(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Invalidate every bearer token."""
        self.state.expire_tokens()
        return _OK

    async def rotate_key(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Add a signing key and sign with it from now on."""
        return {"kid": self.state.rotate_key().kid}


_ROUTES = {
    "send": "POST",
    "event": "POST",
    "fault": "POST",
    "clear_faults": "POST",
    "calls": "GET",
    "reset_calls": "POST",
    "prices_error": "POST",
    "prices": "POST",
    "status": "POST",
    "expire_tokens": "POST",
    "revoke_key": "POST",
    "add_api_key": "POST",
    "account": "POST",
    "rotate_key": "POST",
}


def add_control_routes(app: web.Application, state: SimulatorState) -> None:
    """Register the control endpoints for a state on an application."""
    control = _Control(state)
    app.on_cleanup.append(control.close)
    for name, method in _ROUTES.items():
        app.router.add_route(
            method,
            f"/_sim/{name}",
            _json_endpoint(getattr(control, name)),
            name=f"_sim_{name}",
        )


def _json_body(raw: bytes) -> dict[str, Any]:
    """Decode a control request's body, which must be a JSON object (or empty)."""
    body = json.loads(raw) if raw else {}
    if not isinstance(body, dict):
        raise TypeError("the body must be a JSON object")
    return body


def _json_endpoint(
    operation: Callable[[dict[str, Any]], Awaitable[Any]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a control operation: JSON in, JSON out, 400 on bad arguments."""

    async def endpoint(request: web.Request) -> web.Response:
        try:
            result = await operation(_json_body(await request.read()))
        except _BAD_ARGUMENTS as err:
            return web.json_response(
                {"error": type(err).__name__, "message": str(err)}, status=400
            )
        return web.json_response(result)

    return endpoint
