"""Repairs: fix a tariff problem here with Flatpeak Connect, or re-check after fixing it elsewhere.

Flatpeak's required-webhooks guide says to direct the customer to the tariff settings
page on `tariff.expired`, `tariff.fetch.failed` and `tariff.connection.upgrade`; for a
Home Assistant user this fix flow is that page (connect.md §6).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, override

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import probatio

from .connection import create_connect_client
from .const import CONF_CONNECT_API_URL, DOMAIN
from .errors import form_errors
from .tariff.callback import FlowKind
from .tariff.connect_flow import ConnectFlowMixin, ConnectOutcome, ConnectRequest
from .tariff.problems import Problem, problem_resolved

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .api.models import LocationStatus
    from .runtime import FlatpeakConfigEntry

_DATA_KEYS: Final = frozenset({"entry_id", "location_id", "problem"})


class TariffProblemRepairFlow(ConnectFlowMixin[RepairsFlowResult], RepairsFlow):
    """Fix a tariff problem with Connect, or confirm it was fixed; close the issue then."""

    connect_flow_kind = FlowKind.REPAIRS
    connect_login_intro = True

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
        self._issue_placeholders = dict(placeholders)

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Offer to fix it here with Connect, or to check after fixing it elsewhere."""
        return self.async_show_menu(
            step_id="init",
            menu_options=["connect", "confirm"],
            description_placeholders=self._placeholders_of_issue(),
        )

    def _placeholders_of_issue(self) -> dict[str, str]:
        return dict(self._issue_placeholders)

    @override
    def _connect_extra_placeholders(self) -> dict[str, str]:
        """Show the issue's own placeholders (the location's name) on every step."""
        return self._placeholders_of_issue()

    def _loaded_entry(self) -> FlatpeakConfigEntry | None:
        entry: FlatpeakConfigEntry | None = self.hass.config_entries.async_get_entry(
            self._entry_id
        )
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        return entry

    async def async_step_connect(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Open the location's tariff in Flatpeak Connect."""
        entry = self._loaded_entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        runtime = entry.runtime_data
        active = runtime.problems.active(self._location_id, self._problem)
        return await self.async_connect_begin(
            runtime.client,
            create_connect_client(self.hass, entry.data.get(CONF_CONNECT_API_URL)),
            ConnectRequest(
                location_id=self._location_id,
                tariff_id=active.tariff_id if active else None,
                # connect.md §1 `actions.edit_tariff`: an expired tariff is replaced,
                # so Connect opens at the provider choice rather than the summary.
                edit_tariff=self._problem is Problem.TARIFF_EXPIRED,
            ),
        )

    @override
    async def _async_connect_finished(
        self, outcome: ConnectOutcome
    ) -> RepairsFlowResult:
        """Connect saved (or not): read the status, as 'I fixed it elsewhere' does."""
        return await self.async_step_confirm({})

    @override
    async def _async_connect_auth_failed(self) -> RepairsFlowResult:
        """Ask for a new API key, as everywhere else a key is refused."""
        if (entry := self._loaded_entry()) is not None:
            entry.async_start_reauth(self.hass)
        return self.async_abort(reason="reauth_required")

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show what to do in Flatpeak; on submit, ask Flatpeak whether it is done."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entry = self._loaded_entry()
            if entry is None:
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
            description_placeholders=self._issue_placeholders,
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
