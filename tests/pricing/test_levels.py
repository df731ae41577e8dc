"""The level, rank and previous slot against an oracle that works minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings, strategies as st
import pytest

from custom_components.flatpeak.api.models import PriceSlot
from custom_components.flatpeak.pricing.levels import (
    CHEAP_LEVELS,
    LEVEL_OPTIONS,
    PriceLevel,
    level_of,
    place_at,
    place_in_day,
    previous_slot,
)
from custom_components.flatpeak.pricing.series import PriceSeries, local_day

# Hypothesis's own false alarm about the PRNG it registers for itself (seen on 3.14).
pytestmark = pytest.mark.filterwarnings(
    "ignore:It looks like `register_random`:hypothesis.errors.HypothesisWarning"
)

LONDON = ZoneInfo("Europe/London")
MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
# Local midnights of an ordinary day, the 23-hour day and the 25-hour day of 2026.
DAYS = [
    datetime(2026, 11, 25, tzinfo=LONDON),
    datetime(2026, 3, 29, tzinfo=LONDON),
    datetime(2026, 10, 25, tzinfo=LONDON),
]
# A day of 15-minute slots is 92-100 slots: fewer examples than the window tests, each
# larger, still enough to meet ties, gaps, negative prices and midnight crossings often.
EXAMPLES = 300


def slot(start: datetime, minutes: int, value: float) -> PriceSlot:
    """Return a slot of `minutes` from `start`, in absolute time."""
    end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(LONDON)
    return PriceSlot(valid_from=start, valid_to=end, value=value, confidence=1.0)


@st.composite
def day_of_slots(draw: st.DrawFn) -> tuple[list[PriceSlot], datetime]:
    """Slots over a London day and its edges, and a moment in that day.

    Slots are 15, 30 or 60 minutes (one length or mixed), start up to two hours before
    midnight (so some cross it), sometimes leave gaps, and carry few whole prices, some
    negative, so that ties are common. The moment is a minute of the day, or a slot
    boundary, or the last microsecond before one.
    """
    lengths = draw(st.sampled_from([[15], [30], [60], [15, 30, 60]]))
    midnight = draw(st.sampled_from(DAYS))
    cursor = midnight.astimezone(UTC) - timedelta(minutes=15 * draw(st.integers(0, 8)))
    end = local_day(midnight, LONDON)[1] + timedelta(
        minutes=15 * draw(st.integers(0, 8))
    )
    with_gaps = draw(st.booleans())
    values = draw(st.sampled_from([(-2, 3), (-5, 12), (0, 40)]))
    slots = []
    while cursor < end:
        if with_gaps and draw(st.integers(0, 19)) == 0:
            cursor += timedelta(minutes=15 * draw(st.integers(1, 4)))
        minutes = draw(st.sampled_from(lengths))
        slots.append(
            slot(cursor.astimezone(LONDON), minutes, float(draw(st.integers(*values))))
        )
        cursor += timedelta(minutes=minutes)
    day_start, day_end = local_day(midnight, LONDON)
    boundaries = [
        item.valid_from.astimezone(UTC)
        for item in slots
        if day_start <= item.valid_from < day_end
    ]
    kind = draw(st.sampled_from(["minute", "boundary", "before_boundary"]))
    if kind == "minute" or not boundaries:
        span = int((day_end - day_start) / MINUTE)
        moment = day_start + MINUTE * draw(st.integers(0, span - 1))
    else:
        moment = draw(st.sampled_from(boundaries))
        if kind == "before_boundary" and moment > day_start:
            moment -= MICROSECOND
    event(f"moment: {kind}")
    event(f"lengths {lengths}, {'gaps' if with_gaps else 'no gaps'}")
    event(f"day of {int((day_end - day_start) / timedelta(hours=1))} hours")
    return slots, moment


def minute_prices(slots: list[PriceSlot]) -> dict[datetime, float]:
    """Return the price of every minute the slots cover, keyed by the minute's UTC start."""
    prices: dict[datetime, float] = {}
    for item in slots:
        moment = item.valid_from.astimezone(UTC)
        while moment < item.valid_to.astimezone(UTC):
            prices[moment] = item.value
            moment += MINUTE
    return prices


