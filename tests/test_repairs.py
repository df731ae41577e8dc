"""Tests for tariff problems from event to Repairs issue, restart, fix and removal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    async_fire_time_changed,
)

from custom_components.flatpeak.const import DOMAIN, EVENT_REFRESH_COOLDOWN
from custom_components.flatpeak.locations.followed import location_missing_issue_id
from custom_components.flatpeak.repairs import async_create_fix_flow
from custom_components.flatpeak.tariff.problems import SAVE_DELAY
from tests.helpers import HOME_ID, NOW, WEBHOOK_PATH, make_event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.helpers import FlatpeakDeliveries
    from tests.simulator import RunningSimulator, SimulatorState

PAST = datetime(2026, 11, 1, tzinfo=UTC)
SOON = datetime(2026, 12, 3, tzinfo=UTC)  # 8 days after NOW: within the horizon
FUTURE = datetime(2027, 6, 30, tzinfo=UTC)
TARIFF_ID = "trf_69665bd289b104fb993db999"  # the one make_event names


@dataclass(frozen=True, slots=True)
class Case:
    """A tariff problem: its event, sensor, issue, and statuses that show it or not."""

    event_type: str
    entity_id: str
    problem: str
    issue_key: str | None
    broken: dict[str, Any]
    fixed: dict[str, Any]


EXPIRED = Case(
    "tariff.expired",
    "binary_sensor.home_tariff_expired",
    "tariff_expired",
    "tariff_expired",
    broken={"contract_end_date": PAST},
    fixed={"contract_end_date": FUTURE},
)
FETCH_FAILED = Case(
    "tariff.fetch.failed",
    "binary_sensor.home_tariff_fetch_failed",
    "tariff_fetch_failed",
    "tariff_fetch_failed",
    broken={"status": "ERROR", "contract_end_date": FUTURE},
    fixed={"status": "CONNECTED", "contract_end_date": FUTURE},
)
UPGRADE = Case(
    "tariff.connection.upgrade",
    "binary_sensor.home_connection_upgrade_available",
    "tariff_upgrade_available",
    "tariff_connection_upgrade",
    broken={"connection_type": "LIBRARY", "contract_end_date": FUTURE},
    fixed={"connection_type": "DIRECT", "contract_end_date": FUTURE},
)
EXPIRING = Case(
    "tariff.expiring",
    "binary_sensor.home_tariff_expiring",
    "tariff_expiring",
    None,
    broken={"contract_end_date": SOON},
    fixed={"contract_end_date": FUTURE},
)
REPAIRABLE = [EXPIRED, FETCH_FAILED, UPGRADE]


def _issue_id(case: Case) -> str:
    return f"{case.issue_key}_{HOME_ID}"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def _flatpeak_issues(hass: HomeAssistant) -> list[str]:
    return [
        issue_id for (domain, issue_id) in ir.async_get(hass).issues if domain == DOMAIN
    ]


def _stored_problems(hass_storage: dict[str, Any], entry_id: str) -> dict[str, Any]:
    stored: dict[str, Any] = hass_storage[f"{DOMAIN}.{entry_id}.problems"]["data"]
    return stored["problems"]


async def _start(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> TestClient:
    """Set the entry up at NOW and return a client for webhook deliveries."""
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return await flatpeak_client()


async def _deliver(
    hass: HomeAssistant, client: TestClient, event_type: str, event_id: str
) -> None:
    """POST an event created now, then let what it started finish."""
    event = make_event(event_type, event_id=event_id)
    event["time_created"] = datetime.now(UTC).isoformat()
    response = await client.post(WEBHOOK_PATH, json=event)
    assert response.status == HTTPStatus.OK
    await hass.async_block_till_done(wait_background_tasks=True)


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _assert_active(hass: HomeAssistant, case: Case, *, active: bool) -> None:
    assert _state(hass, case.entity_id) == (STATE_ON if active else STATE_OFF)
    if case.issue_key is not None:
        issue = ir.async_get(hass).async_get_issue(DOMAIN, _issue_id(case))
        assert (issue is not None and issue.active) is active


@pytest.mark.parametrize("case", [*REPAIRABLE, EXPIRING], ids=lambda case: case.problem)
async def test_problem_survives_restarts_until_status_shows_it_fixed(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    hass_storage: dict[str, Any],
    case: Case,
) -> None:
    """On from the event, through a reload and a restart, off once Flatpeak says fixed."""
    # The event names the tariff the status shows (expiring compares the two).
    simulator_state.set_status(HOME_ID, tariff_id=TARIFF_ID, **case.broken)
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    _assert_active(hass, case, active=False)

    await _deliver(hass, client, case.event_type, "evt_1")
    _assert_active(hass, case, active=True)

    # Reload: the start-up status is read after the event and still shows the problem.
    await _advance(hass, freezer, timedelta(minutes=1))
    status_calls = simulator_state.calls["location_status"]
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert simulator_state.calls["location_status"] == status_calls + 1
    _assert_active(hass, case, active=True)

    # Restart: the problem comes back from storage only. Repairs issues that are not
    # persistent do not survive a restart, so the tracker must raise them again.
    await _advance(hass, freezer, timedelta(minutes=1))
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert set(_stored_problems(hass_storage, mock_config_entry.entry_id)[HOME_ID]) == {
        case.problem
    }
    if case.issue_key is not None:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(case))
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    _assert_active(hass, case, active=True)
    client = await flatpeak_client()

    # Fixed in Flatpeak: the location.update that follows makes the status be re-read.
    simulator_state.set_status(HOME_ID, **case.fixed)
    await _advance(hass, freezer, timedelta(minutes=1))
    assert _state(hass, case.entity_id) == STATE_ON  # nothing re-reads it by itself
    await _deliver(hass, client, "location.update", "evt_2")
    _assert_active(hass, case, active=False)
    assert _flatpeak_issues(hass) == []

    await _advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    assert _stored_problems(hass_storage, mock_config_entry.entry_id) == {}


async def test_location_update_burst_is_debounced(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """A fix arriving within the refresh cooldown is seen once the cooldown is over."""
    simulator_state.set_status(HOME_ID, **FETCH_FAILED.broken)
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, FETCH_FAILED.event_type, "evt_1")
    await _advance(hass, freezer, timedelta(seconds=1))

    status_calls = simulator_state.calls["location_status"]
    await _deliver(hass, client, "location.update", "evt_2")
    assert simulator_state.calls["location_status"] == status_calls + 1
    _assert_active(hass, FETCH_FAILED, active=True)

    simulator_state.set_status(HOME_ID, **FETCH_FAILED.fixed)
    await _deliver(hass, client, "location.update", "evt_3")
    assert simulator_state.calls["location_status"] == status_calls + 1
    _assert_active(hass, FETCH_FAILED, active=True)

    await _advance(hass, freezer, EVENT_REFRESH_COOLDOWN + timedelta(seconds=1))
    assert simulator_state.calls["location_status"] == status_calls + 2
    _assert_active(hass, FETCH_FAILED, active=False)


class RepairsApi:
    """Drive fix flows through the Repairs HTTP API, as the frontend does."""

    def __init__(
        self,
        hass: HomeAssistant,
        hass_client: ClientSessionGenerator,
        user: MockUser,
    ) -> None:
        """Connect on first use: the HTTP routes are fixed once a client connects."""
        self._hass = hass
        self._hass_client = hass_client
        self._user = user
        self._client: TestClient | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._client is None:
            # A token issued at the frozen time: the fixture's was issued in real time.
            refresh_token = await self._hass.auth.async_create_refresh_token(
                self._user, CLIENT_ID
            )
            self._client = await self._hass_client(
                self._hass.auth.async_create_access_token(refresh_token)
            )
        response = await self._client.post(path, json=body)
        assert response.status == HTTPStatus.OK
        result: dict[str, Any] = await response.json()
        return result

    async def start(
        self, issue_id: str, choose: str | None = "confirm"
    ) -> dict[str, Any]:
        """Open the fix flow of an issue and choose in its menu (None: stay there)."""
        result = await self._post(
            "/api/repairs/issues/fix", {"handler": DOMAIN, "issue_id": issue_id}
        )
        if choose is None or result["type"] != FlowResultType.MENU:
            return result
        assert result["menu_options"] == ["connect", "confirm"]
        return await self.submit(result["flow_id"], {"next_step_id": choose})

    async def submit(
        self, flow_id: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Submit a step (the confirm step without a body)."""
        return await self._post(f"/api/repairs/issues/fix/{flow_id}", body or {})


