"""A webhook that only fires a small bus event: the benchmark's lower bound."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from homeassistant.components import webhook

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

WEBHOOK_ID = "bench-noop"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the webhook."""

    async def handle(
        hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        body = await request.json()
        hass.bus.async_fire("bench_noop_event", {"event_id": body["id"]})
        return web.Response(status=200)

    webhook.async_register(
        hass, "bench_noop", "noop", WEBHOOK_ID, handle, allowed_methods=["POST"]
    )
    return True
