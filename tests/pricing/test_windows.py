"""The window search against a brute-force oracle that works minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings, strategies as st
import pytest

from custom_components.flatpeak.api.models import PriceSlot, TariffDirection
from custom_components.flatpeak.pricing.windows import (
    DurationTooLongError,
    NotCoveredError,
    Window,
    WindowError,
    daily_period,
    find_window,
)

# Hypothesis's own false alarm about the PRNG it registers for itself (seen on 3.14).
pytestmark = pytest.mark.filterwarnings(
    "ignore:It looks like `register_random`:hypothesis.errors.HypothesisWarning"
)

LONDON = ZoneInfo("Europe/London")
MINUTE = timedelta(minutes=1)
# Local midnights of an ordinary day, the 23-hour day and the 25-hour day of 2026.
DAYS = [
    datetime(2026, 11, 25, tzinfo=LONDON),
    datetime(2026, 3, 29, tzinfo=LONDON),
    datetime(2026, 10, 25, tzinfo=LONDON),
]
# Each example is small; enough of them to meet gaps, ties and partial slots often.
EXAMPLES = 250


def slot(start: datetime, minutes: int, value: float) -> PriceSlot:
    """Return a slot of `minutes` from `start`, in absolute time."""
    end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(LONDON)
    return PriceSlot(valid_from=start, valid_to=end, value=value, confidence=1.0)


@st.composite
def series(draw: st.DrawFn) -> list[PriceSlot]:
    """Slots of 15, 30 or 60 minutes (one length or mixed), with gaps, in London time."""
    lengths = draw(st.sampled_from([[15], [30], [60], [15, 30, 60]]))
    cursor = draw(st.sampled_from(DAYS)).astimezone(UTC) + timedelta(
        minutes=15 * draw(st.integers(0, 8))
    )
    slots = []
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.integers(0, 9)) == 0:
            cursor += timedelta(minutes=15 * draw(st.integers(1, 4)))
        minutes = draw(st.sampled_from(lengths))
        # Whole numbers, few of them, so that ties are common and sums exact.
        value = float(draw(st.integers(-5, 12)))
        slots.append(slot(cursor.astimezone(LONDON), minutes, value))
        cursor += timedelta(minutes=minutes)
    return slots


def minute_prices(slots: list[PriceSlot]) -> dict[datetime, float]:
    """Return the price of every minute the slots cover, keyed by the minute's UTC start."""
    prices: dict[datetime, float] = {}
    for item in slots:
        moment = item.valid_from.astimezone(UTC)
        while moment < item.valid_to.astimezone(UTC):
            prices[moment] = item.value
            moment += MINUTE
    return prices


def window_minutes(window: Window) -> list[datetime]:
    """Return the minutes a window's slots cover, in order."""
    minutes = []
    for item in window.slots:
        moment = item.start.astimezone(UTC)
        while moment < item.end.astimezone(UTC):
            minutes.append(moment)
            moment += MINUTE
    return minutes


def oracle(
    slots: list[PriceSlot],
    duration: int,
    earliest: datetime,
    latest: datetime,
    *,
    contiguous: bool,
    direction: TariffDirection,
) -> tuple[str, list[datetime]] | tuple[str, None]:
    """Try every allowed start (or every minute) and keep the best; ties to the earliest."""
    span = int((latest - earliest) / MINUTE)
    if duration > span:
        return "duration_too_long", None
    prices = minute_prices(slots)
    minutes = [earliest + MINUTE * i for i in range(span)]
    if any(minute not in prices for minute in minutes):
        return "window_not_covered", None
    sign = -1 if direction is TariffDirection.EXPORT else 1
    if not contiguous:
        ranked = sorted(minutes, key=lambda minute: (sign * prices[minute], minute))
        return "ok", sorted(ranked[:duration])
    boundaries = {item.valid_from.astimezone(UTC) for item in slots} | {earliest}
    best: list[datetime] | None = None
    best_cost = 0.0
    for first in range(span - duration + 1):
        if minutes[first] not in boundaries:
            continue
        chosen = minutes[first : first + duration]
        cost = sum(sign * prices[minute] for minute in chosen)
        if best is None or cost < best_cost:
            best, best_cost = chosen, cost
    assert best is not None
    return "ok", best


