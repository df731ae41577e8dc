"""`/_sim/…` endpoints that let another process drive a running simulator."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
import json
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .connect import add_provider, finish_pending, seed_connect_providers
from .connect_model import (
    END_ROUTES,
    LATER_PAGE_ACTIONS,
    DirectLogin,
    LaterPage,
    LibraryTariff,
    Provider,
    TodPeriod,
)
from .sender import FLATPEAK_RETRY_SCHEDULE, FLATPEAK_TIMEOUT, WebhookSender
from .state import WebhookConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .sender import Dispatcher
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

    def __init__(self, state: SimulatorState, dispatcher: Dispatcher) -> None:
        """Bind to a state; the HTTP session for webhooks is made on first use."""
        self.state = state
        self.dispatcher = dispatcher
        self._session: aiohttp.ClientSession | None = None

    async def close(self, _app: web.Application) -> None:
        """Close the webhook session when the application stops."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an event and deliver it with the state's signing key.

        `timestamp` (Unix seconds) signs the first attempt at that time instead of now:
        with `resign_retries` false, every attempt then carries it, as retries of a
        delivery first attempted that long ago would.
        """
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
        timestamp = body.get("timestamp")
        result = await sender.deliver(
            body["url"],
            event,
            timestamp=int(timestamp) if timestamp is not None else None,
        )
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
        """Serve one price (confidence 1) for a location from now on.

        With `step`, each slot costs `step` more than the one before it within a UTC
        day (slot n of the day: value + n * step), so every slot boundary changes the
        price.
        """
        value = float(body["value"])
        step = float(body.get("step", 0))
        slot_minutes = int(body.get("slot_minutes", 30))

        def price(start: datetime) -> tuple[float, float]:
            index = (start.hour * 60 + start.minute) // slot_minutes
            return round(value + index * step, 6), 1.0

        self.state.set_price_pattern(
            body["location_id"],
            price,
            slot_minutes=slot_minutes,
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

    async def webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        """Deliver Connect's events to a URL from now on (`url: null` stops it)."""
        if body.get("url") is None:
            self.state.webhook = None
            return _OK
        schedule = body.get("schedule")
        self.state.webhook = WebhookConfig(
            url=str(body["url"]),
            sign=bool(body.get("signed", True)),
            schedule=tuple(float(delay) for delay in schedule) if schedule else None,
            time_scale=float(body.get("time_scale", 1.0)),
            timeout=float(body["timeout"]) if body.get("timeout") else None,
            resign_retries=bool(body.get("resign_retries", True)),
        )
        return _OK

    async def deliveries(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Return what became of each delivery to the configured webhook."""
        await self.dispatcher.idle()
        return {"deliveries": list(self.state.deliveries)}

    async def connect_providers(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Seed the standard providers (DIRECT, library, by hand); return their ids."""
        return asdict(seed_connect_providers(self.state))

    async def connect_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add (or replace, by provider_id) a provider; see `_provider_from_json`."""
        return _provider_json(_provider_from_json(self.state, body))

    async def connect_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change Connect's switches; answer all of them."""
        connect = self.state.connect
        if "token_lifetime" in body:
            connect.token_lifetime = int(body["token_lifetime"])
        if "single_use" in body:
            connect.single_use = bool(body["single_use"])
        if "end_route" in body:
            if body["end_route"] not in END_ROUTES:
                raise ValueError(f"end_route is one of {', '.join(END_ROUTES)}")
            connect.end_route = body["end_route"]
        if "redirect_url_has_token" in body:
            connect.redirect_url_has_token = bool(body["redirect_url_has_token"])
        if "web_actions" in body:
            connect.web_actions = bool(body["web_actions"])
        if "error_route" in body:
            connect.error_route = bool(body["error_route"])
        if "later_pages" in body:
            # {"<Anode route>": {"route": …, "actions": […], "data": {…}}, …}
            connect.later_pages = {
                before: LaterPage(
                    route=str(page["route"]),
                    actions=tuple(page.get("actions", LATER_PAGE_ACTIONS)),
                    data=dict(page.get("data", {})),
                )
                for before, page in body["later_pages"].items()
            }
        return {
            "token_lifetime": connect.token_lifetime,
            "single_use": connect.single_use,
            "end_route": connect.end_route,
            "redirect_url_has_token": connect.redirect_url_has_token,
            "web_actions": connect.web_actions,
            "error_route": connect.error_route,
            "later_pages": {
                before: asdict(page) for before, page in connect.later_pages.items()
            },
        }

    async def connect_session(self, body: dict[str, Any]) -> dict[str, Any]:
        """Return where a connect token's session is (for assertions)."""
        token = self.state.connect.tokens[body["connect_token"]]
        return {
            "route": token.route,
            "history": list(token.history),
            "location_id": token.location_id,
            "complete_action": token.complete_action,
            "is_tariff_processed": token.is_tariff_processed,
            "ended": token.ended,
            "wrong_tariff_reported": token.wrong_tariff_reported,
            "expires_at": token.expires_at.isoformat(),
        }

    async def connect_finish(self, body: dict[str, Any]) -> dict[str, Any]:
        """Make a pending tariff available (or `outcome: FAILED`), as Flatpeak later does."""
        outcome = body.get("outcome", "CONNECTED")
        if outcome not in ("CONNECTED", "FAILED"):
            raise ValueError("outcome is CONNECTED or FAILED")
        reply = finish_pending(self.state, body["connect_token"], outcome)
        self.dispatcher.publish(reply.events)
        return {"events": reply.events}

    async def expire_connect_tokens(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Make every connect token expire now."""
        now = self.state.now()
        for token in self.state.connect.tokens.values():
            token.expires_at = now
        return _OK


def _provider_from_json(state: SimulatorState, body: dict[str, Any]) -> Provider:
    """Build a provider from a control request's JSON.

    The body is `{display_name, provider_id?, country_codes?, tariffs?, direct?}`. A tariff is `{name, id?, description?, structure_type?, cost?, hours?}` with hours
    as the conversation's `{valid_from, valid_to, cost}`; `direct` is `{username,
    password, outcome?, tariff_name?, structure_type?}`.
    """
    tariffs = [
        LibraryTariff(
            id=item.get("id") or state.new_id("trt"),
            name=item["name"],
            description=item.get("description", ""),
            structure_type=item.get("structure_type")
            or ("TIME_OF_DAY" if item.get("hours") else "FIXED"),
            cost=float(item.get("cost", 0.25)),
            periods=tuple(
                TodPeriod(
                    _minutes(hour["valid_from"]),
                    _minutes(hour["valid_to"]),
                    float(hour["cost"]),
                )
                for hour in item.get("hours", [])
            ),
        )
        for item in body.get("tariffs", [])
    ]
    direct = body.get("direct")
    return add_provider(
        state,
        body["display_name"],
        provider_id=body.get("provider_id"),
        country_codes=tuple(body.get("country_codes", ["GB"])),
        tariffs=tariffs,
        direct=DirectLogin(
            direct["username"],
            direct["password"],
            outcome=direct.get("outcome", "CONNECTED"),
            tariff_name=direct.get("tariff_name", "Agile Octopus"),
            structure_type=direct.get("structure_type", "TIME_OF_DAY"),
        )
        if direct
        else None,
    )


def _minutes(value: str) -> int:
    """Parse HH:MM[:SS] to minutes after midnight."""
    hours, minutes = value.split(":")[:2]
    return int(hours) * 60 + int(minutes)


def _provider_json(provider: Provider) -> dict[str, Any]:
    """Describe a provider as the control API answers it."""
    return {
        **provider.reference(),
        "country_codes": list(provider.country_codes),
        "tariffs": [
            {"id": tariff.id, "name": tariff.name} for tariff in provider.tariffs
        ],
        "direct": provider.direct is not None,
    }


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
    "webhook": "POST",
    "deliveries": "GET",
    "connect_providers": "POST",
    "connect_provider": "POST",
    "connect_settings": "POST",
    "connect_session": "POST",
    "connect_finish": "POST",
    "expire_connect_tokens": "POST",
}


def add_control_routes(
    app: web.Application, state: SimulatorState, dispatcher: Dispatcher
) -> None:
    """Register the control endpoints for a state on an application."""
    control = _Control(state, dispatcher)
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
