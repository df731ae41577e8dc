"""Tests for the price grid: cells, coverage and the Nord Pool-shaped items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from custom_components.flatpeak.api.models import PriceSlot
from custom_components.flatpeak.pricing.series import (
    PriceSeries,
    cells_as_dicts,
    day_series,
    local_day,
)

LONDON = ZoneInfo("Europe/London")
DAY = datetime(2026, 11, 25, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
HALF = timedelta(minutes=30)
HOUR = timedelta(hours=1)


def _slots(
    start: datetime, length: timedelta, values: list[float], confidence: float = 1.0
) -> list[PriceSlot]:
    return [
        PriceSlot(
            valid_from=start + index * length,
            valid_to=start + (index + 1) * length,
            value=value,
            confidence=confidence,
        )
        for index, value in enumerate(values)
    ]


def test_longer_slots_repeat_unchanged() -> None:
    """A 30-minute slot becomes two 15-minute cells of its own price."""
    series = PriceSeries.from_slots(_slots(DAY, HALF, [0.1, 0.25]))
    cells = series.cells(DAY, DAY + HOUR, QUARTER)
    assert [(c.start - DAY, c.value) for c in cells] == [
        (timedelta(0), 0.1),
        (QUARTER, 0.1),
        (HALF, 0.25),
        (3 * QUARTER, 0.25),
    ]


def test_hourly_cells_are_time_weighted_averages() -> None:
    """60-minute cells average the slots inside them by time, with the least confidence."""
    slots = [
        *_slots(DAY, QUARTER, [0.1, 0.2, 0.3, 0.4]),
        *_slots(DAY + HOUR, HALF, [-0.05, 0.15], confidence=0.7),
    ]
    cells = PriceSeries.from_slots(slots).cells(DAY, DAY + 2 * HOUR, HOUR)
    assert [(c.value, c.confidence) for c in cells] == [(0.25, 1.0), (0.05, 0.7)]


def test_cell_with_an_unknown_confidence_has_an_unknown_confidence() -> None:
    """The least confidence of slots one of which is unknown is not known either."""
    slots = [
        *_slots(DAY, HALF, [0.1]),
        replace(_slots(DAY + HALF, HALF, [0.3])[0], confidence=None),
        *_slots(DAY + HOUR, HALF, [0.2, 0.4], confidence=0.5),
    ]
    cells = PriceSeries.from_slots(slots).cells(DAY, DAY + 2 * HOUR, HOUR)
    assert [(c.value, c.confidence) for c in cells] == [(0.2, None), (0.3, 0.5)]


def test_cells_not_fully_covered_are_left_out() -> None:
    """A gap removes the cells it touches; nothing is guessed."""
    slots = [
        *_slots(DAY, QUARTER, [0.1]),
        *_slots(DAY + HALF, QUARTER, [0.3]),
    ]
    series = PriceSeries.from_slots(slots)
    assert [c.start - DAY for c in series.cells(DAY, DAY + HOUR, QUARTER)] == [
        timedelta(0),
        HALF,
    ]
    assert series.cells(DAY, DAY + HOUR, HOUR) == []
    assert not series.covers_span(DAY, DAY + HOUR)
    assert series.covers_span(DAY, DAY + QUARTER)


@pytest.mark.parametrize(
    ("day", "minutes", "count"),
    [
        (datetime(2026, 3, 29, 12, tzinfo=UTC), 15, 92),
        (datetime(2026, 3, 29, 12, tzinfo=UTC), 60, 23),
        (datetime(2026, 10, 25, 12, tzinfo=UTC), 15, 100),
        (datetime(2026, 10, 25, 12, tzinfo=UTC), 60, 25),
        (DAY, 30, 48),
    ],
)
def test_clock_change_days(day: datetime, minutes: int, count: int) -> None:
    """Cells follow the local day: 23 hours in spring, 25 in autumn."""
    start, end = local_day(day, LONDON)
    hours = int((end - start) / HOUR)
    series = PriceSeries.from_slots(_slots(start, HALF, [0.2] * (2 * hours)))
    items = day_series(series, day, LONDON, minutes)["raw_today"]
    assert len(items) == count
    assert items[0]["start"] == start
    assert items[-1]["end"] == end
    # Same-zone datetimes subtract as wall clock times: compare instants in UTC.
    starts = [item["start"].astimezone(UTC) for item in items]
    steps = {b - a for a, b in pairwise(starts)}
    assert steps == {timedelta(minutes=minutes)}


def test_items_in_local_time_with_shared_boundaries() -> None:
    """Items are start, end, value, confidence; a cell's start is its neighbour's end."""
    start = datetime(2026, 6, 1, 23, tzinfo=UTC)  # local midnight in summer
    series = PriceSeries.from_slots(_slots(start, HALF, [0.1, 0.2]))
    items = cells_as_dicts(series.cells(start, start + HOUR, QUARTER), LONDON)
    assert [list(item) for item in items] == [
        ["start", "end", "value", "confidence"]
    ] * 4
    assert items[0]["start"].isoformat() == "2026-06-02T00:00:00+01:00"
    assert items[0]["start"].tzinfo is LONDON
    assert all(a["end"] is b["start"] for a, b in pairwise(items))


def test_tomorrow_valid_needs_all_of_tomorrow() -> None:
    """tomorrow_valid turns true only when every instant of tomorrow has a price."""
    today, tomorrow = local_day(DAY, LONDON), local_day(DAY, LONDON, 1)
    known = _slots(today[0], HOUR, [0.2] * 24)
    partial = PriceSeries.from_slots([*known, *_slots(tomorrow[0], HOUR, [0.3] * 12)])
    result = day_series(partial, DAY, LONDON, 15)
    assert result["tomorrow_valid"] is False
    assert len(result["raw_tomorrow"]) == 48
    full = PriceSeries.from_slots([*known, *_slots(tomorrow[0], HOUR, [0.3] * 24)])
    assert day_series(full, DAY, LONDON, 15)["tomorrow_valid"] is True
    unknown = day_series(PriceSeries.from_slots(known), DAY, LONDON, 15)
    assert unknown["raw_tomorrow"] == []
    assert unknown["tomorrow_valid"] is False


def test_grid_still_resamples_time_weighted() -> None:
    """The older `grid` keeps its meaning: time-weighted cells of `step`, 30 by default."""
    series = PriceSeries.from_slots(_slots(DAY, QUARTER, [0.1, 0.3, 0.5]))
    assert series.grid(DAY, DAY + 2 * HALF) == [(DAY, DAY + HALF, 0.2)]
    assert series.grid(DAY, DAY + HALF, QUARTER) == [
        (DAY, DAY + QUARTER, 0.1),
        (DAY + QUARTER, DAY + HALF, 0.3),
    ]


def test_overlapping_slots_later_start_wins_without_a_gap() -> None:
    """A short slot inside a long one wins its span; the long one applies around it."""
    long = PriceSlot(valid_from=DAY, valid_to=DAY + HOUR, value=0.30, confidence=1.0)
    short = PriceSlot(
        valid_from=DAY + HALF / 2, valid_to=DAY + HALF, value=0.10, confidence=0.9
    )
    after = PriceSlot(
        valid_from=DAY + HOUR - HALF / 2,
        valid_to=DAY + 2 * HOUR,
        value=0.20,
        confidence=1.0,
    )
    series = PriceSeries.from_slots([after, short, long])
    assert [(s.valid_from - DAY, s.valid_to - DAY, s.value) for s in series.slots] == [
        (timedelta(0), HALF / 2, 0.30),
        (HALF / 2, HALF, 0.10),
        (HALF, HOUR - HALF / 2, 0.30),
        (HOUR - HALF / 2, 2 * HOUR, 0.20),
    ]
    # Every instant the slots cover has a price; before the fix 00:40 had none.
    for minutes in range(120):
        assert series.slot_at(DAY + timedelta(minutes=minutes)) is not None
    assert series.slot_at(DAY + timedelta(minutes=40)).value == 0.30  # type: ignore[union-attr]


def test_series_without_overlaps_keeps_its_slots() -> None:
    """Touching slots are kept as they are, even with equal prices."""
    slots = _slots(DAY, HALF, [0.1, 0.1, 0.2])
    assert PriceSeries.from_slots(reversed(slots)).slots == tuple(slots)
