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

from .entity import FlatpeakEntity
from .pricing.target_window_sensor import async_setup_target_windows
from .tariff.problems import ActiveProblem, Problem, ProblemTracker

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .locations.coordinator import FlatpeakLocationCoordinator
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
