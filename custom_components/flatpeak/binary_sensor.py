"""Tariff problem sensors: on from Flatpeak's events until the status shows them fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .api.models import TariffDirection
from .entity import FlatpeakEntity
from .pricing.levels import CHEAP_LEVELS, EXPENSIVE_LEVELS, place_at
from .pricing.series import local_day
from .pricing.target_window_sensor import async_setup_target_windows
from .tariff.problems import ActiveProblem, Problem, ProblemTracker

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .locations.coordinator import FlatpeakLocationCoordinator, LocationData
    from .pricing.levels import PriceLevel
    from .runtime import FlatpeakConfigEntry

# State comes from the problem tracker, not from API calls.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FlatpeakProblemDescription(BinarySensorEntityDescription):
    """A binary sensor that is on while a tariff problem is active."""

    problem: Problem


PROBLEM_SENSORS: tuple[FlatpeakProblemDescription, ...] = tuple(
    FlatpeakProblemDescription(
        key=problem, translation_key=problem, device_class=device_class, problem=problem
    )
    for problem, device_class in (
        (Problem.TARIFF_EXPIRED, BinarySensorDeviceClass.PROBLEM),
        (Problem.TARIFF_FETCH_FAILED, BinarySensorDeviceClass.PROBLEM),
        # Not a fault: a better connection is on offer.
        (Problem.TARIFF_UPGRADE_AVAILABLE, BinarySensorDeviceClass.UPDATE),
        (Problem.TARIFF_EXPIRING, BinarySensorDeviceClass.PROBLEM),
    )
)


@dataclass(frozen=True, kw_only=True)
class FlatpeakPriceBinaryDescription(BinarySensorEntityDescription):
    """A binary sensor read from a location's prices at a given instant."""

    # None: unknown now (no price applies), shown as unavailable.
    is_on_fn: Callable[[LocationData, datetime, ZoneInfo], bool | None]
    exists_fn: Callable[[LocationData], bool] = lambda _data: True


def _level_in(
    direction: TariffDirection, levels: frozenset[PriceLevel]
) -> Callable[[LocationData, datetime, ZoneInfo], bool | None]:
    def is_on(data: LocationData, now: datetime, zone: ZoneInfo) -> bool | None:
        series = data.series(direction)
        place = place_at(series, now, local_day(now, zone)) if series else None
        return place.level in levels if place else None

    return is_on


def _tomorrow_known(data: LocationData, now: datetime, zone: ZoneInfo) -> bool:
    # The very test behind the current price's `tomorrow_valid` attribute.
    series = data.import_series
    return series is not None and series.covers_span(*local_day(now, zone, 1))


PRICE_SENSORS: tuple[FlatpeakPriceBinaryDescription, ...] = (
    FlatpeakPriceBinaryDescription(
        key="cheap_now",
        translation_key="cheap_now",
        is_on_fn=_level_in(TariffDirection.IMPORT, CHEAP_LEVELS),
    ),
    FlatpeakPriceBinaryDescription(
        key="tomorrow_prices_known",
        translation_key="tomorrow_prices_known",
        is_on_fn=_tomorrow_known,
    ),
    FlatpeakPriceBinaryDescription(
        key="export_price_high_now",
        translation_key="export_price_high_now",
        is_on_fn=_level_in(TariffDirection.EXPORT, EXPENSIVE_LEVELS),
        exists_fn=lambda data: (
            data.status is not None and data.status.has_export_tariff
        ),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the problem sensors of every location and the target-window sensors."""
    problems = entry.runtime_data.problems

    @callback
    def add_location(coordinator: FlatpeakLocationCoordinator) -> None:
        async_add_entities(
            FlatpeakProblemSensor(coordinator, description, problems)
            for description in PROBLEM_SENSORS
        )
        added: set[str] = set()

        @callback
        def add_price_sensors() -> None:
            new = [
                FlatpeakPriceBinarySensor(coordinator, description)
                for description in PRICE_SENSORS
                if description.key not in added
                and description.exists_fn(coordinator.data)
            ]
            added.update(sensor.entity_description.key for sensor in new)
            if new:
                async_add_entities(new)

        add_price_sensors()
        # An export tariff connected later brings its sensor without a reload.
        entry.async_on_unload(coordinator.async_add_listener(add_price_sensors))

    entry.runtime_data.locations.async_on_each(add_location)
    async_setup_target_windows(hass, entry, async_add_entities)


class FlatpeakProblemSensor(FlatpeakEntity, BinarySensorEntity):
    """On while Flatpeak reports a tariff problem for the location."""

    entity_description: FlatpeakProblemDescription

    def __init__(
        self,
        coordinator: FlatpeakLocationCoordinator,
        description: FlatpeakProblemDescription,
        problems: ProblemTracker,
    ) -> None:
        """Show one problem of one location, as the entry's problem tracker knows it."""
        super().__init__(coordinator, description)
        self._problems = problems

    @property
    @override
    def available(self) -> bool:
        """Known from events and the stored state, even while the API is unreachable."""
        return True

    @property
    @override
    def is_on(self) -> bool | None:
        """Whether the problem is active; unknown without a status to tell it is not.

        A problem raised by an event is on whatever the status; but a location whose
        status Flatpeak does not give cannot be said to be free of it.
        """
        if self._active is not None:
            return True
        data = self.coordinator.data
        if data is None or data.status is None:
            return None
        return False

    @property
    def _active(self) -> ActiveProblem | None:
        return self._problems.active(
            self.coordinator.location_id, self.entity_description.problem
        )

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say since when, and which event raised it."""
        active = self._active
        return active.as_dict() if active else None

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the problem tracker as well as the coordinator."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._problems.async_add_listener(
                self.coordinator.location_id,
                self.entity_description.problem,
                self.async_write_ha_state,
            )
        )


class FlatpeakPriceBinarySensor(FlatpeakEntity, BinarySensorEntity):
    """On or off from the location's cached prices; changes at slot boundaries."""

    entity_description: FlatpeakPriceBinaryDescription

    @property
    def _value(self) -> bool | None:
        return self.entity_description.is_on_fn(
            self.coordinator.data, dt_util.utcnow(), self.coordinator.zone
        )

    @property
    @override
    def available(self) -> bool:
        """Unavailable while no price applies now, as the price sensors are."""
        return super().available and self._value is not None

    @property
    @override
    def is_on(self) -> bool | None:
        """Read the state for this very instant from the cached data."""
        return self._value