@pytest.fixture
async def repairs_api(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, hass_admin_user: MockUser
) -> RepairsApi:
    """The Repairs integration with an admin client for its HTTP API."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    return RepairsApi(hass, hass_client, hass_admin_user)


@pytest.mark.parametrize("case", REPAIRABLE, ids=lambda case: case.problem)
async def test_fix_flow(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    repairs_api: RepairsApi,
    case: Case,
) -> None:
    """Still broken, then Flatpeak down, then fixed: the issue closes only when fixed."""
    simulator_state.set_status(HOME_ID, **case.broken)
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, case.event_type, "evt_1")
    await _advance(hass, freezer, timedelta(minutes=5))

    result = await repairs_api.start(_issue_id(case))
    assert result["type"] == FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {
        "location": "Home",
        "dashboard_url": "https://dashboard.flatpeak.com",
    }
    flow_id = result["flow_id"]

    status_calls = simulator_state.calls["location_status"]
    result = await repairs_api.submit(flow_id)
    assert simulator_state.calls["location_status"] == status_calls + 1
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == {"base": "still_present"}
    _assert_active(hass, case, active=True)

    simulator_state.inject_fault("location_status", status=503, times=None)
    result = await repairs_api.submit(flow_id)
    assert result["type"] == FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    _assert_active(hass, case, active=True)

    simulator_state.clear_faults()
    simulator_state.set_status(HOME_ID, **case.fixed)
    result = await repairs_api.submit(flow_id)
    assert result["type"] == FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    _assert_active(hass, case, active=False)
    assert _flatpeak_issues(hass) == []
    assert mock_config_entry.runtime_data.problems.locations() == []


async def test_fix_flow_when_problem_cleared_meanwhile(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    repairs_api: RepairsApi,
) -> None:
    """A problem cleared while the form is open closes the flow without an API call."""
    simulator_state.set_status(HOME_ID, **EXPIRED.broken)
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, EXPIRED.event_type, "evt_1")
    result = await repairs_api.start(_issue_id(EXPIRED))

    simulator_state.set_status(HOME_ID, **EXPIRED.fixed)
    await _advance(hass, freezer, timedelta(minutes=1))
    await _deliver(hass, client, "location.update", "evt_2")
    _assert_active(hass, EXPIRED, active=False)

    status_calls = simulator_state.calls["location_status"]
    result = await repairs_api.submit(result["flow_id"])
    assert result["type"] == FlowResultType.CREATE_ENTRY
    assert simulator_state.calls["location_status"] == status_calls


async def test_fix_flow_when_entry_not_loaded(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    repairs_api: RepairsApi,
) -> None:
    """With the entry unloaded the status cannot be checked: abort, keep the issue."""
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, FETCH_FAILED.event_type, "evt_1")
    result = await repairs_api.start(_issue_id(FETCH_FAILED))

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    result = await repairs_api.submit(result["flow_id"])
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"
    assert _flatpeak_issues(hass) == [_issue_id(FETCH_FAILED)]


async def test_fix_flow_when_entry_removed(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """A flow whose entry is gone aborts (its issues went with the entry)."""
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, UPGRADE.event_type, "evt_1")
    issue = ir.async_get(hass).async_get_issue(DOMAIN, _issue_id(UPGRADE))
    assert issue is not None
    flow = await async_create_fix_flow(hass, issue.issue_id, issue.data)
    flow.hass = hass
    flow.handler = DOMAIN
    result = await flow.async_step_init()
    assert result["type"] == FlowResultType.MENU
    assert result["description_placeholders"] == issue.translation_placeholders
    result = await flow.async_step_confirm()
    assert result["type"] == FlowResultType.FORM
    assert result["description_placeholders"] == issue.translation_placeholders

    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    result = await flow.async_step_confirm({})
    assert result["type"] == FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"


async def test_fix_flow_needs_issue_data(hass: HomeAssistant) -> None:
    """An issue without the tracker's data cannot be checked."""
    with pytest.raises(ValueError, match="lacks the data"):
        await async_create_fix_flow(hass, "tariff_expired_loc_1", None)
    with pytest.raises(ValueError, match="lacks the data"):
        await async_create_fix_flow(
            hass, "tariff_expired_loc_1", {"entry_id": "x", "problem": "tariff_expired"}
        )
    # An issue that is gone already still gets a flow, just without placeholders.
    flow = await async_create_fix_flow(
        hass,
        "tariff_expired_loc_1",
        {"entry_id": "x", "location_id": "loc_1", "problem": "tariff_expired"},
    )
    flow.hass = hass
    flow.handler = DOMAIN
    result = await flow.async_step_confirm()
    assert result["description_placeholders"] == {}


