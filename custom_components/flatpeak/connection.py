"""How the integration reaches Flatpeak: its clients on Home Assistant's HTTP session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api.client import DEFAULT_API_URL, FlatpeakClient
from .api.connect import DEFAULT_CONNECT_API_URL, ConnectClient

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant


def create_client(
    hass: HomeAssistant, account_id: str, api_key: str, api_url: str | None
) -> FlatpeakClient:
    """Build an API client on Home Assistant's shared HTTP session."""
    return FlatpeakClient(
        async_get_clientsession(hass),
        account_id,
        api_key,
        api_url=api_url or DEFAULT_API_URL,
    )


def create_connect_client(
    hass: HomeAssistant, connect_api_url: str | None
) -> ConnectClient:
    """Build a Flatpeak Connect client on Home Assistant's shared HTTP session."""
    return ConnectClient(
        async_get_clientsession(hass),
        connect_api_url=connect_api_url or DEFAULT_CONNECT_API_URL,
    )
