"""Target windows: config subentries that each choose a daily cheapest (or dearest) window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum
import math
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.selector import (
    BooleanSelector,
    DurationSelector,
    DurationSelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TimeSelector,
)
import probatio

from ..api.models import TariffDirection
from ..const import CONF_LOCATIONS
from .series import DIRECTION_OPTIONS, direction_from_option
from .windows import DurationMode, Prefer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..runtime import FlatpeakConfigEntry

SUBENTRY_TARGET_WINDOW: Final = "target_window"
# Subentry data (contract: field names users see in the form).
CONF_DURATION: Final = "duration"
CONF_PERIOD_START: Final = "period_start"
CONF_PERIOD_END: Final = "period_end"
CONF_CONTIGUOUS: Final = "contiguous"
CONF_DIRECTION: Final = "direction"
CONF_LOCATION_ID: Final = "location_id"
CONF_MODE: Final = "mode"
CONF_LOOK_AHEAD: Final = "look_ahead"
CONF_PREFER: Final = "prefer"
CONF_MAX_PRICE: Final = "max_price"
CONF_DURATION_MODE: Final = "duration_mode"

DAY: Final = timedelta(days=1)
# A subentry made before the rolling mode has no look-ahead; the form offers this one.
DEFAULT_LOOK_AHEAD: Final = {"hours": 12, "minutes": 0}


class WindowMode(StrEnum):
    """How the span a window is chosen in is found."""

    # Once per daily local period (period_start to period_end).
    PERIOD = "period"
    # In the next `look_ahead` from now, chosen again as time passes until it starts.
    ROLLING = "rolling"


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetWindowConfig:
    """A target window's settings, read from its subentry."""

    name: str
    location_id: str
    duration: timedelta
    period_start: time
    period_end: time
    contiguous: bool
    direction: TariffDirection
    mode: WindowMode = WindowMode.PERIOD
    look_ahead: timedelta = timedelta(hours=12)
    prefer: Prefer = Prefer.EARLIEST
    max_price: float | None = None
    duration_mode: DurationMode = DurationMode.EXACT

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TargetWindowConfig:
        """Parse stored (or submitted) subentry data.

        Subentries made before the options were added lack their keys: each is read
        with its default (the earlier behaviour), so they load unchanged and need no
        migration.
        """
        max_price = data.get(CONF_MAX_PRICE)
        return cls(
            name=data[CONF_NAME],
            location_id=data[CONF_LOCATION_ID],
            duration=cv.time_period_dict(data[CONF_DURATION]),
            period_start=cv.time(data[CONF_PERIOD_START]),
            period_end=cv.time(data[CONF_PERIOD_END]),
            contiguous=data[CONF_CONTIGUOUS],
            direction=direction_from_option(data[CONF_DIRECTION]),
            mode=WindowMode(data.get(CONF_MODE, WindowMode.PERIOD)),
            look_ahead=cv.time_period_dict(
                data.get(CONF_LOOK_AHEAD, DEFAULT_LOOK_AHEAD)
            ),
            prefer=Prefer(data.get(CONF_PREFER, Prefer.EARLIEST)),
            max_price=None if max_price is None else float(max_price),
            duration_mode=DurationMode(
                data.get(CONF_DURATION_MODE, DurationMode.EXACT)
            ),
        )

    @property
    def span_length(self) -> timedelta:
        """Return the nominal length of the span a window is chosen in."""
        return (
            self.look_ahead if self.mode is WindowMode.ROLLING else self.period_length
        )

    @property
    def period_length(self) -> timedelta:
        """Return the period's nominal length (a summer-time night differs by an hour)."""
        length = _since_midnight(self.period_end) - _since_midnight(self.period_start)
        return length if length > timedelta(0) else length + DAY


def _since_midnight(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)


def _locations(entry: FlatpeakConfigEntry) -> dict[str, str]:
    """Return the followed locations by id, with the names people know them by."""
    if entry.state is ConfigEntryState.LOADED:
        return {
            location_id: coordinator.data.location.display_name
            for location_id, coordinator in entry.runtime_data.locations.items()
        }
    return {location_id: location_id for location_id in entry.options[CONF_LOCATIONS]}


def _select(options: type[StrEnum], translation_key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[option.value for option in options],
            translation_key=translation_key,
            mode=SelectSelectorMode.LIST,
        )
    )