async def test_entry_removal_removes_issues_and_stored_state(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    hass_storage: dict[str, Any],
) -> None:
    """Removing the entry deletes its Repairs issues and its stored problems."""
    simulator_state.set_status(HOME_ID, status="ERROR", connection_type="LIBRARY")
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    for number, case in enumerate(REPAIRABLE):
        await _deliver(hass, client, case.event_type, f"evt_{number}")
    # Another integration's issue is left alone.
    ir.async_create_issue(
        hass,
        "other",
        "keep_me",
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="keep_me",
    )
    await _advance(hass, freezer, timedelta(seconds=SAVE_DELAY + 1))
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.problems"
    assert len(hass_storage[key]["data"]["problems"][HOME_ID]) == 3
    assert sorted(_flatpeak_issues(hass)) == sorted(map(_issue_id, REPAIRABLE))

    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _flatpeak_issues(hass) == []
    assert key not in hass_storage
    assert ir.async_get(hass).async_get_issue("other", "keep_me") is not None


async def test_location_delete_forgets_its_problems(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """A location deleted in Flatpeak takes its problems and issues with it.

    Flatpeak's location.delete (read back, so confirmed) and then its 404: the
    location is removed, from the options too, and no issue is left behind.
    """
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, EXPIRED.event_type, "evt_1")
    await _deliver(hass, client, EXPIRING.event_type, "evt_2")
    assert _flatpeak_issues(hass) == [_issue_id(EXPIRED)]

    simulator_state.remove_location(HOME_ID)
    await _deliver(hass, client, "location.delete", "evt_3")
    assert _flatpeak_issues(hass) == []
    assert mock_config_entry.runtime_data.problems.locations() == []
    assert mock_config_entry.options["locations"] == []


async def test_location_answering_404_keeps_its_problems(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """A 404 alone sets the location aside: its problems wait for it to come back."""
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, EXPIRED.event_type, "evt_1")
    simulator_state.remove_location(HOME_ID)
    await mock_config_entry.runtime_data.locations[HOME_ID].async_refresh()
    await hass.async_block_till_done()
    assert sorted(_flatpeak_issues(hass)) == sorted(
        [_issue_id(EXPIRED), location_missing_issue_id(HOME_ID)]
    )
    assert mock_config_entry.runtime_data.problems.locations() == [HOME_ID]


async def test_location_delete_of_a_location_that_exists_changes_nothing(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """An event alone never removes a location: Flatpeak still has it, so it stays."""
    client = await _start(hass, mock_config_entry, freezer, flatpeak_client)
    await _deliver(hass, client, EXPIRED.event_type, "evt_1")

    await _deliver(hass, client, "location.delete", "evt_2")
    assert _flatpeak_issues(hass) == [_issue_id(EXPIRED)]
    assert mock_config_entry.runtime_data.problems.locations() == [HOME_ID]
    assert HOME_ID in mock_config_entry.runtime_data.locations
    assert mock_config_entry.options["locations"] == [HOME_ID]
