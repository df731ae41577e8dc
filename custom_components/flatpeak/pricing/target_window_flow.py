"""Target windows: config subentries that each choose a daily cheapest (or dearest) window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
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
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TimeSelector,
)
import probatio

from ..const import CONF_LOCATIONS
from .series import DIRECTION_OPTIONS, direction_from_option

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..api.models import TariffDirection
    from ..runtime import FlatpeakConfigEntry

SUBENTRY_TARGET_WINDOW: Final = "target_window"
# Subentry data (contract: field names users see in the form).
CONF_DURATION: Final = "duration"
CONF_PERIOD_START: Final = "period_start"
CONF_PERIOD_END: Final = "period_end"
CONF_CONTIGUOUS: Final = "contiguous"
CONF_DIRECTION: Final = "direction"
CONF_LOCATION_ID: Final = "location_id"

DAY: Final = timedelta(days=1)


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

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TargetWindowConfig:
        """Parse stored (or submitted) subentry data."""
        return cls(
            name=data[CONF_NAME],
            location_id=data[CONF_LOCATION_ID],
            duration=cv.time_period_dict(data[CONF_DURATION]),
            period_start=cv.time(data[CONF_PERIOD_START]),
            period_end=cv.time(data[CONF_PERIOD_END]),
            contiguous=data[CONF_CONTIGUOUS],
            direction=direction_from_option(data[CONF_DIRECTION]),
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
        probatio.Required(CONF_DURATION): DurationSelector(
            DurationSelectorConfig(enable_second=False)
        ),
        probatio.Required(CONF_PERIOD_START, default="20:00:00"): TimeSelector(),
        probatio.Required(CONF_PERIOD_END, default="07:00:00"): TimeSelector(),
        probatio.Required(CONF_CONTIGUOUS, default=True): BooleanSelector(),
        probatio.Required(CONF_DIRECTION, default=DIRECTION_OPTIONS[0]): SelectSelector(
            SelectSelectorConfig(
                options=list(DIRECTION_OPTIONS),
                translation_key=CONF_DIRECTION,
                mode=SelectSelectorMode.LIST,
            )
        ),
    }
    return probatio.Schema(fields)


def _errors(config: TargetWindowConfig) -> dict[str, str]:
    if config.duration <= timedelta(0):
        return {CONF_DURATION: "duration_not_positive"}
    if config.duration > config.period_length:
        return {CONF_DURATION: "duration_too_long"}
    return {}


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
            errors = _errors(TargetWindowConfig.from_data(data))
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
