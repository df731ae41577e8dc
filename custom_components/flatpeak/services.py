"""The `flatpeak.get_prices` action."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID, UnitOfEnergy
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.selector import ConfigEntrySelector
from homeassistant.util import dt as dt_util
import probatio

from .api.exceptions import (
    FlatpeakAuthenticationError,
    FlatpeakError,
    FlatpeakPricesUnavailableError,
)
from .api.models import TariffDirection
from .const import DOMAIN
from .prices import slots_as_dicts

if TYPE_CHECKING:
    from .runtime import FlatpeakConfigEntry

SERVICE_GET_PRICES: Final = "get_prices"
ATTR_LOCATION_ID: Final = "location_id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_DIRECTION: Final = "direction"
DEFAULT_WINDOW: Final = timedelta(hours=24)
# Flatpeak serves at most 90 days per request.
MAX_WINDOW: Final = timedelta(days=90)

GET_PRICES_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): ConfigEntrySelector(
            {"integration": DOMAIN}
        ),
        probatio.Optional(ATTR_LOCATION_ID): cv.string,
        probatio.Optional(ATTR_START): cv.datetime,
        probatio.Optional(ATTR_END): cv.datetime,
        probatio.Optional(ATTR_DIRECTION, default="import"): probatio.In(
            ["import", "export"]
        ),
    }
)


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> FlatpeakConfigEntry:
    entry: FlatpeakConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


def _location_id(entry: FlatpeakConfigEntry, requested: str | None) -> str:
    followed = entry.runtime_data.coordinators
    if requested is None:
        if len(followed) != 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="location_required",
                translation_placeholders={"locations": ", ".join(followed) or "-"},
            )
        return next(iter(followed))
    if requested not in followed:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="location_not_found",
            translation_placeholders={"location_id": requested},
        )
    return requested


def _aware(moment: datetime) -> datetime:
    return (
        moment
        if moment.tzinfo
        else moment.replace(tzinfo=dt_util.get_default_time_zone())
    )


async def _async_get_prices(call: ServiceCall) -> ServiceResponse:
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    location_id = _location_id(entry, call.data.get(ATTR_LOCATION_ID))
    start = _aware(call.data.get(ATTR_START) or dt_util.now())
    end = _aware(call.data.get(ATTR_END) or start + DEFAULT_WINDOW)
    if end <= start or end - start > MAX_WINDOW:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="invalid_window"
        )
    direction = TariffDirection(call.data[ATTR_DIRECTION].upper())
    coordinator = entry.runtime_data.coordinators[location_id]
    try:
        prices = await entry.runtime_data.client.get_prices(
            location_id, start=start, end=end, direction=direction
        )
    except FlatpeakPricesUnavailableError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="prices_unavailable",
            translation_placeholders={
                "code": err.code or "",
                "location_id": location_id,
            },
        ) from err
    except FlatpeakAuthenticationError as err:
        entry.async_start_reauth(call.hass)
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except FlatpeakError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
    zone = coordinator.zone
    return {
        "location_id": location_id,
        "currency": prices.currency_code,
        "unit": f"{prices.currency_code}/{UnitOfEnergy.KILO_WATT_HOUR}",
        "prices": slots_as_dicts(prices.slots, zone),
    }


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_PRICES,
        _async_get_prices,
        schema=GET_PRICES_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