def _schema(locations: Mapping[str, str]) -> probatio.Schema:
    fields: dict[probatio.Marker, Any] = {probatio.Required(CONF_NAME): TextSelector()}
    if len(locations) > 1:
        first = min(locations, key=lambda location_id: locations[location_id])
        fields[probatio.Required(CONF_LOCATION_ID, default=first)] = SelectSelector(
            SelectSelectorConfig(
                options=[
                    SelectOptionDict(value=location_id, label=name)
                    for location_id, name in locations.items()
                ],
                mode=SelectSelectorMode.DROPDOWN,
                sort=True,
            )
        )
    fields |= {
        probatio.Required(CONF_MODE, default=WindowMode.PERIOD.value): _select(
            WindowMode, CONF_MODE
        ),
        probatio.Required(CONF_DURATION): DurationSelector(
            DurationSelectorConfig(enable_second=False)
        ),
        probatio.Required(
            CONF_DURATION_MODE, default=DurationMode.EXACT.value
        ): _select(DurationMode, CONF_DURATION_MODE),
        probatio.Required(CONF_PERIOD_START, default="20:00:00"): TimeSelector(),
        probatio.Required(CONF_PERIOD_END, default="07:00:00"): TimeSelector(),
        probatio.Required(
            CONF_LOOK_AHEAD, default=DEFAULT_LOOK_AHEAD
        ): DurationSelector(DurationSelectorConfig(enable_second=False)),
        probatio.Required(CONF_CONTIGUOUS, default=True): BooleanSelector(),
        probatio.Required(CONF_DIRECTION, default=DIRECTION_OPTIONS[0]): SelectSelector(
            SelectSelectorConfig(
                options=list(DIRECTION_OPTIONS),
                translation_key=CONF_DIRECTION,
                mode=SelectSelectorMode.LIST,
            )
        ),
        probatio.Required(CONF_PREFER, default=Prefer.EARLIEST.value): _select(
            Prefer, CONF_PREFER
        ),
        # Optional and without a default: left empty, there is no cap.
        probatio.Optional(CONF_MAX_PRICE): NumberSelector(
            NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
        ),
    }
    return probatio.Schema(fields)


def validation_errors(config: TargetWindowConfig) -> dict[str, str]:
    """Return the form's errors by field; the update action refuses the same ones."""
    cap = config.max_price
    checks = [
        (config.duration <= timedelta(0), CONF_DURATION, "duration_not_positive"),
        (
            config.mode is WindowMode.ROLLING and config.look_ahead <= timedelta(0),
            CONF_LOOK_AHEAD,
            "look_ahead_not_positive",
        ),
        (config.duration > config.span_length, CONF_DURATION, "duration_too_long"),
        (
            cap is not None and not math.isfinite(cap),
            CONF_MAX_PRICE,
            "max_price_not_finite",
        ),
        # A cap on the price makes no sense when looking for the dearest time to sell.
        (
            cap is not None and config.direction is TariffDirection.EXPORT,
            CONF_MAX_PRICE,
            "max_price_import_only",
        ),
        # Without a cap, nothing says how far beyond the minimum the window may grow.
        (
            config.duration_mode is DurationMode.MINIMUM and cap is None,
            CONF_DURATION_MODE,
            "minimum_needs_max_price",
        ),
    ]
    return next(({field: key} for failed, field, key in checks if failed), {})


class TargetWindowFlow(ConfigSubentryFlow):
    """Add or change a target window from the entry's page."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the window's name, length, daily period and kind."""
        return await self._async_step("user", user_input, None)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a target window; its sensor is set up again with the new settings."""
        return await self._async_step(
            "reconfigure", user_input, self._get_reconfigure_subentry()
        )

    async def _async_step(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        subentry: ConfigSubentry | None,
    ) -> SubentryFlowResult:
        entry: FlatpeakConfigEntry = self._get_entry()
        locations = _locations(entry)
        if not locations:
            return self.async_abort(reason="no_locations")
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_LOCATION_ID: next(iter(locations))} | user_input
            data[CONF_NAME] = data[CONF_NAME].strip()
            errors = validation_errors(TargetWindowConfig.from_data(data))
            if not data[CONF_NAME]:
                errors[CONF_NAME] = "name_required"
            if not errors:
                if subentry is None:
                    return self.async_create_entry(title=data[CONF_NAME], data=data)
                return self.async_update_reload_and_abort(
                    entry, subentry, title=data[CONF_NAME], data=data
                )
        suggested = user_input or (dict(subentry.data) if subentry else None)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                _schema(locations), suggested
            ),
            errors=errors,
        )
