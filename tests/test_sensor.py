"""Tests for the price and tariff sensors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, Platform
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)

from custom_components.flatpeak.const import (
    CONF_LOCATIONS,
    CONF_PRICE_RESOLUTION,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
)
from tests.helpers import (
    HOME_ID,
    LONDON,
    NOW,
    half_hourly_price,
    move_time_to,
    setup_entry,
)
from tests.simulator.state import PriceSlot

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import entity_registry as er
    from syrupy.assertion import SnapshotAssertion

    from tests.simulator import RunningSimulator, SimulatorState

CURRENT = "sensor.home_current_price"


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return state.state if state else None


@pytest.mark.parametrize("platforms", [[Platform.SENSOR]])
async def test_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every sensor of the default location, with states and attributes."""
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_current_price_is_energy_dashboard_ready(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The current price has a <currency>/kWh unit and a measurement state class."""
    state = hass.states.get(CURRENT)
    assert state is not None
    assert state.state == "0.3"  # 10:00-10:30 is slot 20: 0.10 + 0.20
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "GBP/kWh"
    assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    assert len(state.attributes["raw_today"]) == 96
    assert len(state.attributes["raw_tomorrow"]) == 96
    assert state.attributes["raw_today"][0]["value"] == 0.1
    assert state.attributes["tomorrow_valid"] is True


async def test_rollover_at_slot_boundaries_without_api_calls(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """States change exactly at the boundary, from the cached prices."""
    prices_calls = simulator.state.calls["prices"]
    freezer.move_to(datetime(2026, 11, 25, 10, 29, 59, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(CURRENT).state == "0.3"

    freezer.move_to(datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(CURRENT).state == "0.31"
    assert hass.states.get("sensor.home_next_price").state == "0.32"
    assert simulator.state.calls["prices"] == prices_calls


TOMORROW_SENSORS = (
    "sensor.home_lowest_price_tomorrow",
    "sensor.home_highest_price_tomorrow",
    "sensor.home_average_price_tomorrow",
)


async def test_tomorrow_figures(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Tomorrow's lowest, highest and average, with the times they apply."""
    lowest = hass.states.get("sensor.home_lowest_price_tomorrow")
    assert lowest is not None
    assert lowest.state == "0.1"  # 00:00-00:30 tomorrow
    assert lowest.attributes["start"] == datetime(2026, 11, 26, tzinfo=LONDON)
    assert lowest.attributes["end"] == datetime(2026, 11, 26, 0, 30, tzinfo=LONDON)
    highest = hass.states.get("sensor.home_highest_price_tomorrow")
    assert highest is not None
    assert highest.state == "0.57"
    average = hass.states.get("sensor.home_average_price_tomorrow")
    assert average is not None
    assert float(average.state) == pytest.approx(0.335)
    assert average.attributes["end"] == datetime(2026, 11, 27, tzinfo=LONDON)


async def test_tomorrow_figures_wait_for_all_of_tomorrow(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Part of tomorrow is not tomorrow: the figures stay unavailable until it is all in."""
    start = datetime(2026, 11, 25, tzinfo=UTC)
    simulator_state.set_prices(
        HOME_ID,
        [
            PriceSlot(
                start + timedelta(hours=h), start + timedelta(hours=h + 1), h / 10
            )
            for h in range(36)
        ],
    )
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for entity_id in TOMORROW_SENSORS:
        assert _state(hass, entity_id) == STATE_UNAVAILABLE
    current = hass.states.get(CURRENT)
    assert current is not None
    assert current.attributes["tomorrow_valid"] is False
    assert len(current.attributes["raw_tomorrow"]) == 48  # the known half, in quarters
    assert _state(hass, "sensor.home_lowest_price_today") == "0.0"


async def test_price_resolution_changes_the_series_only(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Choosing hourly cells in the options reloads the entry; the state stays."""
    before = hass.states.get(CURRENT)
    assert before is not None
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_LOCATIONS: [HOME_ID],
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
            CONF_PRICE_RESOLUTION: "60",
        },
    )
    await hass.async_block_till_done()
    after = hass.states.get(CURRENT)
    assert after is not None
    assert after.state == before.state
    assert len(after.attributes["raw_today"]) == 24
    # 10:00-11:00 holds the half hours at 0.30 and 0.31.
    assert after.attributes["raw_today"][10]["value"] == 0.305
    assert after.attributes["raw_today"][10]["start"] == datetime(
        2026, 11, 25, 10, tzinfo=LONDON
    )


