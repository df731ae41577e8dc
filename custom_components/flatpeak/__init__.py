"""The Flatpeak integration: tariff prices and events from Flatpeak."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)

from .api.signature import SignatureVerifier
from .connection import create_client
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CLOUDHOOK_URL,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from .entity import device_location_id
from .locations.followed import FollowedLocations
from .locations.snapshot import PriceSnapshots
from .runtime import FlatpeakConfigEntry, FlatpeakRuntimeData
from .services import async_setup_services
from .tariff.callback import connect_callbacks
from .tariff.problems import ProblemTracker
from .webhook.applier import EventApplier
from .webhook.catch_up import CatchUp
from .webhook.confirmation import EventConfirmer
from .webhook.event_log import EventLog
from .webhook.handler import async_start_receiving, jwks_fetcher
from .webhook.url import async_delete_cloudhook

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

__all__ = ["FlatpeakConfigEntry"]

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.SENSOR,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions and the Connect callback view once."""
    async_setup_services(hass)
    connect_callbacks(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Set up a Flatpeak account: one coordinator and device per followed location."""
    data = entry.data
    client = create_client(
        hass, data[CONF_ACCOUNT_ID], data[CONF_API_KEY], data.get(CONF_API_URL)
    )
    locations = FollowedLocations(hass, entry, client)
    problems = ProblemTracker(hass, entry.entry_id, locations.display_name)
    event_log = EventLog(hass, entry.entry_id)
    # Registered first: a set-up that fails after loading still releases the journal.
    entry.async_on_unload(event_log.async_close)
    await asyncio.gather(problems.async_load(), event_log.async_load())
    entry.async_on_unload(problems.async_close)
    await locations.async_start(problems)
    problems.async_sync_repairs()
    applier = EventApplier(
        hass,
        entry,
        account=(client.account_id, client.live_mode),
        event_log=event_log,
        problems=problems,
        locations=locations,
    )
    entry.runtime_data = FlatpeakRuntimeData(
        client=client,
        locations=locations,
        problems=problems,
        event_log=event_log,
        verifier=SignatureVerifier(jwks_fetcher(client)),
        confirmer=EventConfirmer(client),
        applier=applier,
        catch_up=CatchUp(
            hass, entry, client=client, event_log=event_log, applier=applier
        ),
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_start_receiving(hass, entry)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Unload platforms; coordinators and listeners go with `async_on_unload`."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Delete the entry's cloudhook and stored state when it is removed."""
    if entry.data.get(CONF_CLOUDHOOK_URL) and "cloud" in hass.config.components:
        await async_delete_cloudhook(hass, entry.data[CONF_WEBHOOK_ID])
    await ProblemTracker(hass, entry.entry_id, str).async_remove()
    await EventLog(hass, entry.entry_id).async_remove()
    await PriceSnapshots(hass, entry.entry_id).async_remove()
    for issue_id in [
        issue_id
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and (issue.data or {}).get("entry_id") == entry.entry_id
    ]:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow removing a location's device only when the entry no longer follows it."""
    # A target window's device is removed by deleting its subentry.
    location_id = device_location_id(device)
    if location_id is None or location_id in entry.runtime_data.locations:
        return False
    # A location set aside after a 404: deleting its device is the user removing it.
    entry.runtime_data.locations.async_stop_following(location_id)
    return True
