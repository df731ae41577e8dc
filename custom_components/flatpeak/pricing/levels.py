"""Where the price now stands in its local day: level, rank, and the slot before it.

Pure functions over the slots already fetched (no Home Assistant, no I/O), so that the
entities built on them change state at slot boundaries without calling the API.

The level rule is a contract: automations rely on it (when another integration changed
what its levels meant, its users' automations broke). Change it only with a release note.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..api.models import PriceSlot
    from .series import PriceSeries


class PriceLevel(StrEnum):
    """How a price compares with the other prices of its local day (contract)."""

    VERY_CHEAP = "very_cheap"
    CHEAP = "cheap"
    NORMAL = "normal"
    EXPENSIVE = "expensive"
    VERY_EXPENSIVE = "very_expensive"


LEVEL_OPTIONS: Final = [level.value for level in PriceLevel]
# Levels at the low end: what `cheap_now` is on for.
CHEAP_LEVELS: Final = frozenset({PriceLevel.VERY_CHEAP, PriceLevel.CHEAP})
# Levels at the high end: what `export_price_high_now` is on for.
EXPENSIVE_LEVELS: Final = frozenset({PriceLevel.EXPENSIVE, PriceLevel.VERY_EXPENSIVE})

# The rule (contract): a price's percentile is the share of the day's priced time at a
# lower price, plus half the share at the same price (the "mid-rank", so that a flat
# day is 0.5 everywhere and a two-rate day's dear rate does not count as cheap). Its
# level is the fifth of [0, 1] it falls in, the middle fifth closed on both sides so
# that import and export mirror each other:
#   percentile < 0.2 very_cheap; < 0.4 cheap; 0.4-0.6 normal; <= 0.8 expensive; else
#   very_expensive.
# Kept as fifths (numerators over 5) so that the comparisons are exact.
LEVEL_FIFTHS: Final = (1, 2, 3, 4)
_MICROSECOND: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayPlace:
    """Where one slot's price stands among the slots of its local day."""

    level: PriceLevel
    # 1 = the cheapest slot (the dearest when ranked for export); equal prices share
    # the best rank they tie for (1, 2, 2, 4).
    rank: int
    # How many slots the day has (a slot crossing midnight counts in both days).
    slot_count: int
    # The share of the day's priced time below the price, ties counted half (0 to 1).
    percentile: float


def _overlap(slot: PriceSlot, start: datetime, end: datetime) -> int:
    """Return how many microseconds of [start, end) a slot covers.

    In UTC: two datetimes of one zone subtract by their wall clocks, which is an hour
    off across a clock change.
    """
    covered = min(slot.valid_to, end).astimezone(UTC) - max(
        slot.valid_from, start
    ).astimezone(UTC)
    return max(covered // _MICROSECOND, 0)


def level_of(below: int, equal: int, total: int) -> PriceLevel:
    """Return the level of a price from the time priced below and equal to it.

    `below` + `equal` <= `total`, all in the same unit; `equal` > 0 (the price's own slot).
    """
    # percentile = (below + equal / 2) / total, compared with k/5 without division.
    scaled = 5 * (2 * below + equal)
    bound = [2 * total * k for k in LEVEL_FIFTHS]
    if scaled < bound[0]:
        return PriceLevel.VERY_CHEAP
    if scaled < bound[1]:
        return PriceLevel.CHEAP
    if scaled <= bound[2]:
        return PriceLevel.NORMAL
    if scaled <= bound[3]:
        return PriceLevel.EXPENSIVE
    return PriceLevel.VERY_EXPENSIVE


def place_in_day(
    slot: PriceSlot,
    day_slots: Sequence[PriceSlot],
    day_start: datetime,
    day_end: datetime,
    *,
    dearest_first: bool = False,
) -> DayPlace:
    """Place `slot` (one of `day_slots`) among the slots overlapping [day_start, day_end).

    Time is weighed within the day only: the part of a slot in another day does not
    count. The level describes the price (very_cheap is the lowest in either direction);
    the rank counts from the cheapest, or from the dearest with `dearest_first` (export).
    """
    price = slot.value
    below = equal = total = 0
    better = 0
    for other in day_slots:
        weight = _overlap(other, day_start, day_end)
        total += weight
        if other.value < price:
            below += weight
        elif other.value == price:
            equal += weight
        if (other.value > price) if dearest_first else (other.value < price):
            better += 1
    return DayPlace(
        level=level_of(below, equal, total),
        rank=better + 1,
        slot_count=len(day_slots),
        percentile=(below + equal / 2) / total,
    )


def place_at(
    series: PriceSeries,
    moment: datetime,
    day: tuple[datetime, datetime],
    *,
    dearest_first: bool = False,
) -> DayPlace | None:
    """Place the slot in force at `moment` in its local `day`; None without a price."""
    slot = series.slot_at(moment)
    if slot is None:
        return None
    return place_in_day(slot, series.between(*day), *day, dearest_first=dearest_first)


def previous_slot(series: PriceSeries, moment: datetime) -> PriceSlot | None:
    """Return the last slot that ended by the start of the one in force at `moment`.

    Where prices have a gap, this is the last price before the gap (the tolerant
    reading: Flatpeak's docs do not say what "previous" means across missing data).
    With no slot in force, it is the last slot that ended by `moment`.
    """
    current = series.slot_at(moment)
    boundary = (current.valid_from if current is not None else moment).astimezone(UTC)
    # Slots do not overlap, so the last one starting before the boundary ends by it.
    # Compared in UTC: datetimes of one zone compare by wall clock, blind to the fold.
    index = (
        bisect_left(
            series.slots, boundary, key=lambda slot: slot.valid_from.astimezone(UTC)
        )
        - 1
    )
    return series.slots[index] if index >= 0 else None
