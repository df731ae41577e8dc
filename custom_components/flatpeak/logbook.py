"""Describe `flatpeak_event` in the logbook: "tariff expired at Home"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .webhook.applier import EVENT_FLATPEAK

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import Event, HomeAssistant

# Flatpeak's types read as `resource.verb`; the verb reads better in the past tense.
_PAST_TENSE: Final = {
    "create": "created",
    "delete": "deleted",
    "update": "updated",
    "complete": "completed",
}
# Where the rule above does not make a phrase of the type.
_PHRASES: Final = {
    "tariff.connection.upgrade": "tariff connection upgrade available",
}


def describe_type(event_type: str) -> str:
    """Return a Flatpeak type as words (`location.update` → `location updated`)."""
    if phrase := _PHRASES.get(event_type):
        return phrase
    parts = [part.replace("_", " ") for part in event_type.split(".") if part]
    if parts:
        parts[-1] = _PAST_TENSE.get(parts[-1], parts[-1])
    return " ".join(parts) or "event"


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe the integration's bus event."""

    @callback
    def async_describe_flatpeak_event(event: Event) -> dict[str, str]:
        data = event.data
        message = describe_type(str(data.get("type") or ""))
        if where := _place(hass, data.get(ATTR_DEVICE_ID), data.get("location_id")):
            message = f"{message} at {where}"
        return {LOGBOOK_ENTRY_NAME: "Flatpeak", LOGBOOK_ENTRY_MESSAGE: message}

    async_describe_event(DOMAIN, EVENT_FLATPEAK, async_describe_flatpeak_event)


def _place(hass: HomeAssistant, device_id: object, location_id: object) -> str | None:
    """Name the location by its device where it has one, else by its id."""
    if isinstance(device_id, str):
        device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
        if device and (name := device.name_by_user or device.name):
            return name
    return str(location_id) if location_id else None
