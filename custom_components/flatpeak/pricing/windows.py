"""The cheapest (or dearest) window of a given length among known price slots.

Pure functions over price slots at their native lengths; nothing here knows Home Assistant.

The rule, which the action and the target-window sensors share:

- The span [earliest_start, latest_end) must be covered by slots without a gap: a window
  chosen while part of the span's prices is unknown could be beaten by the unknown part.
- Slots are clipped to the span, so a slot that `earliest_start` falls inside counts only
  for its remaining part, and one that `latest_end` falls inside only up to there.
- A contiguous window starts at the start of a clipped slot (a slot boundary, or
  `earliest_start` itself) and lasts exactly `duration`; its last slot may count in part.
- A non-contiguous pick takes whole clipped slots, cheapest first, and the first part of
  the next one when the lengths do not add up to `duration` exactly.
- Cost is the time-weighted price; `export` looks for the dearest instead.
  Ties (within rounding) go to the earliest window; for a non-contiguous pick, among
  slots of the same price the earlier ones are taken first.

Options, each off by default so that the rule above is unchanged without them:

- `prefer=latest`: ties go to the latest window instead; a non-contiguous pick takes the
  later of equally priced slots first, and the last part of a slot it needs only in part.
  The windows considered are the same: only which of equal ones wins changes.
- `max_price`: only slots priced at or below it count. A window that cannot have the
  full duration under it is shorter: a non-contiguous pick takes all of them, a
  contiguous one the cheapest run as long as the longest run of them allows. None at all:
  no window (`no_window_at_max_price`).
- `duration_mode=minimum` (with `max_price`): the duration is a minimum. A non-contiguous
  pick takes every slot at or below the cap, a contiguous one the chosen window extended
  both ways while the slots stay at or below it; less than the duration: no window.
  Without a cap nothing is known to extend by, so it is the same as `exact`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
import math
from typing import TYPE_CHECKING

from ..api.models import TariffDirection

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from homeassistant.util.json import JsonValueType

    from ..api.models import PriceSlot

# Prices are sums of price * seconds: two windows within this relative difference cost
# the same, so float rounding cannot make a later window win a tie.
_TIE_TOLERANCE = 1e-9


class Prefer(StrEnum):
    """Which of equally good windows wins."""

    EARLIEST = "earliest"
    LATEST = "latest"


class DurationMode(StrEnum):
    """Whether the duration is exact or a minimum (with a price cap)."""

    EXACT = "exact"
    MINIMUM = "minimum"


class WindowError(Exception):
    """No window can be chosen; `reason` is the translation key of the error."""

    def __init__(self, reason: str) -> None:
        """Keep the reason for the caller to translate."""
        super().__init__(reason)
        self.reason = reason


class NotCoveredError(WindowError):
    """Prices are missing for part of the span."""

    def __init__(self) -> None:
        """Name the reason."""
        super().__init__("window_not_covered")


class DurationTooLongError(WindowError):
    """The duration does not fit in the span."""

    def __init__(self) -> None:
        """Name the reason."""
        super().__init__("duration_too_long")


class NoWindowAtMaxPriceError(WindowError):
    """Too little of the span is priced at or below the cap."""

    def __init__(self) -> None:
        """Name the reason."""
        super().__init__("no_window_at_max_price")


@dataclass(frozen=True, slots=True)
class ChosenSlot:
    """A slot (or the part of one) inside a window."""

    start: datetime
    end: datetime
    price: float

    @property
    def seconds(self) -> float:
        """Return the slot's length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Window:
    """The chosen slots, in time order, and their time-weighted average price."""

    slots: tuple[ChosenSlot, ...]
    average_price: float

    @property
    def start(self) -> datetime:
        """Return the start of the first chosen slot."""
        return self.slots[0].start

    @property
    def end(self) -> datetime:
        """Return the end of the last chosen slot."""
        return self.slots[-1].end

    @property
    def duration(self) -> timedelta:
        """Return the chosen slots' total length."""
        return sum((slot.end - slot.start for slot in self.slots), timedelta())

    def runs(self) -> list[tuple[datetime, datetime]]:
        """Return the chosen time as intervals of back-to-back slots."""
        runs: list[tuple[datetime, datetime]] = []
        for slot in self.slots:
            if runs and runs[-1][1] == slot.start:
                runs[-1] = (runs[-1][0], slot.end)
            else:
                runs.append((slot.start, slot.end))
        return runs

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` falls inside one of the chosen slots."""
        return any(slot.start <= moment < slot.end for slot in self.slots)


def clip(
    slots: Iterable[PriceSlot], earliest_start: datetime, latest_end: datetime
) -> list[ChosenSlot]:
    """Clip slots to [earliest_start, latest_end); raise if any part of it is uncovered.

    Times come back in UTC: adding a duration to a zone-aware time moves the wall clock,
    which is wrong across a change of summer time.
    """
    earliest_start, latest_end = (
        earliest_start.astimezone(UTC),
        latest_end.astimezone(UTC),
    )
    ordered = sorted(
        (
            (slot.valid_from.astimezone(UTC), slot.valid_to.astimezone(UTC), slot.value)
            for slot in slots
        ),
        key=lambda slot: slot[0],
    )
    clipped: list[ChosenSlot] = []
    for index, (valid_from, valid_to, value) in enumerate(ordered):
        # Where slots overlap, the later one applies from its start.
        end = valid_to
        if index + 1 < len(ordered):
            end = min(end, ordered[index + 1][0])
        start, end = max(valid_from, earliest_start), min(end, latest_end)
        if start < end:
            clipped.append(ChosenSlot(start, end, value))
    cursor = earliest_start
    for slot in clipped:
        if slot.start != cursor:
            raise NotCoveredError
        cursor = slot.end
    if cursor != latest_end:
        raise NotCoveredError
    return clipped


def find_window(
    slots: Iterable[PriceSlot],
    *,
    duration: timedelta,
    earliest_start: datetime,
    latest_end: datetime,
    contiguous: bool = True,
    direction: TariffDirection = TariffDirection.IMPORT,
    prefer: Prefer = Prefer.EARLIEST,
    max_price: float | None = None,
    duration_mode: DurationMode = DurationMode.EXACT,
) -> Window:
    """Return the cheapest (import) or dearest (export) window of `duration` in the span."""
    if duration <= timedelta(0):
        msg = "duration must be positive"
        raise ValueError(msg)
    # In UTC: between two times of one zone, Python subtracts wall clocks.
    if latest_end.astimezone(UTC) - earliest_start.astimezone(UTC) < duration:
        raise DurationTooLongError
    clipped = clip(slots, earliest_start, latest_end)
    sign = -1.0 if direction is TariffDirection.EXPORT else 1.0
    latest = prefer is Prefer.LATEST
    minimum = duration_mode is DurationMode.MINIMUM and max_price is not None
    eligible = [max_price is None or slot.price <= max_price for slot in clipped]
    chosen = (
        _contiguous(clipped, eligible, duration, sign, latest=latest, minimum=minimum)
        if contiguous
        else _cheapest_set(
            clipped, eligible, duration, sign, latest=latest, minimum=minimum
        )
    )
    weighted = math.fsum(slot.price * slot.seconds for slot in chosen)
    return Window(tuple(chosen), weighted / math.fsum(slot.seconds for slot in chosen))


def _runs(
    clipped: Sequence[ChosenSlot], eligible: Sequence[bool]
) -> list[tuple[int, int]]:
    """Return the runs of back-to-back eligible slots as [first, stop) indices."""
    runs: list[tuple[int, int]] = []
    for index, ok in enumerate(eligible):
        if not ok:
            continue
        # Clipped slots cover the span without gaps: neighbours are back to back.
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def _contiguous(
    clipped: Sequence[ChosenSlot],
    eligible: Sequence[bool],
    duration: timedelta,
    sign: float,
    *,
    latest: bool,
    minimum: bool,
) -> list[ChosenSlot]:
    starts = [slot.start for slot in clipped]
    # prefix[i]: signed price * seconds of the slots before slot i.
    prefix = [0.0]
    for slot in clipped:
        prefix.append(prefix[-1] + sign * slot.price * slot.seconds)

    def integral(moment: datetime) -> float:
        """Signed price * seconds from the span's start up to `moment`."""
        index = bisect_right(starts, moment) - 1
        slot = clipped[index]
        return prefix[index] + sign * slot.price * (moment - slot.start).total_seconds()

    runs = _runs(clipped, eligible)
    if not runs:
        raise NoWindowAtMaxPriceError
    longest = max(clipped[stop - 1].end - clipped[first].start for first, stop in runs)
    if longest < duration and minimum:
        raise NoWindowAtMaxPriceError
    # Under a cap that leaves no run long enough, the longest possible window.
    length = min(duration, longest)
    # (cost, start, run) of every window that fits in a run.
    candidates: list[tuple[float, datetime, tuple[int, int]]] = []
    for first, stop in runs:
        run_end = clipped[stop - 1].end
        for index in range(first, stop):
            start = starts[index]
            end = start + length
            if end > run_end:
                break
            candidates.append((integral(end) - prefix[index], start, (first, stop)))
    lowest = min(cost for cost, _, _ in candidates)
    # Two windows within rounding of each other cost the same.
    tied = [
        candidate
        for candidate in candidates
        if candidate[0] <= lowest + _TIE_TOLERANCE * max(1.0, abs(lowest))
    ]
    _, best_start, (first, stop) = tied[-1] if latest else tied[0]
    best_end = best_start + length
    if minimum:
        best_start, best_end = clipped[first].start, clipped[stop - 1].end
    return [
        ChosenSlot(max(slot.start, best_start), min(slot.end, best_end), slot.price)
        for slot in clipped
        if slot.start < best_end and slot.end > best_start
    ]


def _cheapest_set(
    clipped: Sequence[ChosenSlot],
    eligible: Sequence[bool],
    duration: timedelta,
    sign: float,
    *,
    latest: bool,
    minimum: bool,
) -> list[ChosenSlot]:
    candidates = [slot for slot, ok in zip(clipped, eligible, strict=True) if ok]
    available = sum((slot.end - slot.start for slot in candidates), timedelta())
    if not candidates or (minimum and available < duration):
        raise NoWindowAtMaxPriceError
    if minimum:
        return candidates
    # Among equal prices the earlier (or, preferring latest, the later) slot first.
    order = -1.0 if latest else 1.0
    ranked = sorted(
        candidates,
        key=lambda slot: (sign * slot.price, order * slot.start.timestamp()),
    )
    remaining = duration
    chosen: list[ChosenSlot] = []
    for slot in ranked:
        if remaining <= timedelta(0):
            break
        length = slot.end - slot.start
        if length <= remaining:
            chosen.append(slot)
            remaining -= length
        elif latest:
            chosen.append(ChosenSlot(slot.end - remaining, slot.end, slot.price))
            remaining = timedelta(0)
        else:
            chosen.append(ChosenSlot(slot.start, slot.start + remaining, slot.price))
            remaining = timedelta(0)
    return sorted(chosen, key=lambda slot: slot.start)


def daily_period(
    moment: datetime, zone: tzinfo, period_start: time, period_end: time
) -> tuple[datetime, datetime]:
    """Return the daily local period running at `moment`, else the next one, in UTC.

    A period whose end is not after its start crosses midnight (20:00 to 07:00); equal
    times mean a whole day. Local times that a change of summer time skips or repeats
    resolve as `zoneinfo` does, so such a period is an hour shorter or longer.
    """
    day = moment.astimezone(zone).date()
    crosses = period_end <= period_start

    def period(start_day: date) -> tuple[datetime, datetime]:
        end_day = start_day + timedelta(days=1) if crosses else start_day
        start = datetime.combine(start_day, period_start, tzinfo=zone)
        end = datetime.combine(end_day, period_end, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    for offset in (-1, 0):
        start, end = period(day + timedelta(days=offset))
        if end > moment:
            return start, end
    # Tomorrow's period starts after `moment`, so it is the next one.
    return period(day + timedelta(days=1))


def duration_seconds(duration: timedelta) -> float | int:
    """Return a duration in seconds, whole where it is (as responses show it)."""
    seconds = duration.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def chosen_slots_as_dicts(window: Window, zone: tzinfo) -> list[JsonValueType]:
    """Serialise a window's slots for attributes and action responses, in local time."""
    return [
        {
            "start": slot.start.astimezone(zone).isoformat(),
            "end": slot.end.astimezone(zone).isoformat(),
            "price": slot.price,
        }
        for slot in window.slots
    ]


def window_as_dict(
    window: Window, zone: tzinfo, duration: float
) -> dict[str, JsonValueType]:
    """Serialise a window for the response, in local time."""
    return {
        "start": window.start.astimezone(zone).isoformat(),
        "end": window.end.astimezone(zone).isoformat(),
        "average_price": window.average_price,
        "duration": duration,
        "slots": chosen_slots_as_dicts(window, zone),
    }