@st.composite
def problems(
    draw: st.DrawFn,
) -> tuple[list[PriceSlot], int, datetime, datetime, TariffDirection]:
    """A series, a span around it (sometimes reaching past it) and a duration."""
    slots = draw(series())
    first = slots[0].valid_from.astimezone(UTC)
    last = slots[-1].valid_to.astimezone(UTC)
    length = int((last - first) / MINUTE)
    start = draw(st.integers(-10, length - 1))
    end = draw(st.integers(start + 1, length + 10))
    duration = draw(st.integers(1, end - start + 20))
    direction = draw(st.sampled_from(TariffDirection))
    return slots, duration, first + start * MINUTE, first + end * MINUTE, direction


def _check(
    problem: tuple[list[PriceSlot], int, datetime, datetime, TariffDirection],
    *,
    contiguous: bool,
) -> None:
    slots, duration, earliest, latest, direction = problem
    expected, minutes = oracle(
        slots,
        duration,
        earliest,
        latest,
        contiguous=contiguous,
        direction=direction,
    )
    event(expected)
    search = {
        "duration": duration * MINUTE,
        # Given in London time, as an automation would.
        "earliest_start": earliest.astimezone(LONDON),
        "latest_end": latest.astimezone(LONDON),
        "contiguous": contiguous,
        "direction": direction,
    }
    if expected != "ok":
        with pytest.raises(WindowError, match=f"^{expected}$"):
            find_window(slots, **search)
        return
    window = find_window(slots, **search)
    assert minutes is not None
    assert window_minutes(window) == minutes
    prices = minute_prices(slots)
    assert window.average_price == pytest.approx(
        sum(prices[minute] for minute in minutes) / duration
    )
    assert window.duration == duration * MINUTE
    assert [item.start for item in window.slots] == sorted(
        item.start for item in window.slots
    )


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems())
def test_contiguous_window_matches_oracle(
    problem: tuple[list[PriceSlot], int, datetime, datetime, TariffDirection],
) -> None:
    """The cheapest (dearest for export) contiguous window is the oracle's."""
    _check(problem, contiguous=True)


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems())
def test_cheapest_set_matches_oracle(
    problem: tuple[list[PriceSlot], int, datetime, datetime, TariffDirection],
) -> None:
    """The cheapest (dearest for export) set of slots is the oracle's."""
    _check(problem, contiguous=False)


def _hourly(start: datetime, values: list[float]) -> list[PriceSlot]:
    slots = []
    for value in values:
        slots.append(slot(start, 60, value))
        start = slots[-1].valid_to
    return slots


START = datetime(2026, 11, 25, tzinfo=UTC)


def test_partial_slot_at_earliest_start_counts_for_its_remaining_part() -> None:
    """Starting inside a slot, only its rest counts; the window lasts exactly the duration."""
    slots = _hourly(START, [1.0, 5.0, 5.0])
    window = find_window(
        slots,
        duration=timedelta(hours=1),
        earliest_start=START + timedelta(minutes=30),
        latest_end=START + timedelta(hours=3),
    )
    # 30 minutes at 1 and 30 at 5 beat any hour at 5.
    assert window.start == START + timedelta(minutes=30)
    assert window.end == START + timedelta(minutes=90)
    assert window.average_price == pytest.approx(3.0)
    assert [(s.start, s.end, s.price) for s in window.slots] == [
        (START + timedelta(minutes=30), START + timedelta(hours=1), 1.0),
        (START + timedelta(hours=1), START + timedelta(minutes=90), 5.0),
    ]


def test_window_starts_on_slot_boundaries_only() -> None:
    """A cheaper window that would start mid-slot is not considered."""
    slots = _hourly(START, [5.0, 1.0, 10.0])
    window = find_window(
        slots,
        duration=timedelta(minutes=90),
        earliest_start=START,
        latest_end=START + timedelta(hours=3),
    )
    # 00:30-02:00 (average 2.33) would be cheaper, but starts are 00:00 (3.67) and
    # 01:00 (4.0).
    assert window.start == START
    assert window.average_price == pytest.approx((5 + 0.5) / 1.5)


def test_ties_go_to_the_earliest_window() -> None:
    """Equal windows: the earliest wins, for either direction and both kinds."""
    slots = _hourly(START, [2.0, 1.0, 2.0, 1.0, 2.0])
    for contiguous in (True, False):
        for direction, expected in (
            (TariffDirection.IMPORT, 1),
            (TariffDirection.EXPORT, 0),
        ):
            window = find_window(
                slots,
                duration=timedelta(hours=1),
                earliest_start=START,
                latest_end=START + timedelta(hours=5),
                contiguous=contiguous,
                direction=direction,
            )
            assert window.start == START + timedelta(hours=expected)


