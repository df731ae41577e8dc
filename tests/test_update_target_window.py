"""Tests for the `flatpeak.update_target_window` action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.exceptions import ServiceValidationError
import probatio
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.pricing.target_window_flow import SUBENTRY_TARGET_WINDOW
from custom_components.flatpeak.services import SERVICE_UPDATE_TARGET_WINDOW
from tests.helpers import HOME_ID

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant, State
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.simulator import SimulatorState

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


@pytest.fixture
def simulator_state(simulator_state: SimulatorState) -> SimulatorState:
    """Home also exports, at one flat price."""
    simulator_state.set_status(HOME_ID, "export", tariff_name="Outgoing Octopus")
    simulator_state.set_price_pattern(HOME_ID, lambda _start: 0.15, direction="EXPORT")
    return simulator_state


async def _add_window(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_TARGET_WINDOW), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()
    (subentry_id,) = entry.subentries
    return subentry_id


async def _update(hass: HomeAssistant, entity_id: str = ENTITY, **fields: Any) -> State:
    await hass.services.async_call(
        DOMAIN,
        SERVICE_UPDATE_TARGET_WINDOW,
        {ATTR_ENTITY_ID: entity_id, **fields},
        blocking=True,
    )
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    return state


async def _at(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> State:
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    return state


async def test_temporary_change_lasts_for_the_period(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A longer duration tonight only: chosen again now, stored settings untouched."""
    subentry_id = await _add_window(hass, init_integration, OVERNIGHT)
    stored = dict(init_integration.subentries[subentry_id].data)
    state = await _update(hass, duration="02:00:00")
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T02:00:00+00:00"
    assert state.attributes["duration"] == 7200
    assert state.attributes["changed_until"] == "2026-11-26T07:00:00+00:00"
    assert dict(init_integration.subentries[subentry_id].data) == stored
    # A second change adds to the first: a cap too, still until 07:00.
    state = await _update(hass, max_price=0.115)
    assert state.attributes["next_end"] == "2026-11-26T01:00:00+00:00"
    assert state.attributes["status"] == "shortened"
    assert state.attributes["changed_until"] == "2026-11-26T07:00:00+00:00"
    assert (await _at(hass, freezer, TOMORROW)).state == "on"
    state = await _at(hass, freezer, TOMORROW + timedelta(hours=7))
    assert state.attributes["changed_until"] is None


