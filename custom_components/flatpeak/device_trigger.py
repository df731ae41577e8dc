"""Device triggers of a Flatpeak location: one per event type that concerns a location."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.helpers import device_registry as dr
import probatio

from .const import DOMAIN
from .entity import device_location_id
from .webhook.applier import EVENT_FLATPEAK, LOCATION_EVENT_TYPES, entity_event_type

if TYPE_CHECKING:
    from homeassistant.core import CALLBACK_TYPE, HomeAssistant
    from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
    from homeassistant.helpers.typing import ConfigType

# Trigger types are the event entity's types (`tariff_expired`); the bus event carries
# Flatpeak's own type (`tariff.expired`), so keep the way back.
FLATPEAK_TYPE_BY_TRIGGER_TYPE: Final = {
    entity_event_type(event_type): event_type for event_type in LOCATION_EVENT_TYPES
}

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {probatio.Required(CONF_TYPE): probatio.In(list(FLATPEAK_TYPE_BY_TRIGGER_TYPE))}
)


async def async_get_triggers(
    hass: HomeAssistant, device_id: str
) -> list[dict[str, Any]]:
    """List the triggers of a location device; other devices have none."""
    device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
    if device is None or device_location_id(device) is None:
        return []
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: trigger_type,
        }
        for trigger_type in FLATPEAK_TYPE_BY_TRIGGER_TYPE
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for the device's `flatpeak_event` of the trigger's type."""
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: "event",
            event_trigger.CONF_EVENT_TYPE: EVENT_FLATPEAK,
            CONF_EVENT_DATA: {
                CONF_DEVICE_ID: config[CONF_DEVICE_ID],
                CONF_TYPE: FLATPEAK_TYPE_BY_TRIGGER_TYPE[config[CONF_TYPE]],
            },
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
