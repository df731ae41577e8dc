"""The per-location event entity that fires on each of the location's Flatpeak events."""

from __future__ import annotations

from typing import TYPE_CHECKING, override

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .entity import FlatpeakEntity
from .webhook.applier import (
    LOCATION_EVENT_TYPES,
    entity_event_type,
    location_event_signal,
)

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .api.models import Event
    from .locations.coordinator import FlatpeakLocationCoordinator
    from .runtime import FlatpeakConfigEntry

# Events are pushed; nothing is polled.
PARALLEL_UPDATES = 0

TARIFF_EVENT = EventEntityDescription(
    key="tariff_event",
    translation_key="tariff_event",
    event_types=[entity_event_type(event_type) for event_type in LOCATION_EVENT_TYPES],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each location's event entity, including locations that appear later."""

    @callback
    def add_location(coordinator: FlatpeakLocationCoordinator) -> None:
        async_add_entities([FlatpeakEventEntity(coordinator, TARIFF_EVENT)])

    entry.runtime_data.locations.async_on_each(add_location)


class FlatpeakEventEntity(FlatpeakEntity, EventEntity):
    """Fires with the Flatpeak event's type (dots as underscores) and its ids."""

    @property
    @override
    def available(self) -> bool:
        """Events arrive by webhook whether or not the API is reachable."""
        return True

    @override
    async def async_added_to_hass(self) -> None:
        """Listen for this location's events."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                location_event_signal(
                    self.coordinator.config_entry.entry_id, self.coordinator.location_id
                ),
                self._handle_event,
            )
        )

    @callback
    def _handle_event(self, event: Event) -> None:
        event_type = entity_event_type(event.type)
        if event_type not in self.event_types:
            return
        self._trigger_event(
            event_type,
            {
                "event_id": event.id,
                "tariff_id": event.tariff_id,
                "time_created": (
                    event.time_created.isoformat() if event.time_created else None
                ),
            },
        )
        self.async_write_ha_state()
