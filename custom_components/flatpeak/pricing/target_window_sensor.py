"""Target-window binary sensors: on during the slots chosen for each daily period.

The window of a period is chosen once the prices from now to the period's end are all
known, chosen again when the prices change only while it has not started, and kept once it
has: an appliance that was switched on is not switched off by a late price update.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, override

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntryChange,
    ConfigSubentry,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.restore_state import (
    ExtraStoredData,
    RestoredExtraData,
    RestoreEntity,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from ..const import LOGGER
from ..entity import service_device_info
from ..locations.coordinator import FlatpeakLocationCoordinator, LocationData
from .target_window_flow import SUBENTRY_TARGET_WINDOW, TargetWindowConfig
from .windows import (
    ChosenSlot,
    DurationTooLongError,
    NotCoveredError,
    Window,
    chosen_slots_as_dicts,
    daily_period,
    find_window,
)

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from ..runtime import FlatpeakConfigEntry


@callback
def async_setup_target_windows(
    hass: HomeAssistant,
    entry: FlatpeakConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor per target-window subentry, including ones added while loaded."""
    added: set[str] = set()

    @callback
    def add(subentry: ConfigSubentry) -> None:
        if (
            subentry.subentry_type != SUBENTRY_TARGET_WINDOW
            or subentry.subentry_id in added
        ):
            return
        config = TargetWindowConfig.from_data(subentry.data)
        coordinator = entry.runtime_data.locations.get(config.location_id)
        if coordinator is None:
            LOGGER.warning(
                "Target window %s is for location %s, which is not followed",
                subentry.title,
                config.location_id,
            )
            return
        added.add(subentry.subentry_id)
        async_add_entities(
            [TargetWindowSensor(coordinator, subentry, config)],
            config_subentry_id=subentry.subentry_id,
        )

    @callback
    def add_all(*_: Any) -> None:
        for subentry in list(entry.subentries.values()):
            add(subentry)
        # A deleted subentry's sensor goes with it; a new one with its id may come.
        added.intersection_update(entry.subentries)

    @callback
    def entry_changed(change: ConfigEntryChange, changed: FlatpeakConfigEntry) -> None:
        # Adding a subentry changes the entry without reloading it.
        if change is ConfigEntryChange.UPDATED and changed.entry_id == entry.entry_id:
            add_all()

    entry.runtime_data.locations.async_on_each(add_all)
    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, entry_changed)
    )


