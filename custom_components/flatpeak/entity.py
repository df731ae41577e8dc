"""Base entity: one device per Flatpeak location."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, FLATPEAK_DASHBOARD_URL
from .coordinator import FlatpeakLocationCoordinator

if TYPE_CHECKING:
    from homeassistant.helpers.entity import EntityDescription


def location_device_info(coordinator: FlatpeakLocationCoordinator) -> DeviceInfo:
    """Describe the device that stands for a location."""
    location = coordinator.data.location
    return DeviceInfo(
        identifiers={(DOMAIN, coordinator.location_id)},
        name=location.display_name,
        manufacturer="Flatpeak",
        model="Location",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=FLATPEAK_DASHBOARD_URL,
    )


class FlatpeakEntity(CoordinatorEntity[FlatpeakLocationCoordinator]):
    """An entity of one Flatpeak location."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: FlatpeakLocationCoordinator,
        description: EntityDescription,
    ) -> None:
        """Name the entity by its key and attach it to the location's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.location_id}_{description.key}"
        self._attr_device_info = location_device_info(coordinator)
