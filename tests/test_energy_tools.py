"""The energy tools' contracts with a price sensor, checked against the current price.

Each reader below restates, in this project's own words, what one tool does with the
state of the sensor it is pointed at. The facts come from the tools' code and docs
(read in 2026; line references would rot, so the file and behaviour are named):

- EV Smart Charging (jonasbkarlsson/ev_smart_charging, helpers/price_adaptor.py and
  helpers/raw.py): uses `prices_today`/`prices_tomorrow` if present, else `raw_today`/
  `raw_tomorrow` (both must exist; tomorrow may be empty), else `prices`/`data`/
  `forecast`. The start key is the first of time, start, hour, start_time, datetime in
  the first item, the value key the first of price, value, price_ct_per_kwh,
  electricity_price. `start` is an aware datetime or an ISO string. The spacing is the
  difference of the *minute fields* of the first two items: 0 is read as hourly (each item
  becomes four quarters), 15 as quarter-hourly, anything else is refused ("Periodicity N
  minutes not supported"). Today is the items whose `start.date()` equals Home
  Assistant's local date, and more than 12 of them are needed.
- cheapest-energy-hours (TheFes/cheapest-energy-hours, cheapest_energy_hours.jinja): by
  default reads attribute `prices` when it is a non-empty list of mappings, else
  `raw_today` + `raw_tomorrow`; time key `start`, value key `value`, and when the value
  key is missing from the first item, the first key whose value is a number.
  `source_settings='nordpool'` reads only `raw_today` + `raw_tomorrow` with start/value.
  Times are parsed with `as_datetime` and compared in UTC.
- Predbat (springfall2008/batpred, apps/predbat/octopus.py): reads the first non-empty
  of `rates`, `all_rates`, `raw_today`, `prices`, adds `raw_tomorrow` (for entities not
  named `*_current_rate`), picks keys start/end/value when the items have neither `rate`
  nor `valid_from`, and multiplies by 100 (major units to minor). It reads states over
  Home Assistant's API, so datetimes arrive as ISO strings.
- EMHASS (davidusb-geek/emhass, docs/forecasts.md and docs/config.md): no detection; a
  cost forecast is passed as a list of values at `optimization_time_step` (default 30
  minutes), built by the user's template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homeassistant.helpers.template import Template
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.flatpeak.const import CONF_PRICE_RESOLUTION, DOMAIN
from tests.helpers import HOME_ID, LONDON
from tests.simulator.state import PriceSlot

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant, State

    from tests.simulator import RunningSimulator, SimulatorState

CURRENT = "sensor.home_current_price"
QUARTER = timedelta(minutes=15)
# A winter Wednesday: Europe/London is UTC, so local and UTC times read the same.
MIDDAY = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)


class Refused(Exception):  # noqa: N818 - the tool's word for it
    """The tool would not use the sensor."""


# --- EV Smart Charging ------------------------------------------------------------

EVSC_START_KEYS = ("time", "start", "hour", "start_time", "datetime")
EVSC_VALUE_KEYS = ("price", "value", "price_ct_per_kwh", "electricity_price")


@dataclass(frozen=True)
class Quarter:
    """One quarter-hour price as EV Smart Charging plans with."""

    start: datetime
    value: float


def _evsc_keys(first: Mapping[str, Any]) -> tuple[str, str]:
    """Return the start and value keys it finds in the first item (KeyError if none)."""
    start_key = next((key for key in EVSC_START_KEYS if key in first), None)
    value_key = next((key for key in EVSC_VALUE_KEYS if key in first), None)
    if start_key is None or value_key is None:
        raise KeyError(EVSC_START_KEYS if start_key is None else EVSC_VALUE_KEYS)
    return start_key, value_key


def ev_smart_charging_today(
    attributes: Mapping[str, Any], local_now: datetime
) -> list[Quarter]:
    """Return today's quarters as EV Smart Charging derives them; raise Refused."""
    if "prices_today" in attributes:
        names = ("prices_today", "prices_tomorrow")
    elif "raw_today" in attributes:
        names = ("raw_today", "raw_tomorrow")
    else:
        raise Refused("sensor_is_not_price")
    try:
        items = list(attributes[names[0]] or []) + list(attributes[names[1]] or [])
        start_key, value_key = _evsc_keys(items[0])
    except KeyError, IndexError:
        raise Refused("sensor_is_not_price") from None

    def start_of(item: Mapping[str, Any]) -> datetime:
        start = item[start_key]
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if not isinstance(start, datetime) or start.tzinfo is None:
            raise Refused("sensor_is_not_price")
        return start

    starts = [start_of(item) for item in items]
    spacing = starts[1].minute - starts[0].minute if len(starts) > 1 else None
    if spacing == 0:
        repeat = 4
    elif spacing == 15:
        repeat = 1
    else:
        raise Refused(f"Periodicity {spacing} minutes not supported")
    quarters = [
        Quarter(start + index * QUARTER, float(item[value_key]))
        for start, item in zip(starts, items, strict=True)
        for index in range(repeat)
    ]
    today = [q for q in quarters if q.start.date() == local_now.date()]
    if len(today) <= 12:
        raise Refused("Price sensor not valid")
    return today