def oracle(
    slots: list[PriceSlot], moment: datetime, *, dearest_first: bool
) -> tuple[str, int, int, Fraction] | None:
    """Level, rank, slot count and percentile of the slot at `moment`, by the README.

    The day is read minute by minute in London: the percentile is the share of its
    priced minutes below the price plus half the share at it, as an exact fraction; the
    level its fifth; the rank one more than the day's slots priced better.
    """
    current = [item for item in slots if item.valid_from <= moment < item.valid_to]
    if not current:
        return None
    price = current[0].value
    local = moment.astimezone(LONDON)
    prices = minute_prices(slots)
    day = [
        minute for minute in prices if minute.astimezone(LONDON).date() == local.date()
    ]
    below = sum(1 for minute in day if prices[minute] < price)
    equal = sum(1 for minute in day if prices[minute] == price)
    percentile = (Fraction(below) + Fraction(equal, 2)) / len(day)
    if percentile < Fraction(1, 5):
        level = "very_cheap"
    elif percentile < Fraction(2, 5):
        level = "cheap"
    elif percentile <= Fraction(3, 5):
        level = "normal"
    elif percentile <= Fraction(4, 5):
        level = "expensive"
    else:
        level = "very_expensive"
    day_minutes = set(day)
    in_day = [item for item in slots if day_minutes & set(minute_prices([item]))]
    better = [
        item
        for item in in_day
        if (item.value > price if dearest_first else item.value < price)
    ]
    return level, len(better) + 1, len(in_day), percentile


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=day_of_slots(), dearest_first=st.booleans())
def test_level_and_rank_match_the_oracle(
    case: tuple[list[PriceSlot], datetime], dearest_first: bool
) -> None:
    """Level, rank and slot count are the oracle's, at minutes and at boundaries."""
    slots, moment = case
    series = PriceSeries.from_slots(slots)
    place = place_at(
        series, moment, local_day(moment, LONDON), dearest_first=dearest_first
    )
    expected = oracle(slots, moment, dearest_first=dearest_first)
    if expected is None:
        assert place is None
        return
    assert place is not None
    level, rank, slot_count, percentile = expected
    price = series.slot_at(moment).value  # type: ignore[union-attr]
    event("price now negative" if price < 0 else "price now not negative")
    day_prices = [item.value for item in series.between(*local_day(moment, LONDON))]
    event("tied" if day_prices.count(price) > 1 else "not tied")
    event(f"level {level}")
    assert (place.level.value, place.rank, place.slot_count) == (
        level,
        rank,
        slot_count,
    )
    assert place.percentile == pytest.approx(float(percentile))
    assert 0 < place.percentile < 1


@st.composite
def series_and_moment(draw: st.DrawFn) -> tuple[list[PriceSlot], datetime]:
    """A few slots with gaps around a day, and any moment near them."""
    slots, _ = draw(day_of_slots())
    first = slots[0].valid_from.astimezone(UTC)
    last = slots[-1].valid_to.astimezone(UTC)
    span = int((last - first) / MINUTE)
    moment = first + MINUTE * draw(st.integers(-30, span + 30))
    if draw(st.booleans()):
        moment -= MICROSECOND
    return slots, moment


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=series_and_moment())
def test_previous_slot_matches_the_oracle(
    case: tuple[list[PriceSlot], datetime],
) -> None:
    """The previous slot is the last one ended by the start of the current one."""
    slots, moment = case
    current = [item for item in slots if item.valid_from <= moment < item.valid_to]
    # In UTC: datetimes of one zone compare by wall clock, blind to the fold.
    boundary = (current[0].valid_from if current else moment).astimezone(UTC)
    ended = [item for item in slots if item.valid_to.astimezone(UTC) <= boundary]
    expected = (
        max(ended, key=lambda item: item.valid_to.astimezone(UTC)) if ended else None
    )
    assert previous_slot(PriceSeries.from_slots(slots), moment) == expected


def test_the_rule_s_thresholds() -> None:
    """The published thresholds, at and beside each fifth, and the rule's words."""
    # 100 units of time, the price's own slot 2 units: percentile = (below + 1) / 100.
    cases = {
        18: PriceLevel.VERY_CHEAP,  # 0.19
        19: PriceLevel.CHEAP,  # 0.20
        38: PriceLevel.CHEAP,  # 0.39
        39: PriceLevel.NORMAL,  # 0.40
        59: PriceLevel.NORMAL,  # 0.60
        60: PriceLevel.EXPENSIVE,  # 0.61
        79: PriceLevel.EXPENSIVE,  # 0.80
        80: PriceLevel.VERY_EXPENSIVE,  # 0.81
    }
    for below, level in cases.items():
        assert level_of(below, 2, 100) is level, below
    assert LEVEL_OPTIONS == [
        "very_cheap",
        "cheap",
        "normal",
        "expensive",
        "very_expensive",
    ]
    assert {PriceLevel.VERY_CHEAP, PriceLevel.CHEAP} == CHEAP_LEVELS


def test_flat_and_two_rate_days() -> None:
    """The README's examples: a flat day is normal; a two-rate day cheap and expensive."""
    midnight = DAYS[0]
    day = local_day(midnight, LONDON)
    flat = [slot(midnight, 24 * 60, 0.25)]
    place = place_in_day(flat[0], flat, *day)
    assert (place.level, place.rank, place.slot_count) == (PriceLevel.NORMAL, 1, 1)
    low = slot(midnight, 7 * 60, 0.10)
    high = slot(low.valid_to, 17 * 60, 0.30)
    assert place_in_day(low, [low, high], *day).level is PriceLevel.VERY_CHEAP
    assert place_in_day(high, [low, high], *day).level is PriceLevel.EXPENSIVE
    assert place_in_day(high, [low, high], *day).percentile == pytest.approx(15.5 / 24)
    # Export ranks the dearest first; the level still describes the price.
    export = place_in_day(high, [low, high], *day, dearest_first=True)
    assert (export.rank, export.level) == (1, PriceLevel.EXPENSIVE)


def test_ties_share_the_best_rank() -> None:
    """Equal prices share the best rank they tie for (1, 2, 2, 4)."""
    midnight = DAYS[0]
    day = local_day(midnight, LONDON)
    slots = []
    start = midnight
    for value in (1.0, 2.0, 2.0, 3.0):
        slots.append(slot(start, 6 * 60, value))
        start = slots[-1].valid_to
    assert [place_in_day(item, slots, *day).rank for item in slots] == [1, 2, 2, 4]
    assert [
        place_in_day(item, slots, *day, dearest_first=True).rank for item in slots
    ] == [4, 2, 2, 1]
