"""Hardening: what events, prices and settings from outside can cost or break.

Events that name locations or ask for refreshes cost a bounded number of API calls,
numbers that are not finite leave gaps instead of breaking entities, a problem dated in
the future can still be cleared, the API key never travels over plain http to another
host, a unit is never a bare "/kWh", and an unexpected error never reads as success.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import logging
import math
import secrets
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.flatpeak.api.client import FlatpeakClient
from custom_components.flatpeak.api.models import Event
from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    DOMAIN,
    EVENT_REFRESH_COOLDOWN,
    PRICES_UNAVAILABLE_RETRY,
    SECTION_ADVANCED,
)
from custom_components.flatpeak.locations.followed import (
    ADD_RETRY_INTERVAL,
    MAX_CONCURRENT_ADDS,
)
from custom_components.flatpeak.tariff.problems import Problem
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK, Outcome
from tests.helpers import (
    ACCOUNT_ID,
    HOME_ID,
    LIVE_KEY,
    NOW,
    WEBHOOK_ID,
    WEBHOOK_PATH,
    advance_time as _advance,
    half_hourly_price,
    make_event,
    setup_entry as _setup,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.helpers import FlatpeakDeliveries
    from tests.simulator import RunningSimulator, SimulatorState

CURRENT = "sensor.home_current_price"


async def _post_signed(
    client: Any, simulator: RunningSimulator, event: dict[str, Any]
) -> dict[str, Any]:
    """Deliver an event as Flatpeak does, signed now; return the handler's answer."""
    body = json.dumps(event).encode()
    stamp = int(dt_util.utcnow().timestamp())
    key = simulator.state.signing_key
    response = await client.post(
        WEBHOOK_PATH,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Flatpeak-Signature": key.sign(stamp, body),
            "Flatpeak-Signature-Scheme": "v1",
            "Flatpeak-Timestamp": str(stamp),
            "Flatpeak-Key-ID": key.kid,
        },
    )
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _unload_callbacks(entry: MockConfigEntry) -> int:
    return len(entry._on_unload or [])


# -- location.create naming locations that do not exist ------------------------------------


