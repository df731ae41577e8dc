"""Target windows: the subentry flow and the binary sensors it creates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_USER, ConfigSubentryData
from homeassistant.core import State
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)

from custom_components.flatpeak.const import CONF_LOCATIONS, DOMAIN
from custom_components.flatpeak.pricing.target_window_flow import SUBENTRY_TARGET_WINDOW
from tests.helpers import ACCOUNT_ID, HOME_ID, LONDON, half_hourly_price

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr, entity_registry as er

    from tests.simulator import RunningSimulator, SimulatorState

from tests.simulator.state import PriceSlot as SimulatedSlot

OFFICE_ID = "loc_641b90b758fb8e6293716e41"
ENTITY = "binary_sensor.home_cheap_charge"
TOMORROW = datetime(2026, 11, 26, tzinfo=UTC)
OVERNIGHT = {
    "name": "Cheap charge",
    "duration": {"hours": 1, "minutes": 0},
    "period_start": "20:00:00",
    "period_end": "07:00:00",
    "contiguous": True,
    "direction": "import",
}

OPTION_DEFAULTS = {
    "mode": "period",
    "look_ahead": {"hours": 12, "minutes": 0},
    "prefer": "earliest",
    "duration_mode": "exact",
}


@pytest.fixture
def simulator_state(simulator_state: SimulatorState) -> SimulatorState:
    """The account also has Office (followed only where a test says so)."""
    simulator_state.add_location(ACCOUNT_ID, OFFICE_ID, reference_id="Office")
    simulator_state.set_status(OFFICE_ID)
    simulator_state.set_price_pattern(OFFICE_ID, half_hourly_price)
    return simulator_state


async def _add_window(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_TARGET_WINDOW), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()
    return dict(result)


def _subentry_id(entry: MockConfigEntry) -> str:
    (subentry_id,) = entry.subentries
    return subentry_id


async def _at(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> State:
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    return state


def _price_pattern(cheap: dict[int, float]) -> Any:
    """The fixture's prices, with some of tomorrow's local hours made cheap."""

    def price(start: datetime) -> tuple[float, float]:
        local = start.astimezone(LONDON)
        if local.date() == TOMORROW.date() and local.hour in cheap:
            return cheap[local.hour], 0.8
        return half_hourly_price(start)

    return price


async def test_create_adds_the_sensor(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A new subentry adds its sensor at once, named after the location, off until then."""
    result = await _add_window(hass, init_integration, OVERNIGHT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Cheap charge"
    subentry_id = _subentry_id(init_integration)
    subentry = init_integration.subentries[subentry_id]
    assert subentry.subentry_type == SUBENTRY_TARGET_WINDOW
    # The form fills in the options' defaults; no cap unless one is given.
    assert subentry.data == {**OVERNIGHT, **OPTION_DEFAULTS, "location_id": HOME_ID}

    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "off"
    assert state.attributes["friendly_name"] == "Home Cheap charge"
    # Prices rise from 0.10 at midnight: tomorrow's first hour.
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T01:00:00+00:00"
    assert state.attributes["average_price"] == pytest.approx(0.105)
    assert [slot["price"] for slot in state.attributes["slots"]] == [0.1, 0.11]

    registered = entity_registry.async_get(ENTITY)
    assert registered is not None
    assert registered.unique_id == subentry_id
    assert registered.config_subentry_id == subentry_id
    assert registered.translation_key == "target_window"
    device = device_registry.async_get(registered.device_id or "")
    assert device is not None
    assert device.config_subentry_id == subentry_id
    assert device.name == "Home Cheap charge"
    home = device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), init_integration.entry_id
    )
    assert home is not None
    assert home.config_subentry_id is None