def ev_smart_charging_price_at(quarters: list[Quarter], moment: datetime) -> float:
    """Return the price EV Smart Charging takes for `moment`."""
    return next(q.value for q in quarters if q.start <= moment < q.start + QUARTER)


# --- cheapest-energy-hours ------------------------------------------------------------


def cheapest_energy_hours_data(
    attributes: Mapping[str, Any], *, nordpool: bool = False
) -> list[tuple[datetime, float]]:
    """Return the (start in UTC, value) rows the macro works on."""
    every = None if nordpool else attributes.get("prices")
    if isinstance(every, list) and every and isinstance(every[0], dict):
        data = every
    else:
        data = list(attributes.get("raw_today") or []) + list(
            attributes.get("raw_tomorrow") or []
        )
    time_key, value_key = "start", "value"
    if data and value_key not in data[0]:
        value_key = next(
            key
            for key, value in data[0].items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        )
    return [
        (_as_datetime(row[time_key]).astimezone(UTC), row[value_key]) for row in data
    ]


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def cheapest_window(rows: list[tuple[datetime, float]], hours: float) -> datetime:
    """Return the start of the cheapest contiguous block of `hours` in the rows."""
    step = rows[1][0] - rows[0][0]
    count = int(timedelta(hours=hours) / step)
    best: tuple[float, datetime] | None = None
    for first in range(len(rows) - count + 1):
        window = rows[first : first + count]
        if window[-1][0] - window[0][0] != step * (count - 1):
            continue  # not contiguous
        average = sum(value for _start, value in window) / count
        if best is None or average < best[0]:
            best = (average, window[0][0])
    assert best is not None
    return best[1]


# --- Predbat ---------------------------------------------------------------------------


def predbat_rates(
    entity_id: str, attributes: Mapping[str, Any]
) -> dict[datetime, float]:
    """Return Predbat's per-minute import rates in minor units, keyed by UTC minute."""
    data: list[dict[str, Any]] = []
    for name in ("rates", "all_rates", "raw_today", "prices"):
        if attributes.get(name):
            data = list(attributes[name])
            break
    if "_current_rate" not in entity_id:
        data += attributes.get("raw_tomorrow") or []
    rate_key, from_key, to_key, scale = "rate", "from", "to", 1.0
    if rate_key not in data[0]:
        rate_key, from_key, to_key = "value_inc_vat", "valid_from", "valid_to"
    if from_key not in data[0]:
        from_key, to_key, scale = "start", "end", 100.0
    if rate_key not in data[0]:
        rate_key = "value"
    rates: dict[datetime, float] = {}
    for item in data:
        minute = datetime.fromisoformat(item[from_key]).astimezone(UTC)
        end = datetime.fromisoformat(item[to_key]).astimezone(UTC)
        while minute < end:
            rates[minute] = float(item[rate_key]) * scale
            minute += timedelta(minutes=1)
    return rates


def over_the_api(state: State) -> dict[str, Any]:
    """Return a state's attributes as a client of Home Assistant's API receives them."""
    decoded: dict[str, Any] = json.loads(state.as_dict_json)
    return dict(decoded["attributes"])


# --- EMHASS ----------------------------------------------------------------------------

EMHASS_COST_FORECAST = """
{%- set e = 'sensor.home_current_price' -%}
{{ ((state_attr(e, 'raw_today') or []) + (state_attr(e, 'raw_tomorrow') or []))
   | selectattr('end', 'gt', now()) | map(attribute='value') | list }}
"""


# --- set-up ----------------------------------------------------------------------------

type Start = Callable[..., Awaitable[State]]


