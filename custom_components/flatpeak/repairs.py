"""Repairs: the user fixes a tariff problem in Flatpeak, then the status is re-checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import probatio

from .const import DOMAIN
from .errors import form_errors
from .tariff.problems import Problem, problem_resolved

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.components.repairs import RepairsFlowResult
    from homeassistant.core import HomeAssistant

    from .api.models import LocationStatus
    from .runtime import FlatpeakConfigEntry

_DATA_KEYS: Final = frozenset({"entry_id", "location_id", "problem"})


class TariffProblemRepairFlow(RepairsFlow):
    """Confirm that a tariff problem was fixed in Flatpeak; close the issue if it was."""

    def __init__(
        self,
        entry_id: str,
        location_id: str,
        problem: Problem,
        placeholders: Mapping[str, str],
    ) -> None:
        """Remember what the issue is about; its texts are kept if it goes meanwhile."""
        self._entry_id = entry_id
        self._location_id = location_id
        self._problem = problem
        self._placeholders = dict(placeholders)

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Start with the instructions."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show what to do in Flatpeak; on submit, ask Flatpeak whether it is done."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entry: FlatpeakConfigEntry | None = (
                self.hass.config_entries.async_get_entry(self._entry_id)
            )
            if entry is None or entry.state is not ConfigEntryState.LOADED:
                return self.async_abort(reason="entry_not_loaded")
            runtime = entry.runtime_data
            active = runtime.problems.active(self._location_id, self._problem)
            if active is None:
                # Cleared meanwhile (e.g. by a location.update): nothing left to check.
                return self.async_create_entry(data={})
            status: LocationStatus | None = None
            with form_errors(errors):
                status = await runtime.client.get_location_status(self._location_id)
            if status is not None:
                # Read just now, after the user saw the issue: no `since` guard needed.
                if problem_resolved(self._problem, active, status, dt_util.utcnow()):
                    runtime.problems.async_clear(self._location_id, self._problem)
                    # The tariff sensors should show the fixed tariff now, too.
                    if coordinator := runtime.locations.get(self._location_id):
                        await coordinator.async_request_refresh()
                    return self.async_create_entry(data={})
                errors["base"] = "still_present"
        return self.async_show_form(
            step_id="confirm",
            data_schema=probatio.Schema({}),
            errors=errors,
            description_placeholders=self._placeholders,
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Create the fix flow of a tariff problem issue raised by the problem tracker."""
    if data is None or not data.keys() >= _DATA_KEYS:
        msg = f"Flatpeak issue {issue_id} lacks the data to check it"
        raise ValueError(msg)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    return TariffProblemRepairFlow(
        entry_id=str(data["entry_id"]),
        location_id=str(data["location_id"]),
        problem=Problem(str(data["problem"])),
        placeholders=(issue.translation_placeholders or {}) if issue else {},
    )
