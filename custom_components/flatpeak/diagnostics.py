"""Diagnostics: what the integration knows, without secrets or personal data."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data

from .const import CONF_ACCOUNT_ID, CONF_API_KEY, CONF_CLOUDHOOK_URL, CONF_WEBHOOK_ID

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .api.models import Prices
    from .runtime import FlatpeakConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_ACCOUNT_ID,
    CONF_WEBHOOK_ID,
    CONF_CLOUDHOOK_URL,
    # Personal data of the household: where it is and who it is to Flatpeak.
    "postal_address",
    "customer_id",
    # A connect token opens its Connect session to whoever holds it (connect.md §2).
    "connect_token",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: FlatpeakConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings and each location's last data."""
    locations: dict[str, Any] = {}
    for location_id, coordinator in entry.runtime_data.locations.items():
        data = coordinator.data
        locations[location_id] = {
            "last_update_success": coordinator.last_update_success,
            "update_interval": str(coordinator.update_interval),
            "location": asdict(data.location),
            "status": asdict(data.status) if data.status else None,
            "prices_unavailable": data.prices_unavailable,
            "import_prices": _prices_summary(data.import_prices),
            "export_prices": _prices_summary(data.export_prices),
        }
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "locations": locations,
            # What support asks first when an event seems lost or applied twice.
            "event_log": {
                "remembered_ids": len(entry.runtime_data.event_log),
                "last_event_id": entry.runtime_data.event_log.last_event_id,
                "floor_event_id": entry.runtime_data.event_log.floor_event_id,
            },
        },
        TO_REDACT,
    )


def _prices_summary(prices: Prices | None) -> dict[str, Any] | None:
    if prices is None:
        return None
    return {
        "currency_code": prices.currency_code,
        "tariff_direction": prices.tariff_direction,
        "last_updated": prices.last_updated,
        "next_update": prices.next_update,
        "slots": len(prices.slots),
        "first_slot": asdict(prices.slots[0]) if prices.slots else None,
        "last_slot": asdict(prices.slots[-1]) if prices.slots else None,
    }
