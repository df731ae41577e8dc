"""Price and tariff sensors for each Flatpeak location."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .api.models import TariffDirection
from .const import CONF_PRICE_RESOLUTION
from .entity import FlatpeakEntity
from .pricing.levels import LEVEL_OPTIONS, place_at, previous_slot
from .pricing.series import DEFAULT_RESOLUTION, day_series, local_day, price_unit

if TYPE_CHECKING:
    from collections.abc import Callable
    from zoneinfo import ZoneInfo

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import StateType

    from .api.models import TariffSlotStatus
    from .locations.coordinator import FlatpeakLocationCoordinator, LocationData
    from .pricing.levels import DayPlace
    from .pricing.series import DayStatistics, PriceSeries
    from .runtime import FlatpeakConfigEntry

# Coordinators fetch; entities only read their data.
PARALLEL_UPDATES = 0

type Value = StateType | datetime
type Attributes = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class FlatpeakSensorDescription(SensorEntityDescription):
    """How a sensor reads its state from a location's data at a given instant."""

    value_fn: Callable[[LocationData, datetime, ZoneInfo], Value]
    attributes_fn: Callable[[LocationData, datetime, ZoneInfo], Attributes] | None = (
        None
    )
    is_price: bool = False
    # Set on the current-price sensors: they carry the Nord Pool-shaped series.
    series_direction: TariffDirection | None = None
    exists_fn: Callable[[LocationData], bool] = lambda _data: True
    # Unavailable, as the price sensors are, while no price applies now.
    needs_value: bool = False


def _has_export_tariff(data: LocationData) -> bool:
    return data.status is not None and data.status.has_export_tariff


def _current(
    direction: TariffDirection,
) -> Callable[[LocationData, datetime, ZoneInfo], Value]:
    def value(data: LocationData, now: datetime, _zone: ZoneInfo) -> Value:
        series = data.series(direction)
        slot = series.slot_at(now) if series else None
        return slot.value if slot else None

    return value


def _current_attributes(
    direction: TariffDirection,
) -> Callable[[LocationData, datetime, ZoneInfo], Attributes]:
    def attributes(data: LocationData, now: datetime, zone: ZoneInfo) -> Attributes:
        series = data.series(direction)
        if series is None:
            return {}
        slot = series.slot_at(now)
        return {
            "valid_from": slot.valid_from.astimezone(zone) if slot else None,
            "valid_to": slot.valid_to.astimezone(zone) if slot else None,
            "confidence": slot.confidence if slot else None,
        }

    return attributes


def _next_value(data: LocationData, now: datetime, _zone: ZoneInfo) -> Value:
    slot = data.import_series.next_slot(now) if data.import_series else None
    return slot.value if slot else None


def _next_attributes(data: LocationData, now: datetime, zone: ZoneInfo) -> Attributes:
    slot = data.import_series.next_slot(now) if data.import_series else None
    if slot is None:
        return {}
    return {
        "valid_from": slot.valid_from.astimezone(zone),
        "valid_to": slot.valid_to.astimezone(zone),
        "confidence": slot.confidence,
    }


def _previous_value(data: LocationData, now: datetime, _zone: ZoneInfo) -> Value:
    slot = previous_slot(data.import_series, now) if data.import_series else None
    return slot.value if slot else None


def _previous_attributes(
    data: LocationData, now: datetime, zone: ZoneInfo
) -> Attributes:
    slot = previous_slot(data.import_series, now) if data.import_series else None
    if slot is None:
        return {}
    return {
        "valid_from": slot.valid_from.astimezone(zone),
        "valid_to": slot.valid_to.astimezone(zone),
        "confidence": slot.confidence,
    }


class _PlaceReaders(NamedTuple):
    """Readers of where the price now stands in its day, for one direction."""

    level: Callable[[LocationData, datetime, ZoneInfo], Value]
    rank: Callable[[LocationData, datetime, ZoneInfo], Value]
    level_attributes: Callable[[LocationData, datetime, ZoneInfo], Attributes]
    rank_attributes: Callable[[LocationData, datetime, ZoneInfo], Attributes]