async def test_temporary_change_of_the_period(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Tonight's period changed to end at 00:30: the window fits in what is left."""
    await _add_window(hass, init_integration, OVERNIGHT)
    state = await _update(hass, period_start="22:00:00", period_end="00:30:00")
    assert state.attributes["changed_until"] == "2026-11-26T00:30:00+00:00"
    # Prices climb all day and start again at 0.10 at midnight: 23:30 to 00:30.
    assert state.attributes["next_start"] == "2026-11-25T23:30:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T00:30:00+00:00"


async def test_permanent_change_is_stored(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Stored in the subentry, kept across a reload, and no temporary change shown."""
    subentry_id = await _add_window(hass, init_integration, OVERNIGHT)
    await _update(hass, duration="00:30:00", max_price=0.2, permanent=True)
    data = init_integration.subentries[subentry_id].data
    assert data["duration"] == {"hours": 0, "minutes": 30, "seconds": 0}
    assert data["max_price"] == 0.2
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["next_end"] == "2026-11-26T00:30:00+00:00"
    assert state.attributes["changed_until"] is None
    # null removes the cap.
    await _update(hass, max_price=None, permanent=True)
    assert init_integration.subentries[subentry_id].data["max_price"] is None


async def test_started_window_does_not_move(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """On: a change for this period is refused; a permanent one waits for the next."""
    subentry_id = await _add_window(hass, init_integration, OVERNIGHT)
    assert (await _at(hass, freezer, TOMORROW + timedelta(minutes=10))).state == "on"
    with pytest.raises(ServiceValidationError) as err:
        await _update(hass, duration="03:00:00")
    assert err.value.translation_key == "target_window_started"
    assert err.value.translation_placeholders == {"entity_id": ENTITY}
    state = await _update(hass, duration="03:00:00", permanent=True)
    assert state.state == "on"
    assert state.attributes["next_end"] == "2026-11-26T01:00:00+00:00"
    duration = init_integration.subentries[subentry_id].data["duration"]
    assert duration == {"hours": 3, "minutes": 0, "seconds": 0}


async def test_rolling_look_ahead_change(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A rolling window's change lasts one look-ahead from when it is made."""
    await _add_window(
        hass,
        init_integration,
        OVERNIGHT | {"mode": "rolling", "look_ahead": {"hours": 4}, "max_price": 0.25},
    )
    state = hass.states.get(ENTITY)
    assert state is not None
    # Nothing at or below 0.25 until midnight.
    assert state.attributes["status"] == "no_window_at_max_price"
    state = await _update(hass, look_ahead="20:00:00")
    assert state.attributes["changed_until"] == "2026-11-26T06:05:00+00:00"
    # Prices start again at 0.10 at midnight: tomorrow's first hour is now in reach.
    assert state.attributes["next_start"] == "2026-11-26T00:00:00+00:00"


@pytest.mark.parametrize(
    ("window", "fields", "key"),
    [
        ({}, {"duration": "00:00:00"}, "duration_not_positive"),
        ({}, {"duration": "12:00:00"}, "duration_too_long"),
        ({}, {"period_start": "06:30:00"}, "duration_too_long"),
        ({"direction": "export"}, {"max_price": 0.1}, "max_price_import_only"),
        ({}, {"max_price": "inf"}, "max_price_not_finite"),
        (
            {"duration_mode": "minimum", "max_price": 0.2},
            {"max_price": None},
            ("minimum_needs_max_price"),
        ),
        ({"mode": "rolling"}, {"look_ahead": "00:00:00"}, "look_ahead_not_positive"),
        ({}, {}, "nothing_to_change"),
        ({}, {"permanent": True}, "nothing_to_change"),
    ],
    ids=[
        "zero",
        "longer_than_the_period",
        "period_shorter_than_the_duration",
        "cap_on_export",
        "infinite_cap",
        "minimum_loses_its_cap",
        "no_look_ahead",
        "nothing",
        "nothing_but_permanent",
    ],
)
async def test_validation_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    window: dict[str, Any],
    fields: dict[str, Any],
    key: str,
) -> None:
    """Refused as the form refuses, translated; nothing is changed."""
    subentry_id = await _add_window(hass, init_integration, OVERNIGHT | window)
    stored = dict(init_integration.subentries[subentry_id].data)
    before = hass.states.get(ENTITY)
    assert before is not None
    for permanent in (False, True):
        with pytest.raises(ServiceValidationError) as err:
            await _update(hass, **({"permanent": permanent} | fields))
        assert err.value.translation_key == key
        assert err.value.translation_domain == DOMAIN
    assert dict(init_integration.subentries[subentry_id].data) == stored
    after = hass.states.get(ENTITY)
    assert after is not None
    assert after.attributes == before.attributes


async def test_duration_too_long_names_the_period(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The refusal says which period the duration does not fit."""
    await _add_window(hass, init_integration, OVERNIGHT)
    with pytest.raises(ServiceValidationError) as err:
        await _update(hass, duration="12:00:00")
    assert err.value.translation_placeholders == {
        "entity_id": ENTITY,
        "duration": "12:00:00",
        "start": "2026-11-25T20:00:00+00:00",
        "end": "2026-11-26T07:00:00+00:00",
    }


async def test_not_a_target_window(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Another Flatpeak binary sensor is refused by name."""
    await _add_window(hass, init_integration, OVERNIGHT)
    with pytest.raises(ServiceValidationError) as err:
        await _update(
            hass, entity_id="binary_sensor.home_tariff_expired", duration="02:00:00"
        )
    assert err.value.translation_key == "not_a_target_window"
    assert err.value.translation_placeholders == {
        "entity_id": "binary_sensor.home_tariff_expired"
    }


@pytest.mark.parametrize(
    "fields",
    [{"duration": "soon"}, {"max_price": "cheap"}, {"period_end": "25:00"}],
)
async def test_schema_errors(
    hass: HomeAssistant, init_integration: MockConfigEntry, fields: dict[str, Any]
) -> None:
    """Malformed fields are refused by the schema."""
    await _add_window(hass, init_integration, OVERNIGHT)
    with pytest.raises(probatio.Invalid):
        await _update(hass, **fields)


async def test_temporary_change_survives_a_restart(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Reloaded: the change and the window chosen with it are taken up again."""
    await _add_window(hass, init_integration, OVERNIGHT)
    await _update(hass, duration="02:00:00")
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes["changed_until"] == "2026-11-26T07:00:00+00:00"
    assert state.attributes["next_end"] == "2026-11-26T02:00:00+00:00"