def test_rounding_does_not_break_ties() -> None:
    """Prices whose sums differ only by float rounding still tie to the earliest."""
    # The same two prices again later: running sums make the later pair a hair cheaper.
    slots = _hourly(START, [0.01, 0.27, 9.0, 0.01, 0.27])
    window = find_window(
        slots,
        duration=timedelta(hours=2),
        earliest_start=START,
        latest_end=START + timedelta(hours=5),
    )
    assert window.start == START


def test_errors() -> None:
    """A gap in the span, or a duration longer than it, is refused by name."""
    slots = _hourly(START, [1.0, 2.0]) + _hourly(START + timedelta(hours=3), [1.0])
    with pytest.raises(NotCoveredError):
        find_window(
            slots,
            duration=timedelta(hours=1),
            earliest_start=START,
            latest_end=START + timedelta(hours=4),
        )
    with pytest.raises(DurationTooLongError):
        find_window(
            slots,
            duration=timedelta(hours=3),
            earliest_start=START,
            latest_end=START + timedelta(hours=2),
        )
    with pytest.raises(ValueError, match="positive"):
        find_window(
            slots,
            duration=timedelta(0),
            earliest_start=START,
            latest_end=START + timedelta(hours=2),
        )


def test_across_the_long_autumn_night() -> None:
    """On the 25-hour day the repeated hour holds two distinct slots."""
    midnight = datetime(2026, 10, 25, tzinfo=LONDON)
    # 00:00 BST to 00:00 GMT next day is 25 hours: 50 half-hour slots.
    slots = []
    cursor = midnight.astimezone(UTC)
    for index in range(50):
        slots.append(slot(cursor.astimezone(LONDON), 30, 5.0 - (index in (3, 5))))
        cursor += timedelta(minutes=30)
    window = find_window(
        slots,
        duration=timedelta(hours=1),
        earliest_start=midnight,
        latest_end=datetime(2026, 10, 26, tzinfo=LONDON),
        contiguous=False,
    )
    # Slots 3 and 5 are 01:30 BST and 01:30 GMT: the same wall clock, an hour apart.
    assert [s.start for s in window.slots] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]
    assert window.runs() == [
        (
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 1, tzinfo=UTC),
        ),
        (
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 2, tzinfo=UTC),
        ),
    ]
    assert window.contains(datetime(2026, 10, 25, 1, 45, tzinfo=UTC))
    assert not window.contains(datetime(2026, 10, 25, 1, 15, tzinfo=UTC))


@pytest.mark.parametrize(
    ("moment", "start", "end", "expected"),
    [
        # Overnight, asked before it starts: tonight's.
        (
            "2026-11-25T10:05",
            "20:00",
            "07:00",
            ("2026-11-25T20:00", "2026-11-26T07:00"),
        ),
        # Overnight, asked after midnight: the one that began last evening.
        (
            "2026-11-26T03:00",
            "20:00",
            "07:00",
            ("2026-11-25T20:00", "2026-11-26T07:00"),
        ),
        # A daytime period already over today: tomorrow's.
        (
            "2026-11-25T10:05",
            "07:00",
            "09:00",
            ("2026-11-26T07:00", "2026-11-26T09:00"),
        ),
        # Start and end the same: a whole day.
        (
            "2026-11-25T10:05",
            "00:00",
            "00:00",
            ("2026-11-25T00:00", "2026-11-26T00:00"),
        ),
        # The night the clocks go back is 12 hours long, in UTC 19:00 to 07:00.
        (
            "2026-10-24T12:00",
            "20:00",
            "07:00",
            ("2026-10-24T19:00", "2026-10-25T07:00"),
        ),
        # The night they go forward, 10 hours: 20:00 GMT to 06:00 UTC (07:00 BST).
        (
            "2026-03-28T12:00",
            "20:00",
            "07:00",
            ("2026-03-28T20:00", "2026-03-29T06:00"),
        ),
    ],
)
def test_daily_period(
    moment: str, start: str, end: str, expected: tuple[str, str]
) -> None:
    """The period running now, else the next one, in UTC, across summer-time changes."""
    period = daily_period(
        datetime.fromisoformat(moment).replace(tzinfo=UTC),
        LONDON,
        time.fromisoformat(start),
        time.fromisoformat(end),
    )
    assert period == tuple(
        datetime.fromisoformat(value).replace(tzinfo=UTC) for value in expected
    )