async def test_on_exactly_during_the_chosen_slots(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """On from the first chosen slot's start to the last one's end, to the second."""
    await _add_window(hass, init_integration, OVERNIGHT)
    second = timedelta(seconds=1)
    assert (await _at(hass, freezer, TOMORROW - second)).state == "off"
    state = await _at(hass, freezer, TOMORROW)
    assert state.state == "on"
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"
    assert (await _at(hass, freezer, TOMORROW + timedelta(hours=1) - second)).state == (
        "on"
    )
    state = await _at(hass, freezer, TOMORROW + timedelta(hours=1))
    assert state.state == "off"
    # Done for this period; the next one's window is chosen when it comes.
    assert state.attributes["next_start"] is None
    assert state.attributes["average_price"] == pytest.approx(0.105)


async def test_non_contiguous_runs(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Separate cheap hours: on in each, off between, next_start/next_end per run."""
    simulator.state.set_price_pattern(HOME_ID, _price_pattern({2: 0.01, 5: 0.02}))
    await init_integration.runtime_data.locations[HOME_ID].async_refresh()
    await _add_window(
        hass,
        init_integration,
        OVERNIGHT | {"duration": {"hours": 2}, "contiguous": False},
    )
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_start"] == "2026-11-26T02:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T03:00:00+00:00"
    assert (await _at(hass, freezer, TOMORROW + timedelta(hours=2))).state == "on"
    state = await _at(hass, freezer, TOMORROW + timedelta(hours=3))
    assert state.state == "off"
    assert state.attributes["next_start"] == "2026-11-26T05:00:00+00:00"
    assert (await _at(hass, freezer, TOMORROW + timedelta(hours=5))).state == "on"
    assert (await _at(hass, freezer, TOMORROW + timedelta(hours=6))).state == "off"


async def test_rechosen_before_start_kept_after(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """New prices move a window that has not started; once on, it stays."""
    await _add_window(hass, init_integration, OVERNIGHT)
    coordinator = init_integration.runtime_data.locations[HOME_ID]

    simulator.state.set_price_pattern(HOME_ID, _price_pattern({3: 0.01}))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_start"] == "2026-11-26T03:00:00+00:00"

    state = await _at(hass, freezer, TOMORROW + timedelta(hours=3, minutes=10))
    assert state.state == "on"
    simulator.state.set_price_pattern(HOME_ID, _price_pattern({3: 0.9, 5: 0.001}))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["next_start"] == "2026-11-26T03:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T04:00:00+00:00"
    assert (await _at(hass, freezer, TOMORROW + timedelta(hours=4))).state == "off"


async def test_keeps_a_started_window_across_a_reload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Restarting while on: the same window, even though prices changed meanwhile."""
    await _add_window(hass, init_integration, OVERNIGHT)
    assert (await _at(hass, freezer, TOMORROW + timedelta(minutes=20))).state == "on"
    simulator.state.set_price_pattern(HOME_ID, _price_pattern({4: 0.01}))
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T01:00:00+00:00"


MORNING = OVERNIGHT | {
    "location_id": HOME_ID,
    "period_start": "09:00:00",
    "period_end": "12:00:00",
}


def _stored(settings: dict[str, Any]) -> dict[str, Any]:
    """A window chosen before the restart: 10:00 to 11:00 today, started at 10:05."""
    return {
        "settings": settings,
        "period": ["2026-11-25T09:00:00+00:00", "2026-11-25T12:00:00+00:00"],
        "average_price": 0.305,
        "slots": [
            ["2026-11-25T10:00:00+00:00", "2026-11-25T10:30:00+00:00", 0.3],
            ["2026-11-25T10:30:00+00:00", "2026-11-25T11:00:00+00:00", 0.31],
        ],
    }


@pytest.mark.parametrize(
    ("stored", "next_start"),
    [
        (_stored(MORNING), "2026-11-25T10:00:00+00:00"),
        # Chosen with other settings: chosen afresh from now.
        (_stored(MORNING | {"duration": {"hours": 2}}), "2026-11-25T10:05:00+00:00"),
        ({"settings": MORNING, "period": ["garbage"]}, "2026-11-25T10:05:00+00:00"),
        # Yesterday's period is over, whatever was chosen for it.
        (
            _stored(MORNING)
            | {"period": ["2026-11-24T09:00:00+00:00", "2026-11-24T12:00:00+00:00"]},
            "2026-11-25T10:05:00+00:00",
        ),
    ],
    ids=["same_settings", "other_settings", "unreadable", "period_over"],
)
async def test_restored_after_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    stored: dict[str, Any],
    next_start: str,
) -> None:
    """A started window from before the restart is taken up if its settings match."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        unique_id=mock_config_entry.unique_id,
        data=dict(mock_config_entry.data),
        options=dict(mock_config_entry.options),
        subentries_data=[
            ConfigSubentryData(
                data=MORNING,
                subentry_id="01TARGETWINDOW",
                subentry_type=SUBENTRY_TARGET_WINDOW,
                title="Cheap charge",
                unique_id=None,
            )
        ],
    )
    mock_restore_cache_with_extra_data(hass, [(State(ENTITY, "on"), stored)])
    freezer.move_to(datetime(2026, 11, 25, 10, 5, tzinfo=UTC))
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["next_start"] == next_start


async def test_chosen_once_the_period_prices_are_known(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """Until tomorrow's prices arrive, the overnight window is not chosen."""
    today = datetime(2026, 11, 25, tzinfo=UTC)

    def slots(days: int) -> list[SimulatedSlot]:
        return [
            SimulatedSlot(
                today + timedelta(minutes=30 * index),
                today + timedelta(minutes=30 * (index + 1)),
                half_hourly_price(today + timedelta(minutes=30 * index))[0],
            )
            for index in range(48 * days)
        ]

    coordinator = init_integration.runtime_data.locations[HOME_ID]
    simulator.state.set_prices(HOME_ID, slots(1))
    await coordinator.async_refresh()
    await _add_window(hass, init_integration, OVERNIGHT)
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "off"
    assert state.attributes["next_start"] is None

    simulator.state.set_prices(HOME_ID, slots(2))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"


async def test_set_up_too_late_for_the_period(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """25 minutes left of a period that needs an hour: no window this time."""
    await _add_window(
        hass,
        init_integration,
        OVERNIGHT | {"period_start": "09:00:00", "period_end": "10:30:00"},
    )
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "off"
    assert state.attributes["next_start"] is None
    assert state.attributes["slots"] == []


async def test_export_without_an_export_tariff(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """No export prices: off, with nothing chosen."""
    await _add_window(hass, init_integration, OVERNIGHT | {"direction": "export"})
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "off"
    assert state.attributes["average_price"] is None


async def test_reconfigure_updates_the_sensor(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """New settings take effect; the entity keeps its id, the name follows the title."""
    await _add_window(hass, init_integration, OVERNIGHT)
    subentry_id = _subentry_id(init_integration)
    result = await init_integration.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        OVERNIGHT | {"name": "Night charge", "duration": {"hours": 2}},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert init_integration.subentries[subentry_id].title == "Night charge"
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["friendly_name"] == "Home Night charge"
    assert state.attributes["next_end"] == "2026-11-26T02:00:00+00:00"
    assert state.attributes["average_price"] == pytest.approx(0.115)
    assert entity_registry.async_get(ENTITY) is not None


async def test_delete_removes_the_sensor(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Deleting the subentry removes its sensor and device, not the location's."""
    await _add_window(hass, init_integration, OVERNIGHT)
    subentry_id = _subentry_id(init_integration)
    assert hass.config_entries.async_remove_subentry(init_integration, subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY) is None
    assert entity_registry.async_get(ENTITY) is None
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, subentry_id), init_integration.entry_id
        )
        is None
    )
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), init_integration.entry_id
    )
    # A window added afterwards gets a sensor of its own again.
    await _add_window(hass, init_integration, OVERNIGHT)
    assert hass.states.get(ENTITY) is not None


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"duration": {"hours": 0, "minutes": 0}},
            {"duration": "duration_not_positive"},
        ),
        ({"duration": {"hours": 12}}, {"duration": "duration_too_long"}),
        (
            {"duration": {"hours": 3}, "period_start": "07:00", "period_end": "09:00"},
            {"duration": "duration_too_long"},
        ),
        ({"name": "  "}, {"name": "name_required"}),
        (
            {"direction": "export", "max_price": 0.2},
            {"max_price": "max_price_import_only"},
        ),
        ({"duration_mode": "minimum"}, {"duration_mode": "minimum_needs_max_price"}),
        (
            {"mode": "rolling", "look_ahead": {"hours": 0}},
            {"look_ahead": "look_ahead_not_positive"},
        ),
        (
            {"mode": "rolling", "look_ahead": {"minutes": 30}},
            {"duration": "duration_too_long"},
        ),
        ({"max_price": float("inf")}, {"max_price": "max_price_not_finite"}),
    ],
    ids=[
        "zero",
        "longer_than_overnight",
        "longer_than_day_period",
        "no_name",
        "cap_on_export",
        "minimum_without_cap",
        "no_look_ahead",
        "longer_than_look_ahead",
        "infinite_cap",
    ],
)
async def test_validation_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Bad settings are shown on the form; correcting them creates the window."""
    result = await hass.config_entries.subentries.async_init(
        (init_integration.entry_id, SUBENTRY_TARGET_WINDOW),
        context={"source": SOURCE_USER},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], OVERNIGHT | changes
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], OVERNIGHT
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_whole_day_period(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The same start and end: a whole day, so 23 hours fit."""
    result = await _add_window(
        hass,
        init_integration,
        OVERNIGHT
        | {
            "duration": {"hours": 23},
            "period_start": "00:00:00",
            "period_end": "00:00:00",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_location_chosen_when_several_are_followed(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """With two locations the form asks which; the sensor is named after it."""
    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_LOCATIONS: [HOME_ID, OFFICE_ID]},
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_init(
        (init_integration.entry_id, SUBENTRY_TARGET_WINDOW),
        context={"source": SOURCE_USER},
    )
    schema = result["data_schema"].schema
    (location_field,) = [key for key in schema if key == "location_id"]
    # Offered in name order, Home first.
    assert location_field.default() == HOME_ID
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], OVERNIGHT | {"location_id": OFFICE_ID}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert hass.states.get("binary_sensor.office_cheap_charge") is not None


async def test_window_of_a_location_no_longer_followed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A window whose location was dropped gets no sensor, and says why."""
    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_LOCATIONS: [HOME_ID, OFFICE_ID]},
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    await _add_window(hass, init_integration, OVERNIGHT | {"location_id": OFFICE_ID})
    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_LOCATIONS: [HOME_ID]},
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert "which is not followed" in caplog.text
    state = hass.states.get("binary_sensor.office_cheap_charge")
    assert state is not None
    assert state.state == "unavailable"


async def test_no_locations_aborts(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An entry that follows no location cannot have a target window yet."""
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, CONF_LOCATIONS: []}
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_init(
        (init_integration.entry_id, SUBENTRY_TARGET_WINDOW),
        context={"source": SOURCE_USER},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_locations"


async def test_added_while_the_entry_is_not_loaded(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The followed locations come from the options; the sensor comes with the set-up."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    result = await _add_window(hass, init_integration, OVERNIGHT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = init_integration.subentries[_subentry_id(init_integration)]
    assert subentry.data["location_id"] == HOME_ID
    await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"


async def test_subentry_of_the_previous_release_loads_unchanged(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Stored data without the options' keys: the same window as before, data untouched."""
    old_data = {**OVERNIGHT, "location_id": HOME_ID}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        unique_id=mock_config_entry.unique_id,
        data=dict(mock_config_entry.data),
        options=dict(mock_config_entry.options),
        subentries_data=[
            ConfigSubentryData(
                data=old_data,
                subentry_id="01TARGETWINDOW",
                subentry_type=SUBENTRY_TARGET_WINDOW,
                title="Cheap charge",
                unique_id=None,
            )
        ],
    )
    freezer.move_to(datetime(2026, 11, 25, 10, 5, tzinfo=UTC))
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T01:00:00+00:00"
    assert state.attributes["status"] == "chosen"
    assert state.attributes["duration"] == 3600
    assert dict(entry.subentries["01TARGETWINDOW"].data) == old_data
    registered = entity_registry.async_get(ENTITY)
    assert registered is not None
    assert registered.unique_id == "01TARGETWINDOW"


@pytest.mark.parametrize(
    ("changes", "status", "expected"),
    [
        # Only the 00:00 half hour (0.10) is at or below 0.105: half an hour.
        (
            {"max_price": 0.105},
            "shortened",
            ("2026-11-26T00:00:00+00:00", "2026-11-26T00:30:00+00:00", 1800),
        ),
        ({"max_price": 0.05}, "no_window_at_max_price", (None, None, None)),
        # A minimum of half an hour: all of 00:00 to 01:30 is at or below 0.125.
        (
            {
                "max_price": 0.125,
                "duration": {"minutes": 30},
                "duration_mode": "minimum",
            },
            "chosen",
            ("2026-11-26T00:00:00+00:00", "2026-11-26T01:30:00+00:00", 5400),
        ),
        # Not contiguous: the same, taken as slots.
        (
            {"max_price": 0.115, "contiguous": False},
            "chosen",
            ("2026-11-26T00:00:00+00:00", "2026-11-26T01:00:00+00:00", 3600),
        ),
    ],
    ids=["shortened", "none_at_cap", "minimum", "non_contiguous_under_cap"],
)
async def test_max_price_and_duration_mode(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    changes: dict[str, Any],
    status: str,
    expected: tuple[str | None, str | None, int | None],
) -> None:
    """Under a cap the window is shorter, longer (minimum) or absent, and says so."""
    result = await _add_window(hass, init_integration, OVERNIGHT | changes)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "off"
    assert state.attributes["status"] == status
    assert (
        state.attributes["next_start"],
        state.attributes["next_end"],
        state.attributes["duration"],
    ) == expected


async def test_prefer_latest(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """Two equally cheap hours: the later one when the window prefers latest."""
    simulator.state.set_price_pattern(HOME_ID, _price_pattern({1: 0.01, 4: 0.01}))
    await init_integration.runtime_data.locations[HOME_ID].async_refresh()
    await _add_window(hass, init_integration, OVERNIGHT | {"prefer": "latest"})
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_start"] == "2026-11-26T04:00:00+00:00"


TODAY = datetime(2026, 11, 25, tzinfo=UTC)
# Today from 10:00 on: dear (0.5) but for two cheap hours and a cheaper late hour.
ROLLING_PRICES = {
    (12, 0): 0.2,
    (12, 30): 0.2,
    (14, 30): 0.1,
    (15, 0): 0.1,
    (17, 30): 0.05,
    (18, 0): 0.05,
}
ROLLING = OVERNIGHT | {"mode": "rolling", "look_ahead": {"hours": 4}}


def _rolling_price(start: datetime) -> tuple[float, float]:
    local = start.astimezone(LONDON)
    if local.date() == TODAY.date() and local.hour >= 10:
        return ROLLING_PRICES.get((local.hour, local.minute), 0.5), 1.0
    return half_hourly_price(start)


async def test_rolling_window_rechosen_until_it_starts(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The cheapest hour of the next 4, chosen again as time passes, kept once on."""
    simulator.state.set_price_pattern(HOME_ID, _rolling_price)
    await init_integration.runtime_data.locations[HOME_ID].async_refresh()
    await _add_window(hass, init_integration, ROLLING)

    def window(state: State) -> tuple[str, str | None, str | None]:
        return (
            state.state,
            state.attributes["next_start"],
            state.attributes["next_end"],
        )

    noon = ("off", "2026-11-25T12:00:00+00:00", "2026-11-25T13:00:00+00:00")
    afternoon = ("off", "2026-11-25T14:30:00+00:00", "2026-11-25T15:30:00+00:00")
    state = hass.states.get(ENTITY)
    assert state is not None
    assert window(state) == noon
    assert state.attributes["status"] == "chosen"
    # 10:05 to 14:05 holds noon's hour; at 11:00 the look-ahead holds only half of the
    # 14:30 hour, at 11:30 all of it: the window, not started yet, moves there.
    for moment, expected in [
        (TODAY + timedelta(hours=10, minutes=30), noon),
        (TODAY + timedelta(hours=11), noon),
        (TODAY + timedelta(hours=11, minutes=30), afternoon),
        (TODAY + timedelta(hours=14), afternoon),
    ]:
        assert window(await _at(hass, freezer, moment)) == expected, moment
    # On at 14:30; at 14:30 the look-ahead reaches the cheaper 17:30 hour, but a window
    # that has started does not move.
    on = ("on", "2026-11-25T14:30:00+00:00", "2026-11-25T15:30:00+00:00")
    assert (
        window(await _at(hass, freezer, TODAY + timedelta(hours=14, minutes=30))) == on
    )
    assert window(await _at(hass, freezer, TODAY + timedelta(hours=15))) == on
    # Over: the next one is chosen in the look-ahead from then.
    assert window(
        await _at(hass, freezer, TODAY + timedelta(hours=15, minutes=30))
    ) == (
        "off",
        "2026-11-25T17:30:00+00:00",
        "2026-11-25T18:30:00+00:00",
    )


async def test_rolling_window_in_the_known_prices(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """A look-ahead past the known prices searches what is known; none known: waits."""
    today = datetime(2026, 11, 25, tzinfo=UTC)
    simulator.state.set_prices(
        HOME_ID,
        [
            SimulatedSlot(
                today + timedelta(minutes=30 * index),
                today + timedelta(minutes=30 * (index + 1)),
                0.5 if index != 40 else 0.01,
            )
            for index in range(48)
        ],
    )
    await init_integration.runtime_data.locations[HOME_ID].async_refresh()
    await _add_window(
        hass,
        init_integration,
        ROLLING | {"look_ahead": {"hours": 48}, "duration": {"minutes": 30}},
    )
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["status"] == "chosen"
    assert state.attributes["next_start"] == "2026-11-25T20:00:00+00:00"

    simulator.state.set_prices(HOME_ID, [])
    await init_integration.runtime_data.locations[HOME_ID].async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["status"] == "waiting_for_prices"
    assert state.attributes["next_start"] is None


async def test_rolling_window_restored_after_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A rolling window on before the restart is taken up, not chosen again."""
    settings = ROLLING | {"location_id": HOME_ID}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        unique_id=mock_config_entry.unique_id,
        data=dict(mock_config_entry.data),
        options=dict(mock_config_entry.options),
        subentries_data=[
            ConfigSubentryData(
                data=settings,
                subentry_id="01TARGETWINDOW",
                subentry_type=SUBENTRY_TARGET_WINDOW,
                title="Cheap charge",
                unique_id=None,
            )
        ],
    )
    stored = _stored(settings) | {"period": None}
    mock_restore_cache_with_extra_data(hass, [(State(ENTITY, "on"), stored)])
    freezer.move_to(datetime(2026, 11, 25, 10, 5, tzinfo=UTC))
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["next_start"] == "2026-11-25T10:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-25T11:00:00+00:00"
