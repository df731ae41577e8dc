"""Tests for the `flatpeak.find_cheapest_window` action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.exceptions import ServiceValidationError
import probatio
import pytest

from custom_components import flatpeak
from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.services import SERVICE_FIND_CHEAPEST_WINDOW
from tests.helpers import HOME_ID

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.simulator import RunningSimulator, SimulatorState

EXPORT_PRICE = 0.15


@pytest.fixture
def simulator_state(simulator_state: SimulatorState) -> SimulatorState:
    """Home also exports, at one flat price."""
    simulator_state.set_status(HOME_ID, "export", tariff_name="Outgoing Octopus")
    simulator_state.set_price_pattern(
        HOME_ID, lambda _start: EXPORT_PRICE, direction="EXPORT"
    )
    return simulator_state


async def _find(hass: HomeAssistant, entry_id: str, **fields: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        SERVICE_FIND_CHEAPEST_WINDOW,
        {ATTR_CONFIG_ENTRY_ID: entry_id, **fields},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return response


async def test_cheapest_window_from_now(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: RunningSimulator
) -> None:
    """From now to the end of the known prices, without asking Flatpeak."""
    calls = dict(simulator.state.calls)
    response = await _find(hass, init_integration.entry_id, duration="02:00:00")
    # Prices rise from 0.10 at midnight by 0.01 per half hour: tomorrow's first two hours.
    assert response == {
        "location_id": HOME_ID,
        "currency": "GBP",
        "unit": "GBP/kWh",
        "start": "2026-11-26T00:00:00+00:00",
        "end": "2026-11-26T02:00:00+00:00",
        "average_price": pytest.approx(0.115),
        "duration": 7200,
        "slots": [
            {
                "start": "2026-11-26T00:00:00+00:00",
                "end": "2026-11-26T00:30:00+00:00",
                "price": 0.1,
            },
            {
                "start": "2026-11-26T00:30:00+00:00",
                "end": "2026-11-26T01:00:00+00:00",
                "price": 0.11,
            },
            {
                "start": "2026-11-26T01:00:00+00:00",
                "end": "2026-11-26T01:30:00+00:00",
                "price": 0.12,
            },
            {
                "start": "2026-11-26T01:30:00+00:00",
                "end": "2026-11-26T02:00:00+00:00",
                "price": 0.13,
            },
        ],
    }
    assert dict(simulator.state.calls) == calls


async def test_partial_slot_at_earliest_start(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Now (10:05) is inside a slot: its remaining 25 minutes count, then 5 of the next."""
    response = await _find(
        hass,
        init_integration.entry_id,
        duration={"minutes": 30},
        latest_end="2026-11-25T11:30:00+00:00",
    )
    assert response["start"] == "2026-11-25T10:05:00+00:00"
    assert response["end"] == "2026-11-25T10:35:00+00:00"
    assert [(s["end"], s["price"]) for s in response["slots"]] == [
        ("2026-11-25T10:30:00+00:00", 0.3),
        ("2026-11-25T10:35:00+00:00", 0.31),
    ]
    assert response["average_price"] == pytest.approx((0.30 * 25 + 0.31 * 5) / 30)


