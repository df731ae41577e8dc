"""The reference's event entity, shaped like a Flatpeak location's event entity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from homeassistant.components.event import EventEntity
from homeassistant.core import callback

from custom_components.flatpeak.webhook.applier import (
    LOCATION_EVENT_TYPES,
    entity_event_type,
)

from . import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback
    from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the one entity."""
    entity = ReferenceEventEntity()
    hass.data[DOMAIN]["entity"] = entity
    async_add_entities([entity])


class ReferenceEventEntity(EventEntity):
    """Fires with the delivered type, the same attributes as Flatpeak's event entity."""

    _attr_name = "Benchmark reference tariff event"
    _attr_unique_id = "bench_reference_tariff_event"
    _attr_should_poll = False
    _attr_event_types: ClassVar[list[str]] = [
        entity_event_type(kind) for kind in LOCATION_EVENT_TYPES
    ]

    @callback
    def fire(self, event: dict[str, Any]) -> None:
        """Record one delivered event, unchecked."""
        data = event["data"]
        self._trigger_event(
            entity_event_type(event["type"]),
            {
                "event_id": event["id"],
                "tariff_id": data.get("tariff_id"),
                "time_created": event.get("time_created"),
            },
        )
        self.async_write_ha_state()
