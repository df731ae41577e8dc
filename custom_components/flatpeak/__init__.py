"""The Flatpeak integration: tariff prices and events from Flatpeak."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .api.exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakAuthenticationError,
    FlatpeakError,
)
from .api.signature import SignatureVerifier
from .applied_events import EventLog
from .catch_up import async_catch_up, async_follow_cloud
from .confirmation import EventConfirmer
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CLOUDHOOK_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_WEBHOOK_ID,
    DEFAULT_FOLLOW_ALL_LOCATIONS,
    DOMAIN,
)
from .coordinator import (
    FlatpeakLocationCoordinator,
    async_report_account_disabled,
    location_missing_signal,
)
from .dispatcher import EventDispatcher
from .entity import device_location_id
from .locations import (
    async_drop_missing_location,
    async_sync_missing_location_issues,
    chosen_locations,
)
from .problems import ProblemTracker
from .runtime import (
    FlatpeakConfigEntry,
    FlatpeakRuntimeData,
    async_on_each_location,
    create_client,
)
from .services import async_setup_services
from .webhook_handler import async_register_webhook, jwks_fetcher
from .webhook_url import async_delete_cloudhook

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

    from .api.client import FlatpeakClient

__all__ = ["FlatpeakConfigEntry"]

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.SENSOR,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions once, whatever entries exist."""
    async_setup_services(hass)
    return True


async def _async_followed_locations(
    hass: HomeAssistant, client: FlatpeakClient, entry: FlatpeakConfigEntry
) -> list[str]:
    selected: list[str] = list(entry.options.get(CONF_LOCATIONS, []))
    if not entry.options.get(CONF_FOLLOW_ALL_LOCATIONS, DEFAULT_FOLLOW_ALL_LOCATIONS):
        return selected
    try:
        locations = await client.list_locations()
    except FlatpeakAuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except FlatpeakAccountDisabledError as err:
        # As for a location's first fetch: retrying cannot help, Repairs says why.
        async_report_account_disabled(hass, entry)
        raise ConfigEntryError(
            translation_domain=DOMAIN, translation_key="account_disabled"
        ) from err
    except FlatpeakError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
    return [location.id for location in locations]


async def async_setup_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Set up a Flatpeak account: one coordinator and device per followed location."""
    client = create_client(
        hass,
        entry.data[CONF_ACCOUNT_ID],
        entry.data[CONF_API_KEY],
        entry.data.get(CONF_API_URL),
    )
    coordinators = await _async_start_coordinators(
        hass, entry, client, await _async_followed_locations(hass, client, entry)
    )

    def location_name(location_id: str) -> str:
        coordinator = coordinators.get(location_id)
        return coordinator.data.location.display_name if coordinator else location_id

    problems = ProblemTracker(hass, entry.entry_id, location_name)
    event_log = EventLog(hass, entry.entry_id)
    # Registered first: a set-up that fails after loading still releases the journal.
    entry.async_on_unload(event_log.async_close)
    await asyncio.gather(problems.async_load(), event_log.async_load())
    entry.async_on_unload(problems.async_flush)
    entry.runtime_data = FlatpeakRuntimeData(
        client=client,
        coordinators=coordinators,
        problems=problems,
        event_log=event_log,
        verifier=SignatureVerifier(jwks_fetcher(client)),
        confirmer=EventConfirmer(client),
        dispatcher=EventDispatcher(
            hass,
            entry,
            account=(client.account_id, client.live_mode),
            event_log=event_log,
            problems=problems,
            coordinators=coordinators,
        ),
    )
    chosen = chosen_locations(entry)
    async_sync_missing_location_issues(hass, entry, chosen - set(coordinators))
    entry.async_on_unload(
        async_dispatcher_connect(
            hass,
            location_missing_signal(entry.entry_id),
            partial(async_drop_missing_location, hass, entry),
        )
    )
    async_on_each_location(hass, entry, partial(_reconcile_problems, entry))
    # Problems of locations no longer followed would never be reconciled again.
    for location_id in problems.locations():
        if location_id not in coordinators:
            problems.async_forget_location(location_id)
    problems.async_sync_repairs()
    # A chosen location that is missing keeps its device (and entities' settings) until
    # the user removes it from the options.
    _remove_stale_devices(hass, entry, set(coordinators) | chosen)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_register_webhook(hass, entry)
    async_follow_cloud(hass, entry)
    entry.async_create_background_task(
        hass, async_catch_up(hass, entry), f"{DOMAIN} catch up {entry.entry_id}"
    )
    return True


async def _async_start_coordinators(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    client: FlatpeakClient,
    location_ids: list[str],
) -> dict[str, FlatpeakLocationCoordinator]:
    """Fetch every location concurrently; fail set-up only for reasons worth a retry."""
    coordinators = {
        location_id: FlatpeakLocationCoordinator(hass, entry, client, location_id)
        for location_id in location_ids
    }
    # Every refresh is awaited before a failure is raised, so none is left running.
    results = await asyncio.gather(
        *(c.async_config_entry_first_refresh() for c in coordinators.values()),
        return_exceptions=True,
    )
    errors: list[BaseException] = []
    for coordinator, result in zip(list(coordinators.values()), results, strict=True):
        if coordinator.location_missing:
            # Deleted in Flatpeak while Home Assistant was down: nothing to retry for,
            # and no reason to keep the other locations down.
            await coordinator.async_shutdown()
            del coordinators[coordinator.location_id]
        elif isinstance(result, BaseException):
            errors.append(result)
    if errors:
        for coordinator in coordinators.values():
            await coordinator.async_shutdown()
        # Errors that a retry cannot fix win over those it can.
        raise next(
            (
                err
                for kind in (ConfigEntryAuthFailed, ConfigEntryError)
                for err in errors
                if isinstance(err, kind)
            ),
            errors[0],
        )
    return coordinators


@callback
def _reconcile_problems(
    entry: FlatpeakConfigEntry, coordinator: FlatpeakLocationCoordinator
) -> None:
    """Clear problems whenever a fresh status shows them gone."""

    @callback
    def reconcile() -> None:
        data = coordinator.data
        if data is not None and data.status is not None:
            entry.runtime_data.problems.async_reconcile(
                coordinator.location_id, data.status, data.fetched_at
            )

    reconcile()
    entry.async_on_unload(coordinator.async_add_listener(reconcile))


def _remove_stale_devices(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, followed: set[str]
) -> None:
    """Drop devices of locations the entry no longer follows."""
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        # Target windows' devices (no location) come and go with their subentries.
        location_id = device_location_id(device)
        if location_id is not None and location_id not in followed:
            registry.async_remove_device(device.id)


async def async_unload_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> bool:
    """Unload platforms; coordinators and listeners go with `async_on_unload`."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Delete the entry's cloudhook and stored state when it is removed."""
    if entry.data.get(CONF_CLOUDHOOK_URL) and "cloud" in hass.config.components:
        await async_delete_cloudhook(hass, entry.data[CONF_WEBHOOK_ID])
    await ProblemTracker(hass, entry.entry_id, str).async_remove()
    await EventLog(hass, entry.entry_id).async_remove()
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
    return (
        location_id is not None and location_id not in entry.runtime_data.coordinators
    )
