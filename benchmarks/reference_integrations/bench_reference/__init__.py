"""An equal-effects webhook: what a Flatpeak delivery causes, with nothing checked.

It reads the body with the integration's own reader, fires `flatpeak_event` with a
payload of the same keys and sizes, and writes the state of one event entity, as an
applied Flatpeak delivery does. It verifies no signature, validates nothing, keeps no
de-dup log and writes nothing to disk: the difference to Flatpeak's webhook is the cost
of those checks and of the guarantees.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.const import Platform
from homeassistant.helpers.discovery import async_load_platform

from custom_components.flatpeak.webhook import handler as flatpeak_webhook

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

    type Handler = Callable[[HomeAssistant, str, web.Request], Awaitable[web.Response]]

DOMAIN = "bench_reference"
WEBHOOK_ID = "bench-reference"
PROFILE_WEBHOOK_ID = "bench-profile"
# Stand-ins of the same length as a device id and a config entry id.
DEVICE_ID = "0" * 32
CONFIG_ENTRY_ID = "0" * 26


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the webhook and set up the event entity."""
    hass.data[DOMAIN] = {}
    hass.async_create_task(
        async_load_platform(hass, Platform.EVENT, DOMAIN, {}, config),
        eager_start=True,
    )

    async def handle(
        hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        # Looked up at each call, so that the profile's timing wrapper applies.
        body = await flatpeak_webhook.read_body(request)
        event: dict[str, Any] = json.loads(body or b"{}")
        data: dict[str, Any] = event["data"]
        hass.bus.async_fire(
            "flatpeak_event",
            {
                "event_id": event["id"],
                "type": event["type"],
                "location_id": data.get("location_id"),
                "tariff_id": data.get("tariff_id"),
                "account_id": data.get("account_id"),
                "live_mode": data.get("live_mode"),
                "time_created": event.get("time_created"),
                "data": dict(data),
                "device_id": DEVICE_ID,
                "config_entry_id": CONFIG_ENTRY_ID,
            },
        )
        hass.data[DOMAIN]["entity"].fire(event)
        return web.json_response({"message": "applied"})

    if os.environ.get("FLATPEAK_BENCH_PROFILE"):
        handle = _timed(handle)
    webhook.async_register(
        hass,
        DOMAIN,
        "Benchmark reference",
        WEBHOOK_ID,
        handle,
        allowed_methods=["POST"],
    )
    if os.environ.get("FLATPEAK_BENCH_PROFILE"):
        _register_profiler(hass)
    return True


def _timed(handler: Handler) -> Handler:
    """Time the whole reference handler (it never suspends: thread CPU is exact)."""
    from . import timing  # noqa: PLC0415 - only when profiling

    async def timed(
        hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        if not timing.active():
            return await handler(hass, webhook_id, request)
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return await handler(hass, webhook_id, request)
        finally:
            figures = timing.TIMES["equal-effects handler"]
            figures[0] += 1
            figures[1] += time.thread_time() - cpu
            figures[2] += time.perf_counter() - wall

    return timed


def _register_profiler(hass: HomeAssistant) -> None:
    """Time the steps of deliveries; the benchmark resets and reads the figures."""
    from . import timing  # noqa: PLC0415 - only when profiling

    async def handle(
        hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        command = await request.json()
        if command["action"] == "start":
            timing.install()
            return web.json_response({})
        return web.json_response(timing.read())

    webhook.async_register(
        hass,
        DOMAIN,
        "Benchmark profiler",
        PROFILE_WEBHOOK_ID,
        handle,
        allowed_methods=["POST"],
    )