@pytest.fixture
def start(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
) -> Start:
    """Start the integration at an instant with a price resolution; return the state."""

    async def started(
        now: datetime = MIDDAY,
        resolution: int | None = None,
        hass_zone: str = "Europe/London",
    ) -> State:
        options = dict(mock_config_entry.options)
        if resolution is not None:
            options[CONF_PRICE_RESOLUTION] = resolution
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=mock_config_entry.title,
            unique_id=mock_config_entry.unique_id,
            data=dict(mock_config_entry.data),
            options=options,
        )
        freezer.move_to(now)
        await hass.config.async_set_time_zone(hass_zone)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        state = hass.states.get(CURRENT)
        assert state is not None
        return state

    return started


def _slots(
    day: date, lengths: list[int], value: Callable[[int], float]
) -> list[PriceSlot]:
    """Consecutive slots from local midnight of `day` with the given minute lengths."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=LONDON)
    slots = []
    for index, minutes in enumerate(lengths):
        end = start + timedelta(minutes=minutes)
        slots.append(PriceSlot(start, end, value(index)))
        start = end
    return slots


def _two_days(lengths: list[int], value: Callable[[int], float]) -> list[PriceSlot]:
    today = MIDDAY.date()
    return [
        *_slots(today, lengths, value),
        *_slots(today + timedelta(days=1), lengths, value),
    ]


# A mixed day: hourly at night, half-hourly by day, quarter-hourly in the evening peak.
MIXED = [60] * 6 + [30] * 24 + [15] * 16 + [60] * 2
TARIFFS = {
    "15-minute": [15] * 96,
    "30-minute": [30] * 48,
    "60-minute": [60] * 24,
    "mixed": MIXED,
}


def _price(index: int) -> float:
    """Distinct prices with four decimals, some of them negative."""
    return round(0.3 - (index * 37 % 23) / 50, 4)


# --- the contracts ----------------------------------------------------------------------


@pytest.mark.parametrize("tariff", list(TARIFFS))
@pytest.mark.parametrize("resolution", [15, 30, 60])
async def test_every_resolution_and_tariff(
    simulator_state: SimulatorState, start: Start, tariff: str, resolution: int
) -> None:
    """Cells keep every price at or above the slot length and average only below it."""
    slots = _two_days(TARIFFS[tariff], _price)
    simulator_state.set_prices(HOME_ID, slots)
    state = await start(resolution=resolution)
    step = timedelta(minutes=resolution)
    for name in ("raw_today", "raw_tomorrow"):
        cells = state.attributes[name]
        assert len(cells) == 24 * 60 // resolution
        for cell in cells:
            assert list(cell) == ["start", "end", "value", "confidence"]
            assert cell["start"].tzinfo is not None
            assert cell["end"] - cell["start"] == step
            assert isinstance(cell["value"], float)
            inside = [
                s for s in slots if s.start < cell["end"] and s.end > cell["start"]
            ]
            weighted = sum(
                s.value
                * (
                    min(s.end, cell["end"]) - max(s.start, cell["start"])
                ).total_seconds()
                for s in inside
            )
            assert cell["value"] == pytest.approx(weighted / step.total_seconds())
            if len(inside) == 1:
                assert cell["value"] == inside[0].value  # repeated, never averaged
    assert state.attributes["tomorrow_valid"] is True
    assert float(state.state) == next(
        s.value for s in slots if s.start <= MIDDAY < s.end
    )


@pytest.mark.parametrize(
    ("resolution", "accepted"), [(15, True), (30, False), (60, True)]
)
async def test_ev_smart_charging(
    hass: HomeAssistant, start: Start, resolution: int, *, accepted: bool
) -> None:
    """EV Smart Charging accepts the 15- and 60-minute grids and plans on our prices."""
    state = await start(resolution=resolution)
    local_now = dt_util.now()
    if not accepted:
        with pytest.raises(Refused, match="Periodicity 30 minutes not supported"):
            ev_smart_charging_today(state.attributes, local_now)
        return
    quarters = ev_smart_charging_today(state.attributes, local_now)
    assert len(quarters) == 96
    if resolution == 15:
        assert ev_smart_charging_price_at(quarters, MIDDAY) == float(state.state)
    # Over the API the starts are ISO strings with offsets, which it accepts as well.
    assert len(ev_smart_charging_today(over_the_api(state), local_now)) == 96
    assert hass.states.get(CURRENT) is not None


async def test_ev_smart_charging_before_tomorrow_is_known(
    simulator_state: SimulatorState, start: Start
) -> None:
    """Tomorrow unknown: raw_tomorrow is an empty list, which it accepts."""
    simulator_state.set_prices(HOME_ID, _slots(MIDDAY.date(), [30] * 48, _price))
    state = await start()
    assert state.attributes["raw_tomorrow"] == []
    assert state.attributes["tomorrow_valid"] is False
    quarters = ev_smart_charging_today(state.attributes, dt_util.now())
    assert len(quarters) == 96
    assert cheapest_energy_hours_data(state.attributes, nordpool=True)[-1][0] == (
        datetime(2026, 11, 25, 23, 45, tzinfo=UTC)
    )


@pytest.mark.parametrize("resolution", [15, 60])
@pytest.mark.parametrize(
    ("now", "hours"),
    [
        (datetime(2026, 3, 29, 12, tzinfo=UTC), 23),  # clocks go forward
        (datetime(2026, 10, 25, 12, tzinfo=UTC), 25),  # clocks go back
    ],
)
async def test_clock_change_days(
    start: Start, now: datetime, hours: int, resolution: int
) -> None:
    """On both clock-change days EV Smart Charging and Predbat read the whole day."""
    state = await start(now=now, resolution=resolution)
    assert len(state.attributes["raw_today"]) == hours * 60 // resolution
    quarters = ev_smart_charging_today(state.attributes, dt_util.now())
    assert len(quarters) == hours * 4
    rates = predbat_rates(CURRENT, over_the_api(state))
    assert len(rates) == (hours + 24) * 60
    if resolution == 15:
        assert rates[now] == pytest.approx(float(state.state) * 100)


async def test_cheapest_energy_hours_finds_the_quarter(
    simulator_state: SimulatorState, start: Start
) -> None:
    """On a 15-minute tariff the cheapest hour starting at 02:15 is found as 02:15."""
    cheap = {9, 10, 11, 12}  # 02:15 to 03:15

    def value(index: int) -> float:
        return 0.05 if index in cheap else 0.2 + (index % 4) / 100

    simulator_state.set_prices(HOME_ID, _two_days([15] * 96, value))
    state = await start()
    for nordpool in (True, False):
        rows = cheapest_energy_hours_data(state.attributes, nordpool=nordpool)
        assert len(rows) == 192
        assert cheapest_window(rows[:96], 1) == datetime(
            2026, 11, 25, 2, 15, tzinfo=UTC
        )


async def test_cheapest_energy_hours_default_settings(start: Start) -> None:
    """Without settings it falls back from `prices` to raw_* and finds start/value."""
    state = await start()
    assert "prices" not in state.attributes
    default = cheapest_energy_hours_data(state.attributes)
    assert default == cheapest_energy_hours_data(state.attributes, nordpool=True)
    # Were the value key missing, the first number would be taken: the value, not the
    # confidence, because `value` comes first.
    renamed = [
        {"start": item["start"], "end": item["end"], "cost": item["value"], **item}
        for item in state.attributes["raw_today"]
    ]
    for item in renamed:
        del item["value"]
    guessed = cheapest_energy_hours_data({"prices": renamed})
    assert [v for _s, v in guessed] == [v for _s, v in default[:96]]


async def test_negative_prices(simulator_state: SimulatorState, start: Start) -> None:
    """Negative prices pass through unchanged and are the cheapest."""
    simulator_state.set_prices(
        HOME_ID, _two_days([30] * 48, lambda i: -0.1234 if i == 30 else 0.2)
    )
    state = await start()
    cells = state.attributes["raw_today"]
    assert [c["value"] for c in cells[60:62]] == [-0.1234, -0.1234]
    rows = cheapest_energy_hours_data(state.attributes, nordpool=True)
    assert cheapest_window(rows[:96], 0.5) == datetime(2026, 11, 25, 15, tzinfo=UTC)
    quarters = ev_smart_charging_today(state.attributes, dt_util.now())
    assert min(q.value for q in quarters) == -0.1234
    rates = predbat_rates(CURRENT, over_the_api(state))
    assert rates[datetime(2026, 11, 25, 15, 10, tzinfo=UTC)] == pytest.approx(-12.34)


async def test_predbat(start: Start) -> None:
    """Predbat reads raw_today and raw_tomorrow over the API, in minor units."""
    state = await start()
    rates = predbat_rates(CURRENT, over_the_api(state))
    assert len(rates) == 2 * 24 * 60
    assert rates[MIDDAY] == pytest.approx(float(state.state) * 100)


@pytest.mark.parametrize("resolution", [15, 30, 60])
async def test_emhass_cost_forecast(
    hass: HomeAssistant, start: Start, resolution: int
) -> None:
    """The README's template gives EMHASS a list of values at its time step."""
    state = await start(resolution=resolution)
    forecast = Template(EMHASS_COST_FORECAST, hass).async_render()
    remaining = [
        c
        for c in state.attributes["raw_today"] + state.attributes["raw_tomorrow"]
        if c["end"] > MIDDAY
    ]
    assert forecast == [c["value"] for c in remaining]
    assert all(isinstance(value, float) for value in forecast)
    # EMHASS plans 24 hours ahead by default: enough steps are there.
    assert len(forecast) >= 24 * 60 // resolution
    if resolution != 60:
        assert forecast[0] == float(state.state)


