"""Runtime objects of a config entry and how platforms learn about its locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime  # noqa: TC003 - a dataclass field type
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import (
    async_dispatcher_connect,
    async_dispatcher_send,
)

from .api.client import DEFAULT_API_URL, FlatpeakClient
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable

    from .api.signature import SignatureVerifier
    from .applied_events import EventLog
    from .confirmation import EventConfirmer
    from .coordinator import FlatpeakLocationCoordinator
    from .dispatcher import EventDispatcher
    from .problems import ProblemTracker


@dataclass(slots=True, kw_only=True)
class FlatpeakRuntimeData:
    """Everything a loaded entry runs on."""

    client: FlatpeakClient
    coordinators: dict[str, FlatpeakLocationCoordinator] = field(default_factory=dict)
    problems: ProblemTracker
    event_log: EventLog
    verifier: SignatureVerifier
    confirmer: EventConfirmer
    dispatcher: EventDispatcher
    # When each location named by an event was last tried, and which are being added.
    location_add_attempts: dict[str, datetime] = field(default_factory=dict)
    locations_being_added: set[str] = field(default_factory=set)


type FlatpeakConfigEntry = ConfigEntry[FlatpeakRuntimeData]


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


def _location_added_signal(entry: FlatpeakConfigEntry) -> str:
    return f"{DOMAIN}_{entry.entry_id}_location_added"


@callback
def async_on_each_location(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    add: Callable[[FlatpeakLocationCoordinator], None],
) -> None:
    """Call `add` for every location now and for each one added while loaded."""
    for coordinator in entry.runtime_data.coordinators.values():
        add(coordinator)
    entry.async_on_unload(
        async_dispatcher_connect(hass, _location_added_signal(entry), add)
    )


@callback
def async_announce_location(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    coordinator: FlatpeakLocationCoordinator,
) -> None:
    """Tell the platforms that a location was added while the entry is loaded."""
    entry.runtime_data.coordinators[coordinator.location_id] = coordinator
    async_dispatcher_send(hass, _location_added_signal(entry), coordinator)
