"""Confirming deliveries with Flatpeak before they are applied.

Anyone who learns the webhook URL can POST to it. An unsigned delivery (or a signed one
that does not say whose it is) is therefore only a hint that an event exists: the event
is read back with `GET /events/{id}` and the API's copy is what gets applied. The
read-backs are bounded per location and in total, so junk costs Flatpeak little.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
import re
import time
from typing import TYPE_CHECKING, Final

from ..api.exceptions import FlatpeakError, FlatpeakNotFoundError
from ..const import LOCATION_ID_PREFIX

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..api.client import FlatpeakClient
    from ..api.models import Event

# Flatpeak gives up on a delivery after 10 s; the read-back must leave time to answer.
READ_BACK_TIMEOUT: Final = 5.0
# Per location (or for deliveries naming none): a burst of this many, then one every
# REFILL seconds. Flatpeak sends a location a handful of events a day.
READ_BACKS_PER_LOCATION: Final = 10
READ_BACK_REFILL_PER_LOCATION: Final = 30.0
# In total, over every location a delivery may name.
READ_BACKS_TOTAL: Final = 30
READ_BACK_REFILL_TOTAL: Final = 2.0
# Locations a flood may invent are not remembered without bound.
MAX_TRACKED_LOCATIONS: Final = 256
# Flatpeak's location ids are `loc_` and a 24-hex-digit token, as event ids are `evt_`
# and one. A delivery naming anything else (nothing checks it before the read-back,
# and one id could be most of a 1 MiB body) shares a single budget with its kind.
LOCATION_ID_PATTERN: Final = re.compile(rf"{LOCATION_ID_PREFIX}[A-Za-z0-9_-]{{1,64}}")
_NO_LOCATION: Final = ""
_UNSHAPED_LOCATION: Final = "?"


class Verdict(StrEnum):
    """What Flatpeak said about a delivered event."""

    CONFIRMED = "confirmed"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The verdict, and the API's copy of the event when it is confirmed."""

    verdict: Verdict
    event: Event | None = None


class TokenBucket:
    """Allows `capacity` takes at once and one more every `refill` seconds."""

    def __init__(
        self, capacity: int, refill: float, clock: Callable[[], float]
    ) -> None:
        """Start full."""
        self._capacity = capacity
        self._refill = refill
        self._clock = clock
        self._tokens = float(capacity)
        self._at = clock()

    def _level(self) -> float:
        now = self._clock()
        self._tokens = min(
            self._capacity, self._tokens + (now - self._at) / self._refill
        )
        self._at = now
        return self._tokens

    @property
    def full(self) -> bool:
        """Whether nothing was taken lately (the bucket can be forgotten)."""
        return self._level() >= self._capacity

    def can_take(self) -> bool:
        """Whether a take would succeed now."""
        return self._level() >= 1

    def take(self) -> None:
        """Take one; check `can_take` first."""
        self._tokens = self._level() - 1


def _monotonic() -> float:
    return time.monotonic()


class ReadBackLimiter:
    """Per-location and total budgets for read-backs."""

    def __init__(self, clock: Callable[[], float] = _monotonic) -> None:
        """Start with full budgets."""
        self._clock = clock
        self._total = TokenBucket(READ_BACKS_TOTAL, READ_BACK_REFILL_TOTAL, clock)
        self._per_location: OrderedDict[str, TokenBucket] = OrderedDict()

    def try_take(self, location_id: str | None) -> bool:
        """Spend one read-back for a location; False when its budget is spent."""
        if location_id is None:
            key = _NO_LOCATION
        elif LOCATION_ID_PATTERN.fullmatch(location_id):
            key = location_id
        else:
            key = _UNSHAPED_LOCATION
        bucket = self._per_location.get(key)
        if bucket is None:
            bucket = TokenBucket(
                READ_BACKS_PER_LOCATION, READ_BACK_REFILL_PER_LOCATION, self._clock
            )
            self._per_location[key] = bucket
            self._forget_idle()
        self._per_location.move_to_end(key)
        if not (bucket.can_take() and self._total.can_take()):
            return False
        bucket.take()
        self._total.take()
        return True

    def _forget_idle(self) -> None:
        while len(self._per_location) > MAX_TRACKED_LOCATIONS:
            key, oldest = next(iter(self._per_location.items()))
            if not oldest.full:
                # Everything tracked is in use: the total budget bounds the cost anyway.
                self._per_location.move_to_end(key)
                return
            del self._per_location[key]


class EventConfirmer:
    """Reads delivered events back from Flatpeak, once per id at a time."""

    def __init__(
        self, client: FlatpeakClient, limiter: ReadBackLimiter | None = None
    ) -> None:
        """Read back through `client`."""
        self._client = client
        self._limiter = limiter or ReadBackLimiter()
        self._pending: dict[str, asyncio.Task[Confirmation]] = {}

    async def async_confirm(self, delivered: Event) -> Confirmation:
        """Return Flatpeak's own copy of a delivered event, if Flatpeak knows it."""
        if pending := self._pending.get(delivered.id):
            # Flatpeak's retries may overlap the first attempt: one read-back serves all.
            return await asyncio.shield(pending)
        if not self._limiter.try_take(delivered.location_id):
            return Confirmation(Verdict.THROTTLED)
        task = asyncio.create_task(self._read_back(delivered.id))
        self._pending[delivered.id] = task
        task.add_done_callback(lambda _: self._pending.pop(delivered.id, None))
        return await asyncio.shield(task)

    async def _read_back(self, event_id: str) -> Confirmation:
        try:
            async with asyncio.timeout(READ_BACK_TIMEOUT):
                event = await self._client.get_event(event_id)
        except FlatpeakNotFoundError:
            return Confirmation(Verdict.UNKNOWN)
        except FlatpeakError, TimeoutError:
            return Confirmation(Verdict.UNREACHABLE)
        if event.id != event_id:
            return Confirmation(Verdict.UNKNOWN)
        return Confirmation(Verdict.CONFIRMED, event)