async def test_export_set_ties_go_to_the_earliest(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A flat export price: the dearest hour of slots is the earliest one."""
    response = await _find(
        hass,
        init_integration.entry_id,
        duration="01:00:00",
        contiguous=False,
        direction="export",
    )
    assert [(s["start"], s["end"]) for s in response["slots"]] == [
        ("2026-11-25T10:05:00+00:00", "2026-11-25T10:30:00+00:00"),
        ("2026-11-25T10:30:00+00:00", "2026-11-25T11:00:00+00:00"),
        ("2026-11-25T11:00:00+00:00", "2026-11-25T11:05:00+00:00"),
    ]
    assert response["average_price"] == pytest.approx(EXPORT_PRICE)


async def test_non_contiguous_picks_the_cheapest_slots(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Two midnights at 0.10 beat 00:30 at 0.11: start and end span both picks."""
    response = await _find(
        hass,
        init_integration.entry_id,
        duration="01:00:00",
        contiguous=False,
        earliest_start="2026-11-25T00:00:00+00:00",
        latest_end="2026-11-26T00:30:00+00:00",
    )
    assert response["start"] == "2026-11-25T00:00:00+00:00"
    assert response["end"] == "2026-11-26T00:30:00+00:00"
    assert response["duration"] == 3600
    assert [s["start"] for s in response["slots"]] == [
        "2026-11-25T00:00:00+00:00",
        "2026-11-26T00:00:00+00:00",
    ]
    assert response["average_price"] == pytest.approx(0.10)


@pytest.mark.parametrize(
    ("fields", "key", "placeholders"),
    [
        (
            {"duration": "01:00:00", "latest_end": "2026-11-27T12:00:00+00:00"},
            "window_not_covered",
            {
                "start": "2026-11-25T10:05:00+00:00",
                "end": "2026-11-27T12:00:00+00:00",
                # From an hour before midnight: the slot before the day's first.
                "known": "2026-11-24T23:00:00+00:00 to 2026-11-27T00:00:00+00:00",
            },
        ),
        (
            {"duration": "01:00:00", "earliest_start": "2026-11-28T00:00:00+00:00"},
            "window_not_covered",
            {"start": "2026-11-28T00:00:00+00:00", "end": "2026-11-28T00:00:00+00:00"},
        ),
        (
            {
                "duration": "03:00:00",
                "earliest_start": "2026-11-25T12:00:00+00:00",
                "latest_end": "2026-11-25T14:00:00+00:00",
            },
            "duration_too_long",
            {
                "duration": "3:00:00",
                "start": "2026-11-25T12:00:00+00:00",
                "end": "2026-11-25T14:00:00+00:00",
            },
        ),
        ({"duration": "00:00:00"}, "duration_not_positive", {}),
    ],
    ids=["past_known_prices", "after_known_prices", "too_long", "zero"],
)
async def test_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fields: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    """Unknown prices or a duration that does not fit are refused, translated."""
    with pytest.raises(ServiceValidationError) as err:
        await _find(hass, init_integration.entry_id, **fields)
    assert err.value.translation_key == key
    assert err.value.translation_placeholders is not None
    assert placeholders.items() <= err.value.translation_placeholders.items()
    # Translated: no placeholder is left unfilled.
    assert "{" not in str(err.value)
    assert str(err.value) != key


async def test_end_before_start(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An explicit span must not be empty."""
    with pytest.raises(ServiceValidationError) as err:
        await _find(
            hass,
            init_integration.entry_id,
            duration="01:00:00",
            earliest_start="2026-11-25T12:00:00+00:00",
            latest_end="2026-11-25T12:00:00+00:00",
        )
    assert err.value.translation_key == "invalid_window"


async def test_location_not_followed(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The same location checks as get_prices."""
    with pytest.raises(ServiceValidationError) as err:
        await _find(
            hass, init_integration.entry_id, duration="01:00", location_id="loc_x"
        )
    assert err.value.translation_key == "location_not_found"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"duration": "soon"},
        {"duration": "-01:00:00"},
        {"duration": "01:00:00", "direction": "both"},
        {"duration": "01:00:00", "earliest_start": "tomorrow"},
    ],
    ids=["no_duration", "not_a_duration", "negative", "direction", "start"],
)
async def test_schema_errors(
    hass: HomeAssistant, init_integration: MockConfigEntry, fields: dict[str, Any]
) -> None:
    """Malformed fields are refused by the schema."""
    with pytest.raises(probatio.Invalid):
        await _find(hass, init_integration.entry_id, **fields)


async def test_short_day_in_spring(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The 23-hour day: 46 half-hour slots, times with the summer offset after 01:00."""
    freezer.move_to(datetime(2026, 3, 28, 12, tzinfo=UTC))
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.flatpeak.PLATFORMS", flatpeak.PLATFORMS):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    response = await _find(
        hass,
        mock_config_entry.entry_id,
        duration="23:00:00",
        earliest_start="2026-03-29T00:00:00+00:00",
        latest_end="2026-03-30T00:00:00+01:00",
    )
    assert response["duration"] == 23 * 3600
    assert len(response["slots"]) == 46
    assert response["slots"][2]["start"] == "2026-03-29T02:00:00+01:00"
    assert response["end"] == "2026-03-30T00:00:00+01:00"