def _day_place(direction: TariffDirection) -> _PlaceReaders:
    """Build level and rank readers for one direction.

    Export ranks from the dearest slot: the best one to export in.
    """

    def place(data: LocationData, now: datetime, zone: ZoneInfo) -> DayPlace | None:
        series = data.series(direction)
        if series is None:
            return None
        return place_at(
            series,
            now,
            local_day(now, zone),
            dearest_first=direction is TariffDirection.EXPORT,
        )

    def level(data: LocationData, now: datetime, zone: ZoneInfo) -> Value:
        found = place(data, now, zone)
        return found.level.value if found else None

    def rank(data: LocationData, now: datetime, zone: ZoneInfo) -> Value:
        found = place(data, now, zone)
        return found.rank if found else None

    def level_attributes(
        data: LocationData, now: datetime, zone: ZoneInfo
    ) -> Attributes:
        found = place(data, now, zone)
        return {"percentile": round(found.percentile, 4)} if found else {}

    def rank_attributes(
        data: LocationData, now: datetime, zone: ZoneInfo
    ) -> Attributes:
        found = place(data, now, zone)
        return {"slot_count": found.slot_count} if found else {}

    return _PlaceReaders(level, rank, level_attributes, rank_attributes)


_import_place = _day_place(TariffDirection.IMPORT)
_export_place = _day_place(TariffDirection.EXPORT)


def _day_stat(
    pick: Callable[[DayStatistics], tuple[float, datetime, datetime]],
    offset_days: int = 0,
) -> tuple[
    Callable[[LocationData, datetime, ZoneInfo], Value],
    Callable[[LocationData, datetime, ZoneInfo], Attributes],
]:
    """Build value and attribute readers for one statistic (value, start, end) of a day.

    Today is summarised over the part that is covered; tomorrow only once all of it is
    known, so that a half-published day is not taken for the day's lowest or average.
    """

    def picked(
        data: LocationData, now: datetime, zone: ZoneInfo
    ) -> tuple[float, datetime, datetime] | None:
        series = data.import_series
        if series is None:
            return None
        day = local_day(now, zone, offset_days)
        if offset_days and not series.covers_span(*day):
            return None
        stats = series.statistics(*day)
        return pick(stats) if stats is not None else None

    def value(data: LocationData, now: datetime, zone: ZoneInfo) -> Value:
        stat = picked(data, now, zone)
        return stat[0] if stat else None

    def attributes(data: LocationData, now: datetime, zone: ZoneInfo) -> Attributes:
        stat = picked(data, now, zone)
        if stat is None:
            return {}
        return {"start": stat[1].astimezone(zone), "end": stat[2].astimezone(zone)}

    return value, attributes


def _import_tariff(data: LocationData) -> TariffSlotStatus | None:
    return data.status.commodity_import if data.status else None


def _tariff_name(data: LocationData, _now: datetime, _zone: ZoneInfo) -> Value:
    slot = _import_tariff(data)
    return slot.tariff.display_name if slot and slot.tariff else None


def _tariff_attributes(
    data: LocationData, _now: datetime, _zone: ZoneInfo
) -> Attributes:
    slot = _import_tariff(data)
    if slot is None:
        return {}
    return {
        "provider": slot.provider.display_name if slot.provider else None,
        "connection_type": slot.connection_type,
        "structure": slot.tariff.structure_type if slot.tariff else None,
        "status": slot.status,
    }


def _contract_end(data: LocationData, _now: datetime, _zone: ZoneInfo) -> Value:
    slot = _import_tariff(data)
    return slot.tariff.contract_end_date if slot and slot.tariff else None


def _prices_updated(data: LocationData, _now: datetime, _zone: ZoneInfo) -> Value:
    return data.import_prices.last_updated if data.import_prices else None


