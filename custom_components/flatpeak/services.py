"""The `flatpeak.get_prices` and `flatpeak.find_cheapest_window` actions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, service
from homeassistant.helpers.selector import ConfigEntrySelector
from homeassistant.util import dt as dt_util
import probatio

from .api.exceptions import (
    FlatpeakAuthenticationError,
    FlatpeakError,
)
from .const import DOMAIN
from .errors import action_error
from .pricing.series import (
    DIRECTION_OPTIONS,
    direction_from_option,
    price_unit,
    slots_as_dicts,
)
from .pricing.windows import WindowError, find_window, window_as_dict

if TYPE_CHECKING:
    from .runtime import FlatpeakConfigEntry

SERVICE_GET_PRICES: Final = "get_prices"
SERVICE_FIND_CHEAPEST_WINDOW: Final = "find_cheapest_window"
ATTR_LOCATION_ID: Final = "location_id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_DIRECTION: Final = "direction"
ATTR_DURATION: Final = "duration"
ATTR_EARLIEST_START: Final = "earliest_start"
ATTR_LATEST_END: Final = "latest_end"
ATTR_CONTIGUOUS: Final = "contiguous"
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

FIND_CHEAPEST_WINDOW_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): ConfigEntrySelector(
            {"integration": DOMAIN}
        ),
        probatio.Optional(ATTR_LOCATION_ID): cv.string,
        probatio.Required(ATTR_DURATION): cv.positive_time_period,
        probatio.Optional(ATTR_EARLIEST_START): cv.datetime,
        probatio.Optional(ATTR_LATEST_END): cv.datetime,
        probatio.Optional(ATTR_CONTIGUOUS, default=True): cv.boolean,
        probatio.Optional(ATTR_DIRECTION, default="import"): probatio.In(
            list(DIRECTION_OPTIONS)
        ),
    }
)


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> FlatpeakConfigEntry:
    """Return the loaded entry an action names (Home Assistant's own refusals)."""
    entry: FlatpeakConfigEntry = service.async_get_config_entry(hass, DOMAIN, entry_id)
    return entry


def _location_id(entry: FlatpeakConfigEntry, requested: str | None) -> str:
    followed = entry.runtime_data.locations
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
    direction = direction_from_option(call.data[ATTR_DIRECTION])
    coordinator = entry.runtime_data.locations[location_id]
    try:
        prices = await entry.runtime_data.client.get_prices(
            location_id, start=start, end=end, direction=direction
        )
    except FlatpeakError as err:
        if isinstance(err, FlatpeakAuthenticationError):
            entry.async_start_reauth(call.hass)
        raise action_error(err, location_id) from err
    zone = coordinator.zone
    return {
        "location_id": location_id,
        "currency": prices.currency_code,
        "unit": price_unit(prices.currency_code),
        "prices": slots_as_dicts(prices.slots, zone),
    }


async def _async_find_cheapest_window(call: ServiceCall) -> ServiceResponse:
    """Search the prices already fetched: no API call, native slot lengths."""
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    location_id = _location_id(entry, call.data.get(ATTR_LOCATION_ID))
    coordinator = entry.runtime_data.locations[location_id]
    direction = direction_from_option(call.data[ATTR_DIRECTION])
    duration: timedelta = call.data[ATTR_DURATION]
    zone = coordinator.zone
    data = coordinator.data
    series = data.series(direction) if data else None
    slots = series.slots if series is not None else ()
    earliest = _aware(call.data.get(ATTR_EARLIEST_START) or dt_util.utcnow())
    latest_given = call.data.get(ATTR_LATEST_END)
    latest = _aware(latest_given) if latest_given else None

    def refuse(reason: str) -> ServiceValidationError:
        span_end = latest or earliest
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=reason,
            translation_placeholders={
                "location_id": location_id,
                "duration": str(duration),
                "start": earliest.astimezone(zone).isoformat(),
                "end": span_end.astimezone(zone).isoformat(),
                "known": (
                    f"{slots[0].valid_from.astimezone(zone).isoformat()} to "
                    f"{slots[-1].valid_to.astimezone(zone).isoformat()}"
                    if slots
                    else "-"
                ),
            },
        )

    if duration <= timedelta(0):
        raise refuse("duration_not_positive")
    if latest is None:
        # By default, up to the end of the prices already known.
        if not slots or slots[-1].valid_to <= earliest:
            raise refuse("window_not_covered")
        latest = slots[-1].valid_to
    elif latest <= earliest:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="invalid_window"
        )
    try:
        window = find_window(
            slots,
            duration=duration,
            earliest_start=earliest,
            latest_end=latest,
            contiguous=call.data[ATTR_CONTIGUOUS],
            direction=direction,
        )
    except WindowError as err:
        raise refuse(err.reason) from err
    currency = data.currency if data else None
    return {
        "location_id": location_id,
        "currency": currency,
        "unit": price_unit(currency),
        **window_as_dict(window, zone, _seconds(duration)),
    }


def _seconds(duration: timedelta) -> float | int:
    seconds = duration.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


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
    hass.services.async_register(
        DOMAIN,
        SERVICE_FIND_CHEAPEST_WINDOW,
        _async_find_cheapest_window,
        schema=FIND_CHEAPEST_WINDOW_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