LEVEL = "sensor.home_price_level"
RANK = "sensor.home_price_rank"
PREVIOUS = "sensor.home_previous_price"
CHEAP_NOW = "binary_sensor.home_cheap_now"


def _readings(hass: HomeAssistant) -> tuple[str | None, ...]:
    """Current price, level, rank, previous price and cheap_now, as states."""
    return tuple(
        _state(hass, entity) for entity in (CURRENT, LEVEL, RANK, PREVIOUS, CHEAP_NOW)
    )


async def test_level_rank_and_previous_change_exactly_at_boundaries(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """At midnight and at the slot where cheap ends, from the cached prices only.

    Prices rise 0.01 a half hour from 0.10 at midnight: slot i of 48 has percentile
    (i + 0.5) / 48, so slots 0-9 are very cheap, 10-18 cheap and slot 19 (09:30) normal.
    """
    level = hass.states.get(LEVEL)
    assert level is not None
    assert level.attributes["options"] == [
        "very_cheap",
        "cheap",
        "normal",
        "expensive",
        "very_expensive",
    ]
    assert level.attributes["percentile"] == round(20.5 / 48, 4)
    assert hass.states.get(RANK).attributes["slot_count"] == 48  # type: ignore[union-attr]
    assert _readings(hass) == ("0.3", "normal", "21", "0.29", "off")

    steps = [
        (
            datetime(2026, 11, 25, 23, 59, 59, 999999, tzinfo=UTC),
            ("0.57", "very_expensive", "48", "0.56", "off"),
        ),
        (datetime(2026, 11, 26, tzinfo=UTC), ("0.1", "very_cheap", "1", "0.57", "on")),
        (
            datetime(2026, 11, 26, 4, 59, 59, 999999, tzinfo=UTC),
            ("0.19", "very_cheap", "10", "0.18", "on"),
        ),
        (datetime(2026, 11, 26, 5, tzinfo=UTC), ("0.2", "cheap", "11", "0.19", "on")),
        (
            datetime(2026, 11, 26, 9, 29, 59, 999999, tzinfo=UTC),
            ("0.28", "cheap", "19", "0.27", "on"),
        ),
        (
            datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
            ("0.29", "normal", "20", "0.28", "off"),
        ),
    ]
    for moment, expected in steps:
        # Up to the instant before: the hourly refreshes on the way may call the API.
        await move_time_to(hass, freezer, moment - timedelta(microseconds=1))
        calls = simulator.state.calls["prices"]
        await move_time_to(hass, freezer, moment)
        assert _readings(hass) == expected, moment
        assert simulator.state.calls["prices"] == calls, moment


async def test_previous_price_survives_a_fetch_after_midnight(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Prices fetched just after midnight still hold the slot before it."""
    await move_time_to(hass, freezer, datetime(2026, 11, 26, 0, 10, tzinfo=UTC))
    calls = simulator.state.calls["prices"]
    assert await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant",
        "update_entity",
        {"entity_id": PREVIOUS},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert simulator.state.calls["prices"] > calls
    previous = hass.states.get(PREVIOUS)
    assert previous is not None
    assert previous.state == "0.57"
    assert previous.attributes["valid_from"] == datetime(
        2026, 11, 25, 23, 30, tzinfo=LONDON
    )
    assert previous.attributes["valid_to"] == datetime(2026, 11, 26, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "expected", "slot_count"),
    [
        # 25-hour day: 01:00-02:00 comes twice. At 01:05 GMT the slot before is the
        # second half of the first 01:00 hour (BST), priced as 01:30: 0.13.
        (
            datetime(2026, 10, 25, 1, 5, tzinfo=UTC),
            ("0.12", "very_cheap", "3", "0.13", "on"),
            50,
        ),
        # 23-hour day: 01:00-02:00 never comes; 02:00 BST follows 00:30 GMT's slot.
        (
            datetime(2026, 3, 29, 1, 5, tzinfo=UTC),
            ("0.14", "very_cheap", "3", "0.11", "on"),
            46,
        ),
    ],
    ids=["25_hours", "23_hours"],
)
async def test_previous_price_and_rank_across_a_clock_change(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    moment: datetime,
    expected: tuple[str, ...],
    slot_count: int,
) -> None:
    """The slot before is the one before in time, whatever the wall clock says."""
    freezer.move_to(moment)
    await hass.config.async_set_time_zone("Europe/London")
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _readings(hass) == expected
    assert hass.states.get(RANK).attributes["slot_count"] == slot_count  # type: ignore[union-attr]


async def test_level_rank_and_cheap_now_unavailable_without_prices(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """While Flatpeak has no prices, the relative price is unavailable, not a guess."""
    simulator_state.set_prices_error(HOME_ID, "pending_connect")
    await setup_entry(hass, mock_config_entry, freezer)
    for entity_id in (LEVEL, RANK, PREVIOUS, CHEAP_NOW):
        assert _state(hass, entity_id) == STATE_UNAVAILABLE, entity_id
    assert _state(hass, "binary_sensor.home_tomorrow_prices_known") == "off"


async def test_export_level_rank_and_high_now(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With an export tariff: export rank from the dearest; high while expensive."""
    export_ids = (
        "sensor.home_export_price_level",
        "sensor.home_export_price_rank",
        "binary_sensor.home_export_price_high_now",
    )
    simulator_state.set_status(HOME_ID, "export", tariff_name="Outgoing Octopus")
    simulator_state.set_price_pattern(
        HOME_ID,
        lambda start: half_hourly_price(start)[0] / 2,
        direction="EXPORT",
    )
    await setup_entry(hass, mock_config_entry, freezer)
    # 10:00 is slot 20 of 48: 27 slots pay more.
    assert [_state(hass, entity) for entity in export_ids] == ["normal", "28", "off"]
    # 14:30 is slot 29: percentile 29.5 / 48 = 0.61.
    await move_time_to(hass, freezer, datetime(2026, 11, 25, 14, 30, tzinfo=UTC))
    assert [_state(hass, entity) for entity in export_ids] == ["expensive", "19", "on"]
    # Import is ranked from the cheapest at the same time.
    assert _state(hass, RANK) == "30"


async def test_export_entities_only_with_an_export_tariff(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """No export tariff, no export level, rank or high-now entity."""
    for entity_id in (
        "sensor.home_export_price_level",
        "sensor.home_export_price_rank",
        "binary_sensor.home_export_price_high_now",
    ):
        assert hass.states.get(entity_id) is None


async def test_entities_of_the_previous_release_keep_their_ids(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An upgraded entry keeps its entities (renamed ones too); the new ones are added."""
    mock_config_entry.add_to_hass(hass)
    kept = {
        ("sensor", "current_price"): "sensor.home_current_price",
        ("sensor", "next_price"): "sensor.my_next_price",
        ("binary_sensor", "tariff_expired"): "binary_sensor.home_tariff_expired",
    }
    for (platform, key), entity_id in kept.items():
        entity_registry.async_get_or_create(
            platform,
            "flatpeak",
            f"{HOME_ID}_{key}",
            config_entry=mock_config_entry,
            suggested_object_id=entity_id.split(".", 1)[1],
        )
    await setup_entry(hass, mock_config_entry, freezer)
    for (platform, key), entity_id in kept.items():
        assert (
            entity_registry.async_get_entity_id(
                platform, "flatpeak", f"{HOME_ID}_{key}"
            )
            == entity_id
        )
        assert hass.states.get(entity_id) is not None
    for platform, key in (
        ("sensor", "price_level"),
        ("sensor", "price_rank"),
        ("sensor", "previous_price"),
        ("binary_sensor", "cheap_now"),
        ("binary_sensor", "tomorrow_prices_known"),
    ):
        assert (
            entity_registry.async_get_entity_id(
                platform, "flatpeak", f"{HOME_ID}_{key}"
            )
            == f"{platform}.home_{key}"
        )