class TargetWindowSensor(
    CoordinatorEntity[FlatpeakLocationCoordinator], BinarySensorEntity, RestoreEntity
):
    """On during the chosen slots of the current (or next) daily period."""

    _attr_has_entity_name = True
    # Named by its device: "<location> <window name>".
    _attr_name = None
    _attr_translation_key = "target_window"
    _unrecorded_attributes = frozenset({"slots"})

    def __init__(
        self,
        coordinator: FlatpeakLocationCoordinator,
        subentry: ConfigSubentry,
        config: TargetWindowConfig,
    ) -> None:
        """Describe the window; nothing is chosen until it is added."""
        super().__init__(coordinator)
        self._config = config
        self._settings = dict(subentry.data)
        self._attr_unique_id = subentry.subentry_id
        # A device of its own: a device belongs to one subentry, and the location's
        # device must not go when a target window is deleted.
        self._attr_device_info = service_device_info(
            subentry.subentry_id,
            f"{coordinator.data.location.display_name} {subentry.title}",
            model="Target window",
        )
        self._period: tuple[datetime, datetime] | None = None
        self._window: Window | None = None
        self._chosen_from: LocationData | None = None
        self._unsub_timer: CALLBACK_TYPE | None = None

    @override
    async def async_added_to_hass(self) -> None:
        """Take up the window chosen before a restart, then follow prices and time."""
        await super().async_added_to_hass()
        if (stored := await self.async_get_last_extra_data()) is not None:
            self._restore(stored.as_dict())
        self.async_on_remove(self._cancel_timer)
        self._plan()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._plan()
        super()._handle_coordinator_update()

    @callback
    def _on_timer(self, _now: datetime) -> None:
        self._unsub_timer = None
        self._plan()
        self.async_write_ha_state()

    @callback
    def _cancel_timer(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    @callback
    def _plan(self) -> None:
        """Move to the current period, (re)choose its window if allowed, set the timer."""
        now = dt_util.utcnow()
        config = self._config
        if self._period is None or self._period[1] <= now:
            self._period = daily_period(
                now, self.coordinator.zone, config.period_start, config.period_end
            )
            self._window = self._chosen_from = None
        period = self._period
        data = self.coordinator.data
        started = self._window is not None and self._window.start <= now
        if not started and (self._window is None or data is not self._chosen_from):
            self._choose(data, period, now)
        self._schedule(period, now)

    def _choose(
        self, data: LocationData, period: tuple[datetime, datetime], now: datetime
    ) -> None:
        series = data.series(self._config.direction)
        if series is None:
            return
        start, end = period
        try:
            self._window = find_window(
                series.slots,
                duration=self._config.duration,
                earliest_start=max(start, now),
                latest_end=end,
                contiguous=self._config.contiguous,
                direction=self._config.direction,
            )
        except NotCoveredError:
            # Not all of the period's prices are known yet: keep what was chosen, if any.
            return
        except DurationTooLongError:
            # Too little of the period is left (set up late, or a short summer-time night).
            self._window = None
        self._chosen_from = data

    def _schedule(self, period: tuple[datetime, datetime], now: datetime) -> None:
        self._cancel_timer()
        changes = [period[1]]
        if self._window is not None:
            changes += [
                moment for run in self._window.runs() for moment in run if moment > now
            ]
        self._unsub_timer = async_track_point_in_utc_time(
            self.hass, self._on_timer, min(changes)
        )

    @property
    @override
    def available(self) -> bool:
        """A chosen window stands through API outages."""
        return super().available or self._window is not None

    @property
    @override
    def is_on(self) -> bool:
        """Whether now falls inside one of the chosen slots."""
        return self._window is not None and self._window.contains(dt_util.utcnow())

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """The run of slots going on now, else the next one; the whole window's slots."""
        zone = self.coordinator.zone
        window = self._window
        now = dt_util.utcnow()
        run = (
            next((run for run in window.runs() if run[1] > now), None)
            if window
            else None
        )
        return {
            "next_start": run[0].astimezone(zone).isoformat() if run else None,
            "next_end": run[1].astimezone(zone).isoformat() if run else None,
            "average_price": window.average_price if window else None,
            "slots": chosen_slots_as_dicts(window, zone) if window else [],
        }

    @property
    @override
    def extra_restore_state_data(self) -> ExtraStoredData:
        """Keep the period and its window, and the settings they were chosen with."""
        window = self._window
        return RestoredExtraData(
            {
                "settings": self._settings,
                "period": [moment.isoformat() for moment in self._period]
                if self._period
                else None,
                "average_price": window.average_price if window else None,
                "slots": [
                    [slot.start.isoformat(), slot.end.isoformat(), slot.price]
                    for slot in window.slots
                ]
                if window
                else None,
            }
        )

    def _restore(self, stored: dict[str, Any]) -> None:
        """Take up a stored window chosen with the same settings for a running period."""
        try:
            if stored.get("settings") != self._settings or not stored.get("period"):
                return
            start, end = (datetime.fromisoformat(value) for value in stored["period"])
            if end <= dt_util.utcnow():
                return
            self._period = (start, end)
            if stored.get("slots"):
                self._window = Window(
                    tuple(
                        ChosenSlot(
                            datetime.fromisoformat(slot_start),
                            datetime.fromisoformat(slot_end),
                            float(price),
                        )
                        for slot_start, slot_end, price in stored["slots"]
                    ),
                    float(stored["average_price"]),
                )
        except KeyError, TypeError, ValueError:
            LOGGER.debug(
                "Ignoring an unreadable stored target window for %s", self.name
            )
            self._period = self._window = None