async def test_invented_locations_cost_bounded_calls_and_no_coordinator(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A burst of location.create for 50 unknown ids: at most MAX_CONCURRENT_ADDS probes.

    Each probe finds nothing, so no coordinator is made and none leaves an unload
    callback behind.
    """
    await _setup(hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True})
    runtime = mock_config_entry.runtime_data
    applier = runtime.applier
    assert applier is not None
    callbacks = _unload_callbacks(mock_config_entry)
    invented = [f"loc_{secrets.token_hex(12)}" for _ in range(50)]

    # Confirmed events (as signed ones are), arriving faster than any probe answers.
    for number, location_id in enumerate(invented):
        event = make_event(
            "location.create",
            event_id=f"evt_create{number:03}",
            location_id=location_id,
        )
        assert await applier.async_apply(Event.from_dict(event)) == Outcome.APPLIED
    await hass.async_block_till_done(wait_background_tasks=True)

    state = simulator.state
    probes = sum(state.calls_for("location", loc) for loc in invented)
    assert 0 < probes <= MAX_CONCURRENT_ADDS
    assert set(runtime.locations) == {HOME_ID}
    assert _unload_callbacks(mock_config_entry) == callbacks
    assert mock_config_entry.state is ConfigEntryState.LOADED


async def test_one_invented_location_is_probed_once_per_interval(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The same unknown location named every minute: one GET per ADD_RETRY_INTERVAL."""
    await _setup(hass, mock_config_entry, freezer, **{CONF_FOLLOW_ALL_LOCATIONS: True})
    callbacks = _unload_callbacks(mock_config_entry)
    client = await hass_client_no_auth()
    state = simulator.state
    minutes = int(ADD_RETRY_INTERVAL.total_seconds() // 60)
    for number in range(minutes):
        event = make_event(
            "location.create", event_id=f"evt_again{number:03}", location_id="loc_nope"
        )
        assert (await _post_signed(client, simulator, event))["message"] == "applied"
        await _advance(hass, freezer, timedelta(seconds=59))
    assert state.calls_for("location", "loc_nope") == 1

    await _advance(hass, freezer, timedelta(minutes=1))
    event = make_event("location.create", event_id="evt_later", location_id="loc_nope")
    await _post_signed(client, simulator, event)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state.calls_for("location", "loc_nope") == 2
    assert set(mock_config_entry.runtime_data.locations) == {HOME_ID}
    assert _unload_callbacks(mock_config_entry) == callbacks


# -- location.update as a stream -----------------------------------------------------------


async def test_location_update_every_11_seconds_costs_few_price_fetches(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """55 location.update in 10 minutes: one fetch at once, one per cooldown after."""
    client = await hass_client_no_auth()
    state = simulator.state
    before = state.calls_for("prices", HOME_ID)
    window = timedelta(minutes=10)
    elapsed = timedelta(0)
    number = 0
    while elapsed < window:
        event = make_event("location.update", event_id=f"evt_upd{number:03}")
        assert (await _post_signed(client, simulator, event))["message"] == "applied"
        await _advance(hass, freezer, timedelta(seconds=11))
        elapsed += timedelta(seconds=11)
        number += 1
    assert number == 55
    fetches = state.calls_for("prices", HOME_ID) - before
    limit = 1 + window // EVENT_REFRESH_COOLDOWN
    assert limit == 3
    assert 1 <= fetches <= limit


# -- prices that are not finite numbers ------------------------------------------------------


def _with_bad_slots(start: datetime) -> tuple[float, float]:
    """The usual prices, but 12:00 is 1e999 (infinity) and 12:30 is NaN."""
    moment = start.astimezone(UTC)
    if moment.date() == NOW.date() and moment.hour == 12:
        return (float("1e999") if moment.minute == 0 else float("nan")), 1.0
    return half_hourly_price(start)


async def test_non_finite_prices_leave_a_gap(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """The two slots are left out; every entity is added and shows finite numbers."""
    simulator_state.set_price_pattern(
        HOME_ID,
        _with_bad_slots,
        next_update=datetime(2026, 11, 25, 16, tzinfo=UTC),
    )
    await _setup(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED

    entities = er.async_entries_for_config_entry(
        entity_registry, mock_config_entry.entry_id
    )
    sensors = [e.entity_id for e in entities if e.domain == "sensor"]
    assert CURRENT in sensors
    for entity_id in sensors:
        value = _state(hass, entity_id)
        try:
            number = float(value)
        except ValueError:
            continue
        assert math.isfinite(number), (entity_id, value)
    assert _state(hass, CURRENT) == "0.3"
    current = hass.states.get(CURRENT)
    assert current is not None
    cells = current.attributes["raw_today"]
    assert all(math.isfinite(cell["value"]) for cell in cells)
    hours = {cell["start"].hour for cell in cells}
    assert 12 not in hours
    assert {11, 13} <= hours
    assert _state(hass, "sensor.home_highest_price_today") == "0.57"

    # In the gap there is no price; after it, prices again.
    freezer.move_to(datetime(2026, 11, 25, 12, 5, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert _state(hass, CURRENT) == STATE_UNAVAILABLE
    freezer.move_to(datetime(2026, 11, 25, 13, 5, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert _state(hass, CURRENT) == "0.36"


def _with_no_data_hour(start: datetime) -> tuple[float, float]:
    """The usual prices, but Flatpeak has no market rate for 12:00-13:00 (0, confidence 0)."""
    moment = start.astimezone(UTC)
    if moment.date() == NOW.date() and moment.hour == 12:
        return 0.0, 0.0
    return half_hourly_price(start)


async def test_no_data_slots_are_gaps_not_free_prices(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Slots of value 0 and confidence 0 show no price and are never the cheapest."""
    simulator_state.set_price_pattern(
        HOME_ID,
        _with_no_data_hour,
        next_update=datetime(2026, 11, 25, 16, tzinfo=UTC),
    )
    await _setup(hass, mock_config_entry, freezer)
    assert _state(hass, "sensor.home_lowest_price_today") == "0.1"
    current = hass.states.get(CURRENT)
    assert current is not None
    assert 12 not in {cell["start"].hour for cell in current.attributes["raw_today"]}
    # The cheapest window is not found in slots that have no price: a span with the
    # gap in it is not known, as any other gap is.
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "find_cheapest_window",
            {
                "config_entry_id": mock_config_entry.entry_id,
                "duration": {"minutes": 30},
                "earliest_start": "2026-11-25T11:00:00+00:00",
                "latest_end": "2026-11-25T14:00:00+00:00",
            },
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "window_not_covered"

    freezer.move_to(datetime(2026, 11, 25, 12, 5, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert _state(hass, CURRENT) == STATE_UNAVAILABLE


async def test_non_finite_confidence_keeps_the_price(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A NaN confidence makes that slot's confidence unknown; the prices all stand."""

    def nan_confidence_at_ten(start: datetime) -> tuple[float, float]:
        value, confidence = half_hourly_price(start)
        at_ten = start.astimezone(UTC).hour == 10 and start.date() == NOW.date()
        return value, float("nan") if at_ten else confidence

    simulator_state.set_price_pattern(
        HOME_ID,
        nan_confidence_at_ten,
        next_update=datetime(2026, 11, 25, 16, tzinfo=UTC),
    )
    await _setup(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    current = hass.states.get(CURRENT)
    assert current is not None
    assert current.state == "0.3"
    assert current.attributes["confidence"] is None
    assert _state(hass, "sensor.home_next_price") == "0.31"


# -- a problem dated in the future ---------------------------------------------------------


async def test_problem_created_in_the_future_can_be_cleared(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    webhook_client: FlatpeakDeliveries,
) -> None:
    """An event stamped a day ahead of our clock is cleared by the next fixed status."""
    state = simulator.state
    state.set_status(HOME_ID, status="ERROR")
    event = make_event("tariff.fetch.failed", event_id="evt_from_tomorrow")
    event["time_created"] = (NOW + timedelta(days=1)).isoformat()
    response = await webhook_client.post(WEBHOOK_PATH, json=event)
    assert response.status == 200
    await hass.async_block_till_done()
    problems = init_integration.runtime_data.problems
    assert problems.active(HOME_ID, Problem.TARIFF_FETCH_FAILED) is not None
    assert _state(hass, "binary_sensor.home_tariff_fetch_failed") == "on"

    # Fixed at Flatpeak; the location.update that says so makes the status be read.
    state.set_status(HOME_ID, status="CONNECTED")
    await _advance(hass, freezer, timedelta(seconds=1))
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event("location.update", event_id="evt_fixed")
    )
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert problems.active(HOME_ID, Problem.TARIFF_FETCH_FAILED) is None
    assert _state(hass, "binary_sensor.home_tariff_fetch_failed") == "off"


# -- API URLs ----------------------------------------------------------------------------------

INSECURE_URL = "http://api.example.com"


async def test_user_step_refuses_plain_http_to_another_host(
    hass: HomeAssistant, simulator: RunningSimulator
) -> None:
    """The key is not sent over plain http; http to this machine (a test server) works."""
    await hass.config.async_update(external_url="https://ha.example.com")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    credentials = {CONF_ACCOUNT_ID: ACCOUNT_ID, CONF_API_KEY: LIVE_KEY}
    with patch.object(FlatpeakClient, "login", AsyncMock()) as login:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {**credentials, SECTION_ADVANCED: {CONF_API_URL: INSECURE_URL}},
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "insecure_api_url"}
    login.assert_not_called()

    assert simulator.url.startswith("http://127.0.0.1:")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {**credentials, SECTION_ADVANCED: {CONF_API_URL: simulator.url}},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "locations"
    assert result["errors"] == {}


async def test_reconfigure_refuses_plain_http_to_another_host(
    hass: HomeAssistant, simulator: RunningSimulator, mock_config_entry: MockConfigEntry
) -> None:
    """The same on reconfigure: refused, the URL stays; a loopback URL is taken."""
    mock_config_entry.add_to_hass(hass)
    await hass.config.async_update(external_url="https://ha.example.com")
    result = await mock_config_entry.start_reconfigure_flow(hass)
    with patch.object(FlatpeakClient, "login", AsyncMock()) as login:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_URL: INSECURE_URL}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "insecure_api_url"}
    login.assert_not_called()
    assert mock_config_entry.data[CONF_API_URL] == simulator.url

    with patch("custom_components.flatpeak.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_URL: simulator.url}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"


# -- units without a currency --------------------------------------------------------------


async def test_unit_waits_for_a_currency(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """No currency known yet: no unit (not "/kWh"); once prices come, "GBP/kWh"."""
    simulator_state.location(HOME_ID)["currency_code"] = None
    simulator_state.set_prices_error(HOME_ID, "pending_connect")
    await _setup(hass, mock_config_entry, freezer)
    current = hass.states.get(CURRENT)
    assert current is not None
    assert current.attributes.get(ATTR_UNIT_OF_MEASUREMENT) is None

    simulator_state.location(HOME_ID)["currency_code"] = "GBP"
    simulator_state.set_prices_error(HOME_ID, None)
    await _advance(hass, freezer, PRICES_UNAVAILABLE_RETRY + timedelta(seconds=1))
    current = hass.states.get(CURRENT)
    assert current is not None
    assert current.state == "0.3"
    assert current.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP/kWh"


# -- unexpected errors -------------------------------------------------------------------------


async def test_unexpected_error_is_500_and_keeps_the_webhook_id_out_of_the_log(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fault of ours must not read as success (Flatpeak would never retry)."""
    caplog.set_level(logging.DEBUG)
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await hass_client_no_auth()
    with patch(
        "custom_components.flatpeak.webhook.handler._async_handle",
        side_effect=RuntimeError("boom"),
    ):
        response = await client.post(
            WEBHOOK_PATH, json=make_event("tariff.expired", event_id="evt_boom")
        )
    assert response.status == 500
    await hass.async_block_till_done()
    assert captured == []
    assert "Unexpected error while handling a Flatpeak delivery" in caplog.text
    # Home Assistant's debug lines name every request's path; what is logged as a
    # problem (and shown to users and in shared logs) must not hold the secret.
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems
    assert not any(WEBHOOK_ID in r.getMessage() for r in problems)
    assert not any(WEBHOOK_ID in (r.exc_text or "") for r in problems)