async def test_location_in_another_time_zone(
    simulator_state: SimulatorState, start: Start
) -> None:
    """The location's day wins: its tariff's days, shared by the day statistics.

    Home Assistant runs in Berlin, the location is in London. raw_today starts at London
    midnight (01:00 in Berlin) and every start carries London's offset, so tools that
    compare instants (cheapest-energy-hours, Predbat, EMHASS's template) place each price
    right. EV Smart Charging compares each start's own date with Home Assistant's date:
    at midday both agree and it reads the whole London day.
    """
    slots = _two_days([30] * 48, _price)
    simulator_state.set_prices(HOME_ID, slots)
    state = await start(hass_zone="Europe/Berlin")
    first = state.attributes["raw_today"][0]["start"]
    assert first == datetime(2026, 11, 25, tzinfo=LONDON)
    assert first.utcoffset() == timedelta(0)
    assert dt_util.as_local(first).hour == 1
    quarters = ev_smart_charging_today(state.attributes, dt_util.now())
    assert len(quarters) == 96
    assert ev_smart_charging_price_at(quarters, MIDDAY) == float(state.state)
    rates = predbat_rates(CURRENT, over_the_api(state))
    assert rates[MIDDAY] == pytest.approx(float(state.state) * 100)
    assert ZoneInfo("Europe/Berlin") == dt_util.get_default_time_zone()


