"""Target-window binary sensors: on during the slots chosen for each daily period.

The window of a period is chosen once the prices from now to the period's end are all
known, chosen again when the prices change only while it has not started, and kept once it
has: an appliance that was switched on is not switched off by a late price update.

A rolling window is chosen in the next `look_ahead` from now instead, and chosen again at
each slot boundary and price update until it starts; once it is over, the next one is
chosen. `flatpeak.update_target_window` changes the settings for the current period or
for good; neither moves a window that has started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntryChange,
    ConfigSubentry,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.restore_state import (
    ExtraStoredData,
    RestoredExtraData,
    RestoreEntity,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from ..const import DOMAIN, LOGGER
from ..entity import service_device_info
from ..locations.coordinator import FlatpeakLocationCoordinator, LocationData
from .target_window_flow import (
    SUBENTRY_TARGET_WINDOW,
    TargetWindowConfig,
    WindowMode,
    validation_errors,
)
from .windows import (
    ChosenSlot,
    DurationTooLongError,
    NotCoveredError,
    NoWindowAtMaxPriceError,
    Window,
    chosen_slots_as_dicts,
    daily_period,
    duration_seconds,
    find_window,
)

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from ..api.models import PriceSlot
    from ..runtime import FlatpeakConfigEntry

# The `status` attribute (contract): why the sensor has the window it has, or none.
STATUS_CHOSEN: Final = "chosen"
STATUS_SHORTENED: Final = "shortened"
STATUS_NO_WINDOW_AT_MAX_PRICE: Final = "no_window_at_max_price"
STATUS_WAITING_FOR_PRICES: Final = "waiting_for_prices"
STATUS_TOO_LATE: Final = "too_late"
STATUS_NO_PRICES: Final = "no_prices"


@dataclass(frozen=True, slots=True)
class TemporaryChange:
    """Settings changed by the update action until `until` (the period's end)."""

    data: dict[str, Any]
    until: datetime


def _known_until(slots: tuple[PriceSlot, ...], moment: datetime) -> datetime:
    """Return how far the prices are known without a gap from `moment` on."""
    cursor = moment
    for slot in slots:
        if slot.valid_to <= cursor:
            continue
        if slot.valid_from > cursor:
            break
        cursor = slot.valid_to
    return cursor


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
        # The subentry's settings; a temporary change applies on top of them.
        self._settings = dict(subentry.data)
        self._change: TemporaryChange | None = None
        self._status = STATUS_WAITING_FOR_PRICES
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

    @property
    def _effective_settings(self) -> dict[str, Any]:
        """The settings windows are chosen with now: the subentry's, changed or not."""
        if self._change is None:
            return self._settings
        return self._settings | self._change.data

    def _set_change(self, change: TemporaryChange | None) -> None:
        self._change = change
        self._config = TargetWindowConfig.from_data(self._effective_settings)

    def _started(self, now: datetime) -> bool:
        """Whether the window in hand has started (and, rolling, not ended)."""
        window = self._window
        if window is None or window.start > now:
            return False
        return self._config.mode is WindowMode.PERIOD or window.end > now

    @callback
    def _plan(self) -> None:
        """Move to the current period, (re)choose its window if allowed, set the timer."""
        now = dt_util.utcnow()
        if self._change is not None and self._change.until <= now:
            # The period the change was made for is over: back to the stored settings.
            self._set_change(None)
        if self._config.mode is WindowMode.ROLLING:
            self._plan_rolling(now)
            return
        config = self._config
        if self._period is None or self._period[1] <= now:
            self._period = daily_period(
                now, self.coordinator.zone, config.period_start, config.period_end
            )
            self._window = self._chosen_from = None
            self._status = STATUS_WAITING_FOR_PRICES
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
            self._status = STATUS_NO_PRICES
            return
        start, end = period
        try:
            self._pick(series.slots, max(start, now), end)
        except NotCoveredError:
            # Not all of the period's prices are known yet: keep what was chosen, if any.
            return
        except DurationTooLongError:
            # Too little of the period is left (set up late, or a short summer-time night).
            self._window = None
            self._status = STATUS_TOO_LATE
        self._chosen_from = data

    def _pick(
        self, slots: tuple[PriceSlot, ...], earliest: datetime, latest: datetime
    ) -> None:
        """Choose the window of [earliest, latest) with the settings in force."""
        config = self._config
        try:
            self._window = find_window(
                slots,
                duration=config.duration,
                earliest_start=earliest,
                latest_end=latest,
                contiguous=config.contiguous,
                direction=config.direction,
                prefer=config.prefer,
                max_price=config.max_price,
                duration_mode=config.duration_mode,
            )
        except NoWindowAtMaxPriceError:
            self._window = None
            self._status = STATUS_NO_WINDOW_AT_MAX_PRICE
            return
        self._status = (
            STATUS_SHORTENED
            if self._window.duration < config.duration
            else STATUS_CHOSEN
        )

    def _plan_rolling(self, now: datetime) -> None:
        """Keep a started window; else choose in the look-ahead's known prices."""
        self._period = None
        if self._window is not None and self._window.end <= now:
            self._window = None
        if not self._started(now):
            self._choose_rolling(now)
        self._schedule_rolling(now)

    def _choose_rolling(self, now: datetime) -> None:
        series = self.coordinator.data.series(self._config.direction)
        if series is None:
            self._window = None
            self._status = STATUS_NO_PRICES
            return
        # Tolerant reading of "the next M hours": the known part of them. Day-ahead
        # prices come once a day, so insisting on all of it would leave a long
        # look-ahead without a window for hours every day; a window that has not
        # started is chosen again when more prices arrive.
        end = min(now + self._config.look_ahead, _known_until(series.slots, now))
        try:
            self._pick(series.slots, now, end)
        except DurationTooLongError, NotCoveredError:
            self._window = None
            self._status = STATUS_WAITING_FOR_PRICES

    def _schedule_rolling(self, now: datetime) -> None:
        """Wake at the window's edges and whenever a slot enters or leaves the span."""
        self._cancel_timer()
        changes: list[datetime] = []
        if self._window is not None:
            changes += [
                moment for run in self._window.runs() for moment in run if moment > now
            ]
        if self._change is not None:
            changes.append(self._change.until)
        series = self.coordinator.data.series(self._config.direction)
        if series is not None:
            look_ahead = self._config.look_ahead
            bounds = sorted(
                {
                    moment
                    for slot in series.slots
                    for moment in (slot.valid_from, slot.valid_to)
                }
            )
            # The next boundary ends the span's first slot; the next one past the
            # horizon brings a new slot into the span.
            changes += [moment for moment in bounds if moment > now][:1]
            changes += [
                moment - look_ahead for moment in bounds if moment > now + look_ahead
            ][:1]
        if changes:
            self._unsub_timer = async_track_point_in_utc_time(
                self.hass, self._on_timer, min(changes)
            )

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

    async def async_update_window(
        self, changes: dict[str, Any], *, permanent: bool
    ) -> None:
        """Change the settings for the current period, or for good (the update action)."""
        if not changes:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="nothing_to_change"
            )
        now = dt_util.utcnow()
        base = self._settings if permanent else self._effective_settings
        settings = base | changes
        config = TargetWindowConfig.from_data(settings)
        if errors := validation_errors(config):
            (reason,) = errors.values()
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=reason,
                translation_placeholders=self._placeholders(config, now),
            )
        started = self._started(now)
        if permanent:
            entry = self.coordinator.config_entry
            subentry = entry.subentries[self._attr_unique_id or ""]
            self._settings = settings
            self._set_change(None)
            self.hass.config_entries.async_update_subentry(
                entry, subentry, data=settings
            )
        else:
            if started:
                # The window never moves once on, and the change would end with its period.
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="target_window_started",
                    translation_placeholders={"entity_id": self.entity_id},
                )
            merged = (self._change.data if self._change else {}) | changes
            self._set_change(TemporaryChange(merged, self._span(config, now)[1]))
        if not started:
            # Chosen afresh with the new settings; a started window stays as it is.
            self._period = self._window = self._chosen_from = None
        self._plan()
        self.async_write_ha_state()

    def _span(
        self, config: TargetWindowConfig, now: datetime
    ) -> tuple[datetime, datetime]:
        """Return the period (or look-ahead) that settings made now would apply to."""
        if config.mode is WindowMode.ROLLING:
            return now, now + config.look_ahead
        return daily_period(
            now, self.coordinator.zone, config.period_start, config.period_end
        )

    def _placeholders(
        self, config: TargetWindowConfig, now: datetime
    ) -> dict[str, str]:
        zone = self.coordinator.zone
        start, end = self._span(config, now)
        return {
            "entity_id": self.entity_id,
            "duration": str(config.duration),
            "start": start.astimezone(zone).isoformat(),
            "end": end.astimezone(zone).isoformat(),
        }

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
            "status": self._status,
            # Seconds, as the find_cheapest_window action answers: shorter than the
            # setting under a cap, longer with a minimum duration.
            "duration": duration_seconds(window.duration) if window else None,
            "changed_until": self._change.until.astimezone(zone).isoformat()
            if self._change
            else None,
        }

    @property
    @override
    def extra_restore_state_data(self) -> ExtraStoredData:
        """Keep the period and its window, and the settings they were chosen with."""
        window = self._window
        change = self._change
        return RestoredExtraData(
            {
                "settings": self._effective_settings,
                "base": self._settings,
                "change": {"data": change.data, "until": change.until.isoformat()}
                if change
                else None,
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
        now = dt_util.utcnow()
        try:
            change = stored.get("change")
            # A change made for settings since reconfigured does not apply to them.
            if change and stored.get("base") == self._settings:
                until = datetime.fromisoformat(change["until"])
                if until > now:
                    self._set_change(TemporaryChange(dict(change["data"]), until))
            if stored.get("settings") != self._effective_settings:
                return
            rolling = self._config.mode is WindowMode.ROLLING
            if not rolling:
                if not stored.get("period"):
                    return
                start, end = (
                    datetime.fromisoformat(value) for value in stored["period"]
                )
                if end <= now:
                    return
                self._period = (start, end)
            if stored.get("slots"):
                window = Window(
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
                if rolling and window.end <= now:
                    return
                self._window = window
                self._status = (
                    STATUS_SHORTENED
                    if window.duration < self._config.duration
                    else STATUS_CHOSEN
                )
        except KeyError, TypeError, ValueError, AttributeError:
            LOGGER.debug(
                "Ignoring an unreadable stored target window for %s", self.name
            )
            self._period = self._window = None
            self._set_change(None)
