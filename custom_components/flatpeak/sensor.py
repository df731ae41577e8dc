"""Price and tariff sensors for each Flatpeak location."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfEnergy
from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .api.models import TariffDirection
from .entity import FlatpeakEntity
from .prices import local_day, slots_as_dicts
from .runtime import async_on_each_location

if TYPE_CHECKING:
    from collections.abc import Callable
    from zoneinfo import ZoneInfo

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import StateType

    from . import FlatpeakConfigEntry
    from .api.models import TariffSlotStatus
    from .coordinator import FlatpeakLocationCoordinator, LocationData
    from .prices import DayStatistics

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
    exists_fn: Callable[[LocationData], bool] = lambda _data: True


def _current(
    direction: TariffDirection,
) -> Callable[[LocationData, datetime, ZoneInfo], Value]:
    def value(data: LocationData, now: datetime, _zone: ZoneInfo) -> Value:
        series = data.series(direction)
        slot = series.slot_at(now) if series else None
        return slot.value if slot else None

    return value


def _current_attributes(
    direction: TariffDirection, *, compat: bool
) -> Callable[[LocationData, datetime, ZoneInfo], Attributes]:
    def attributes(data: LocationData, now: datetime, zone: ZoneInfo) -> Attributes:
        series = data.series(direction)
        if series is None:
            return {}
        slot = series.slot_at(now)
        today = local_day(now, zone)
        tomorrow = local_day(now, zone, 1)
        attrs: Attributes = {
            "valid_from": slot.valid_from.astimezone(zone) if slot else None,
            "valid_to": slot.valid_to.astimezone(zone) if slot else None,
            "confidence": slot.confidence if slot else None,
            "prices": slots_as_dicts(series.between(today[0], tomorrow[1]), zone),
        }
        if compat:
            # The shape Nord Pool-based energy tools read: 30-minute cells per local day.
            for name, (start, end) in (
                ("raw_today", today),
                ("raw_tomorrow", tomorrow),
            ):
                attrs[name] = [
                    {
                        "start": cell_start.astimezone(zone),
                        "end": cell_end.astimezone(zone),
                        "value": value,
                    }
                    for cell_start, cell_end, value in series.grid(start, end)
                ]
        return attrs

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


def _today_stat(
    pick: Callable[[DayStatistics], tuple[float, datetime, datetime]],
) -> tuple[
    Callable[[LocationData, datetime, ZoneInfo], Value],
    Callable[[LocationData, datetime, ZoneInfo], Attributes],
]:
    """Build value and attribute readers for one statistic (value, start, end) of today."""

    def picked(
        data: LocationData, now: datetime, zone: ZoneInfo
    ) -> tuple[float, datetime, datetime] | None:
        if data.import_series is None:
            return None
        today = data.import_series.statistics(*local_day(now, zone))
        return pick(today) if today is not None else None

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


_lowest = _today_stat(
    lambda s: (s.lowest.value, s.lowest.valid_from, s.lowest.valid_to)
)
_highest = _today_stat(
    lambda s: (s.highest.value, s.highest.valid_from, s.highest.valid_to)
)
_average = _today_stat(lambda s: (s.average, s.start, s.end))

SENSORS: tuple[FlatpeakSensorDescription, ...] = (
    FlatpeakSensorDescription(
        key="current_price",
        translation_key="current_price",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        is_price=True,
        value_fn=_current(TariffDirection.IMPORT),
        attributes_fn=_current_attributes(TariffDirection.IMPORT, compat=True),
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
        key="current_export_price",
        translation_key="current_export_price",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        is_price=True,
        value_fn=_current(TariffDirection.EXPORT),
        attributes_fn=_current_attributes(TariffDirection.EXPORT, compat=False),
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

    async_on_each_location(hass, entry, add_location)


class FlatpeakSensor(FlatpeakEntity, SensorEntity):
    """A price or tariff sensor of one location."""

    entity_description: FlatpeakSensorDescription
    # The series change every fetch and are large; the recorder keeps only the state.
    _unrecorded_attributes = frozenset({"prices", "raw_today", "raw_tomorrow"})

    @property
    @override
    def native_unit_of_measurement(self) -> str | None:
        """Price per kWh in the prices' currency; none while no currency is known.

        A bare "/kWh" would be recorded as the unit and later clash with the real one.
        """
        if not self.entity_description.is_price:
            return super().native_unit_of_measurement
        currency = self.coordinator.data.currency
        return f"{currency}/{UnitOfEnergy.KILO_WATT_HOUR}" if currency else None

    @property
    @override
    def available(self) -> bool:
        """Price sensors are unavailable when no price applies now."""
        if not super().available:
            return False
        if self.entity_description.is_price:
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
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(
            self.coordinator.data, dt_util.utcnow(), self.coordinator.zone
        )
