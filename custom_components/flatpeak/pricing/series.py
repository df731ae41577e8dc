"""Price arithmetic on cached slots: what applies now, next, and over a local day.

Everything here is computed from the slots already fetched, so entities can change state
at slot boundaries without calling the API.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ..api.models import TariffDirection

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from homeassistant.util.json import JsonValueType

    from ..api.models import PriceSlot

GRID: timedelta = timedelta(minutes=30)

# Cell lengths (minutes) offered for the Nord Pool-shaped series. European day-ahead
# markets trade in 15-minute slots since 2025; tools built for Nord Pool expect 15- or
# 60-minute spacing (EV Smart Charging refuses anything else), so 15 is the default.
RESOLUTIONS: tuple[int, ...] = (15, 30, 60)
DEFAULT_RESOLUTION: int = 15
# Averages of several slots are rounded so that float noise (0.15000000000000002)
# does not reach users; six decimals is far below any tariff's precision.
AVERAGE_DIGITS = 6


class PriceCell(NamedTuple):
    """One cell of a fixed grid: the time-weighted price and the least confidence."""

    start: datetime
    end: datetime
    value: float
    confidence: float | None


@dataclass(frozen=True, slots=True)
class DayStatistics:
    """Lowest, highest and time-weighted average price over the covered part of a day."""

    lowest: PriceSlot
    highest: PriceSlot
    average: float
    start: datetime
    end: datetime


def _resolve_overlaps(ordered: list[PriceSlot]) -> list[PriceSlot]:
    """Cut slots (in start order) into pieces, each priced by the latest-starting slot."""
    bounds = sorted({t for slot in ordered for t in (slot.valid_from, slot.valid_to)})
    pieces: list[PriceSlot] = []
    sources: list[PriceSlot] = []
    for start, end in pairwise(bounds):
        covering = [s for s in ordered if s.valid_from <= start and s.valid_to >= end]
        if not covering:
            continue
        winner = covering[-1]
        if sources and sources[-1] is winner and pieces[-1].valid_to == start:
            pieces[-1] = replace(pieces[-1], valid_to=end)
        else:
            pieces.append(replace(winner, valid_from=start, valid_to=end))
            sources.append(winner)
    return pieces


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Non-overlapping price slots in time order, with lookups by instant."""

    slots: tuple[PriceSlot, ...]
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the slot starts for bisection."""
        object.__setattr__(
            self, "_starts", tuple(slot.valid_from for slot in self.slots)
        )

    @classmethod
    def from_slots(cls, slots: Iterable[PriceSlot]) -> PriceSeries:
        """Order slots by start; where slots overlap, the later start wins the overlap.

        An earlier, longer slot still applies outside the later one: a short slot
        inside a long one leaves no gap behind it.
        """
        given = tuple(slots)
        # `Prices.slots` are already in time order: only other input is sorted here.
        if all(a.valid_to <= b.valid_from for a, b in pairwise(given)):
            return cls(given)
        ordered = sorted(given, key=lambda slot: slot.valid_from)
        return cls(tuple(_resolve_overlaps(ordered)))

    def slot_at(self, moment: datetime) -> PriceSlot | None:
        """Return the slot that applies at `moment`, if any."""
        index = bisect_right(self._starts, moment) - 1
        if index >= 0 and moment < self.slots[index].valid_to:
            return self.slots[index]
        return None

    def next_slot(self, moment: datetime) -> PriceSlot | None:
        """Return the first slot starting after the one that applies at `moment`."""
        current = self.slot_at(moment)
        boundary = current.valid_to if current else moment
        index = bisect_right(self._starts, boundary - timedelta(microseconds=1))
        return self.slots[index] if index < len(self.slots) else None

    def covers(self, moment: datetime) -> bool:
        """Whether a price is known for `moment`."""
        return self.slot_at(moment) is not None

    def between(self, start: datetime, end: datetime) -> list[PriceSlot]:
        """Return the slots that overlap [start, end)."""
        first = max(bisect_right(self._starts, start) - 1, 0)
        return [
            slot
            for slot in self.slots[first:]
            if slot.valid_from < end and slot.valid_to > start
        ]

    def next_boundary(self, after: datetime) -> datetime | None:
        """Return the first instant after `after` where the applicable slot changes."""
        current = self.slot_at(after)
        if current is not None:
            return current.valid_to
        index = bisect_right(self._starts, after)
        return self.slots[index].valid_from if index < len(self.slots) else None

    def statistics(self, start: datetime, end: datetime) -> DayStatistics | None:
        """Summarise [start, end); None when no slot overlaps it."""
        overlapping = self.between(start, end)
        if not overlapping:
            return None
        weighted, covered = _weigh(overlapping, start, end)
        return DayStatistics(
            lowest=min(overlapping, key=lambda slot: slot.value),
            highest=max(overlapping, key=lambda slot: slot.value),
            average=weighted / covered,
            start=max(overlapping[0].valid_from, start),
            end=min(overlapping[-1].valid_to, end),
        )

    def grid(
        self, start: datetime, end: datetime, step: timedelta = GRID
    ) -> list[tuple[datetime, datetime, float]]:
        """Resample [start, end) onto a fixed grid of `step`, time-weighted.

        Cells not fully covered by slots are left out rather than guessed.
        """
        cells: list[tuple[datetime, datetime, float]] = []
        cell_start = start
        while cell_start < end:
            cell_end = min(cell_start + step, end)
            weighted, covered = _weigh(
                self.between(cell_start, cell_end), cell_start, cell_end
            )
            if covered and covered >= (cell_end - cell_start).total_seconds():
                cells.append((cell_start, cell_end, weighted / covered))
            cell_start = cell_end
        return cells

    def cells(self, start: datetime, end: datetime, step: timedelta) -> list[PriceCell]:
        """Lay [start, end) out on cells of `step`; leave out cells not fully covered.

        A cell inside one slot takes that slot's price unchanged, so slots longer than
        the step repeat and are never averaged; a cell spanning several slots gets
        their time-weighted average and the lowest of their confidences.
        """
        slots = self.slots
        count = len(slots)
        index = max(bisect_right(self._starts, start) - 1, 0)
        cells: list[PriceCell] = []
        cell_start = start
        while cell_start < end:
            cell_end = min(cell_start + step, end)
            while index < count and slots[index].valid_to <= cell_start:
                index += 1
            overlapping: list[PriceSlot] = []
            probe = index
            while probe < count and slots[probe].valid_from < cell_end:
                overlapping.append(slots[probe])
                probe += 1
            cell = _cell(overlapping, cell_start, cell_end)
            if cell is not None:
                cells.append(cell)
            cell_start = cell_end
        return cells

    def covers_span(self, start: datetime, end: datetime) -> bool:
        """Whether prices are known for every instant of [start, end)."""
        _weighted, covered = _weigh(self.between(start, end), start, end)
        return covered >= (end - start).total_seconds()


def _cell(
    overlapping: Sequence[PriceSlot], start: datetime, end: datetime
) -> PriceCell | None:
    if not overlapping:
        return None
    if len(overlapping) == 1:
        slot = overlapping[0]
        if slot.valid_from <= start and slot.valid_to >= end:
            return PriceCell(start, end, slot.value, slot.confidence)
        return None
    weighted, covered = _weigh(overlapping, start, end)
    if covered < (end - start).total_seconds():
        return None
    confidences = [slot.confidence for slot in overlapping]
    return PriceCell(
        start,
        end,
        round(weighted / covered, AVERAGE_DIGITS),
        # The least of them; unknown when any of them is unknown.
        None if None in confidences else min(c for c in confidences if c is not None),
    )


def _weigh(
    slots: Iterable[PriceSlot], start: datetime, end: datetime
) -> tuple[float, float]:
    """Return (sum of price * seconds, seconds covered) of slots clipped to [start, end)."""
    weighted = covered = 0.0
    for slot in slots:
        seconds = (
            min(slot.valid_to, end) - max(slot.valid_from, start)
        ).total_seconds()
        weighted += slot.value * seconds
        covered += seconds
    return weighted, covered


def local_day(
    moment: datetime, zone: tzinfo, offset_days: int = 0
) -> tuple[datetime, datetime]:
    """Return the UTC bounds of the local calendar day containing `moment` (23 to 25 h)."""
    day = moment.astimezone(zone).date() + timedelta(days=offset_days)
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def cells_as_dicts(cells: Iterable[PriceCell], zone: tzinfo) -> list[dict[str, Any]]:
    """Serialise cells as Nord Pool's `raw_*` items, in local time.

    Key order is part of the contract: `start`, `end`, then `value` as the first number
    (tools that guess the value key take the first numeric one), then `confidence`.
    `start`/`end` stay datetimes, as Nord Pool's do; adjacent cells share one object
    for their common boundary, which halves what the series holds in memory.
    """
    items: list[dict[str, Any]] = []
    boundary_utc: datetime | None = None
    boundary_local: datetime | None = None
    for cell in cells:
        if cell.start == boundary_utc and boundary_local is not None:
            start = boundary_local
        else:
            start = cell.start.astimezone(zone)
        boundary_utc, boundary_local = cell.end, cell.end.astimezone(zone)
        items.append(
            {
                "start": start,
                "end": boundary_local,
                "value": cell.value,
                "confidence": cell.confidence,
            }
        )
    return items


def day_series(
    series: PriceSeries, now: datetime, zone: tzinfo, minutes: int
) -> dict[str, Any]:
    """Return `tomorrow_valid`, `raw_today` and `raw_tomorrow` for the local day of `now`.

    Days are the location's local days (`zone`): the tariff's days, the same days as
    the today/tomorrow statistics, and a series a tool may re-split by its own zone as
    every `start` carries its offset.
    """
    step = timedelta(minutes=minutes)
    today = local_day(now, zone)
    tomorrow = local_day(now, zone, 1)
    return {
        "tomorrow_valid": series.covers_span(*tomorrow),
        "raw_today": cells_as_dicts(series.cells(*today, step), zone),
        "raw_tomorrow": cells_as_dicts(series.cells(*tomorrow, step), zone),
    }


# Contract: how actions and target windows name a direction.
DIRECTION_OPTIONS: Final = tuple(direction.lower() for direction in TariffDirection)
# Home Assistant's Energy dashboard accepts a price whose unit ends in /kWh.
_PER_KWH: Final = "/kWh"


def direction_from_option(option: str) -> TariffDirection:
    """Return the direction an action's or target window's option names."""
    return TariffDirection(option.upper())


def price_unit(currency: str | None) -> str | None:
    """Return the unit of a price per kWh in a currency (e.g. GBP/kWh)."""
    return f"{currency}{_PER_KWH}" if currency else None


def slots_as_dicts(slots: Sequence[PriceSlot], zone: tzinfo) -> list[JsonValueType]:
    """Serialise slots for attributes and action responses, in local time."""
    return [
        {
            "start": slot.valid_from.astimezone(zone).isoformat(),
            "end": slot.valid_to.astimezone(zone).isoformat(),
            "price": slot.value,
            "confidence": slot.confidence,
        }
        for slot in slots
    ]