# --- what the README tells users to paste ------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_yaml(marker: str) -> Any:
    """Return the YAML block that follows `<!-- marker -->` in the README."""
    text = README.read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    block = after.split("```yaml\n", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)


async def test_readme_emhass_payload(hass: HomeAssistant, start: Start) -> None:
    """The README's rest_command payload renders to JSON EMHASS accepts."""
    state = await start(resolution=30)
    command = _readme_yaml("emhass-payload")["rest_command"]["emhass_mpc"]
    payload = json.loads(
        Template(command["payload"], hass).async_render(parse_result=False)
    )
    remaining = [
        c["value"]
        for c in state.attributes["raw_today"] + state.attributes["raw_tomorrow"]
        if c["end"] > MIDDAY
    ]
    assert payload["load_cost_forecast"] == remaining
    assert payload["prediction_horizon"] == 48
    assert payload["load_cost_forecast"][0] == float(state.state)


async def test_readme_price_card(
    hass: HomeAssistant, simulator_state: SimulatorState, start: Start
) -> None:
    """The README's Markdown card lists the next six hours, now in bold, cheapest starred."""
    simulator_state.set_prices(
        HOME_ID, _two_days([30] * 48, lambda i: 0.05 if i == 28 else 0.2 + i / 1000)
    )
    state = await start()
    card = _readme_yaml("price-card")
    assert card["type"] == "markdown"
    content = Template(card["content"], hass).async_render(parse_result=False)
    rows = [line for line in content.splitlines() if line.startswith("|")]
    assert rows[0] == "| | Time | Price (GBP/kWh) |"
    body = rows[2:]
    assert len(body) == 25  # the cell now (12:00) to the one holding 18:05
    assert body[0] == f"|  | **12:00** | {float(state.state):.4f} |"
    starred = [row for row in body if row.startswith("| ★")]
    assert starred == ["| ★ | 14:00 | 0.0500 |", "| ★ | 14:15 | 0.0500 |"]

    simulator_state.set_prices(HOME_ID, [])
    await hass.config_entries.async_reload(
        hass.config_entries.async_entries(DOMAIN)[0].entry_id
    )
    await hass.async_block_till_done()
    content = Template(card["content"], hass).async_render(parse_result=False)
    assert "No prices known for the coming hours." in content
