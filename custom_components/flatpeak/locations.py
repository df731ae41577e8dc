"""Following locations that appear or disappear while an entry is loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import CONF_LOCATIONS, DOMAIN, LOGGER
from .coordinator import FlatpeakLocationCoordinator
from .runtime import async_announce_location

if TYPE_CHECKING:
    from .runtime import FlatpeakConfigEntry


async def async_add_location(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, location_id: str
) -> None:
    """Start following a new location: fetch it, then add its device and entities."""
    runtime = entry.runtime_data
    if location_id in runtime.coordinators:
        return
    coordinator = FlatpeakLocationCoordinator(hass, entry, runtime.client, location_id)
    await coordinator.async_refresh()
    if not coordinator.last_update_success or location_id in runtime.coordinators:
        LOGGER.warning(
            "Could not add Flatpeak location %s now; it is added at the next reload",
            location_id,
        )
        await coordinator.async_shutdown()
        return
    entry.async_on_unload(coordinator.async_shutdown)
    LOGGER.info("Following new Flatpeak location %s", location_id)
    async_announce_location(hass, entry, coordinator)


@callback
def async_remove_location(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, location_id: str
) -> None:
    """Stop following a deleted location and remove its device."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinators.pop(location_id, None)
    if coordinator is not None:
        entry.async_create_background_task(
            hass, coordinator.async_shutdown(), f"{DOMAIN} stop {location_id}"
        )
    registry = dr.async_get(hass)
    if device := registry.async_get_device_by_identifier(
        (DOMAIN, location_id), entry.entry_id
    ):
        registry.async_remove_device(device.id)
    runtime.problems.async_forget_location(location_id)
    selected = entry.options.get(CONF_LOCATIONS, [])
    if location_id in selected:
        hass.config_entries.async_update_entry(
            entry,
            options={
                **entry.options,
                CONF_LOCATIONS: [loc for loc in selected if loc != location_id],
            },
        )
    LOGGER.info("Flatpeak location %s was deleted; its device is removed", location_id)
