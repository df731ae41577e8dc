"""Base entity: one device per Flatpeak location."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, FLATPEAK_DASHBOARD_URL, LOCATION_ID_PREFIX
from .locations.coordinator import FlatpeakLocationCoordinator

if TYPE_CHECKING:
    from homeassistant.helpers.device_registry import DeviceEntry
    from homeassistant.helpers.entity import EntityDescription


def service_device_info(
    identifier: str, name: str, *, model: str, configuration_url: str | None = None
) -> DeviceInfo:
    """Describe one of the integration's service devices."""
    return DeviceInfo(
        identifiers={(DOMAIN, identifier)},
        name=name,
        manufacturer="Flatpeak",
        model=model,
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=configuration_url,
    )


def location_device_info(coordinator: FlatpeakLocationCoordinator) -> DeviceInfo:
    """Describe the device that stands for a location."""
    return service_device_info(
        coordinator.location_id,
        coordinator.data.location.display_name,
        model="Location",
        configuration_url=FLATPEAK_DASHBOARD_URL,
    )


def device_location_id(device: DeviceEntry) -> str | None:
    """Return the location a device of ours stands for; None for any other device.

    Location devices carry `(flatpeak, location_id)`, and Flatpeak's location ids start
    with `loc_`; target windows' devices belong to their subentry.
    """
    if device.config_subentry_id is not None:
        return None
    return next(
        (
            identifier
            for domain, identifier in device.identifiers
            if domain == DOMAIN and identifier.startswith(LOCATION_ID_PREFIX)
        ),
        None,
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