def _lowest_of(stats: DayStatistics) -> tuple[float, datetime, datetime]:
    return stats.lowest.value, stats.lowest.valid_from, stats.lowest.valid_to


def _highest_of(stats: DayStatistics) -> tuple[float, datetime, datetime]:
    return stats.highest.value, stats.highest.valid_from, stats.highest.valid_to


def _average_of(stats: DayStatistics) -> tuple[float, datetime, datetime]:
    return stats.average, stats.start, stats.end


_lowest = _day_stat(_lowest_of)
_highest = _day_stat(_highest_of)
_average = _day_stat(_average_of)
_lowest_tomorrow = _day_stat(_lowest_of, 1)
_highest_tomorrow = _day_stat(_highest_of, 1)
_average_tomorrow = _day_stat(_average_of, 1)

SENSORS: tuple[FlatpeakSensorDescription, ...] = (
    FlatpeakSensorDescription(
        key="current_price",
        translation_key="current_price",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        is_price=True,
        value_fn=_current(TariffDirection.IMPORT),
        attributes_fn=_current_attributes(TariffDirection.IMPORT),
        series_direction=TariffDirection.IMPORT,
    ),
    FlatpeakSensorDescription(
        key="next_price",
        translation_key="next_price",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_next_value,
        attributes_fn=_next_attributes,
    ),
    FlatpeakSensorDescription(
        key="lowest_price_today",
        translation_key="lowest_price_today",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_lowest[0],
        attributes_fn=_lowest[1],
    ),
    FlatpeakSensorDescription(
        key="highest_price_today",
        translation_key="highest_price_today",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_highest[0],
        attributes_fn=_highest[1],
    ),
    FlatpeakSensorDescription(
        key="average_price_today",
        translation_key="average_price_today",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_average[0],
        attributes_fn=_average[1],
    ),
    FlatpeakSensorDescription(
        key="lowest_price_tomorrow",
        translation_key="lowest_price_tomorrow",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_lowest_tomorrow[0],
        attributes_fn=_lowest_tomorrow[1],
    ),
    FlatpeakSensorDescription(
        key="highest_price_tomorrow",
        translation_key="highest_price_tomorrow",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_highest_tomorrow[0],
        attributes_fn=_highest_tomorrow[1],
    ),
    FlatpeakSensorDescription(
        key="average_price_tomorrow",
        translation_key="average_price_tomorrow",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_average_tomorrow[0],
        attributes_fn=_average_tomorrow[1],
    ),
    FlatpeakSensorDescription(
        key="current_export_price",
        translation_key="current_export_price",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        is_price=True,
        value_fn=_current(TariffDirection.EXPORT),
        attributes_fn=_current_attributes(TariffDirection.EXPORT),
        series_direction=TariffDirection.EXPORT,
        exists_fn=lambda data: (
            data.status is not None and data.status.has_export_tariff
        ),
    ),
    FlatpeakSensorDescription(
        key="tariff",
        translation_key="tariff",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_tariff_name,
        attributes_fn=_tariff_attributes,
    ),
    FlatpeakSensorDescription(
        key="contract_end",
        translation_key="contract_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_contract_end,
    ),
    FlatpeakSensorDescription(
        key="prices_updated",
        translation_key="prices_updated",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_prices_updated,
    ),
    FlatpeakSensorDescription(
        key="previous_price",
        translation_key="previous_price",
        suggested_display_precision=4,
        is_price=True,
        value_fn=_previous_value,
        attributes_fn=_previous_attributes,
    ),
    FlatpeakSensorDescription(
        key="price_level",
        translation_key="price_level",
        device_class=SensorDeviceClass.ENUM,
        options=LEVEL_OPTIONS,
        needs_value=True,
        value_fn=_import_place.level,
        attributes_fn=_import_place.level_attributes,
    ),
    FlatpeakSensorDescription(
        key="price_rank",
        translation_key="price_rank",
        needs_value=True,
        value_fn=_import_place.rank,
        attributes_fn=_import_place.rank_attributes,
    ),
    FlatpeakSensorDescription(
        key="export_price_level",
        translation_key="export_price_level",
        device_class=SensorDeviceClass.ENUM,
        options=LEVEL_OPTIONS,
        needs_value=True,
        value_fn=_export_place.level,
        attributes_fn=_export_place.level_attributes,
        exists_fn=_has_export_tariff,
    ),
    FlatpeakSensorDescription(
        key="export_price_rank",
        translation_key="export_price_rank",
        needs_value=True,
        value_fn=_export_place.rank,
        attributes_fn=_export_place.rank_attributes,
        exists_fn=_has_export_tariff,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every location, including ones that appear later."""

    @callback
    def add_location(coordinator: FlatpeakLocationCoordinator) -> None:
        added: set[str] = set()

        @callback
        def add_new_sensors() -> None:
            new = [
                FlatpeakSensor(coordinator, description)
                for description in SENSORS
                if description.key not in added
                and description.exists_fn(coordinator.data)
            ]
            added.update(sensor.entity_description.key for sensor in new)
            if new:
                async_add_entities(new)

        add_new_sensors()
        # An export tariff connected later brings its sensor without a reload.
        entry.async_on_unload(coordinator.async_add_listener(add_new_sensors))

    entry.runtime_data.locations.async_on_each(add_location)


class FlatpeakSensor(FlatpeakEntity, SensorEntity):
    """A price or tariff sensor of one location."""

    entity_description: FlatpeakSensorDescription
    # The series change every fetch and are large; the recorder keeps only the state.
    _unrecorded_attributes = frozenset({"raw_today", "raw_tomorrow"})
    # The series last built: (series, local day start, minutes, attributes). States
    # written between fetches share these lists instead of holding copies.
    _series_cache: tuple[PriceSeries, datetime, int, Attributes] | None = None

    @property
    @override
    def native_unit_of_measurement(self) -> str | None:
        """Price per kWh in the prices' currency; none while no currency is known.

        A bare "/kWh" would be recorded as the unit and later clash with the real one.
        """
        if not self.entity_description.is_price:
            return super().native_unit_of_measurement
        currency = self.coordinator.data.currency
        return price_unit(currency)

    @property
    @override
    def available(self) -> bool:
        """Price sensors are unavailable when no price applies now."""
        if not super().available:
            return False
        if self.entity_description.is_price or self.entity_description.needs_value:
            return self.native_value is not None
        return True

    @property
    @override
    def native_value(self) -> Value:
        """Read the state for this very instant from the cached data."""
        return self.entity_description.value_fn(
            self.coordinator.data, dt_util.utcnow(), self.coordinator.zone
        )

    @property
    @override
    def extra_state_attributes(self) -> Attributes | None:
        """Read the attributes for this very instant from the cached data."""
        description = self.entity_description
        if description.attributes_fn is None:
            return None
        now = dt_util.utcnow()
        zone = self.coordinator.zone
        attributes = description.attributes_fn(self.coordinator.data, now, zone)
        if description.series_direction is not None:
            attributes |= self._day_series(description.series_direction, now, zone)
        return attributes

    def _day_series(
        self, direction: TariffDirection, now: datetime, zone: ZoneInfo
    ) -> Attributes:
        series = self.coordinator.data.series(direction)
        if series is None:
            return {"tomorrow_valid": False, "raw_today": [], "raw_tomorrow": []}
        minutes = int(
            self.coordinator.config_entry.options.get(
                CONF_PRICE_RESOLUTION, DEFAULT_RESOLUTION
            )
        )
        day_start = local_day(now, zone)[0]
        cached = self._series_cache
        if (
            cached is not None
            and cached[0] is series
            and cached[1] == day_start
            and cached[2] == minutes
        ):
            return cached[3]
        attributes = day_series(series, now, zone, minutes)
        self._series_cache = (series, day_start, minutes, attributes)
        return attributes
