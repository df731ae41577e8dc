"""Which Flatpeak events were applied, so each is applied exactly once across restarts."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from .api.delivery import is_event_id
from .const import DOMAIN, LOGGER
from .store import ThrottledStore

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

SAVE_DELAY: Final = 2.0
# Enough for every event of Flatpeak's retry window (FLATPEAK_RETRY_WINDOW) and more than
# one catch-up replays (CATCH_UP_MAX_EVENTS); more ids would protect nothing and cost memory.
MAX_REMEMBERED_IDS: Final = 5000


class EventLog:
    """A bounded, persisted record of applied event ids and the newest one."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, capacity: int = MAX_REMEMBERED_IDS
    ) -> None:
        """Prepare; call `async_load` before use."""
        self._store = ThrottledStore(
            hass, f"{DOMAIN}.{entry_id}.events", self._as_stored, SAVE_DELAY
        )
        self._capacity = capacity
        # A set to look ids up and a deque for their order: every applied delivery is
        # written before it is answered, and copying an OrderedDict of 5,000 ids for
        # the write took 0.1-0.8 ms on a 2-core machine (its iterator looks each key
        # up again), a deque's copy about 0.02 ms.
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self.last_event_id: str | None = None
        # Where the entry started following events: nothing older is ever applied.
        self.floor_event_id: str | None = None

    async def async_load(self) -> None:
        """Restore the record kept before the restart; what is malformed is dropped."""
        stored = await self._store.async_load()
        seen = stored.get("seen", [])
        valid = (
            [event_id for event_id in seen if is_event_id(event_id)]
            if isinstance(seen, list)
            else []
        )
        if valid != seen:
            LOGGER.warning(
                "Dropped malformed entries from the stored Flatpeak event log"
            )
        kept = dict.fromkeys(valid[-self._capacity :])
        self._order = deque(kept)
        self._seen = set(kept)
        self.last_event_id = self._stored_id(stored, "last_event_id")
        self.floor_event_id = self._stored_id(stored, "floor_event_id")

    @staticmethod
    def _stored_id(stored: dict[str, Any], key: str) -> str | None:
        value = stored.get(key)
        if value is None or is_event_id(value):
            return value
        LOGGER.warning("Dropped a malformed %s from the stored Flatpeak event log", key)
        return None

    def __len__(self) -> int:
        """Return how many ids are remembered."""
        return len(self._seen)

    def __contains__(self, event_id: object) -> bool:
        """Whether an event id was already applied."""
        return event_id in self._seen

    def record(self, event_id: str) -> bool:
        """Remember an applied event; False when it had been applied before."""
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        self._order.append(event_id)
        while len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        # Flatpeak's ids start with their creation time, so the largest is the newest.
        if self.last_event_id is None or event_id > self.last_event_id:
            self.last_event_id = event_id
        self._store.schedule_save()
        return True

    def start_from(self, event_id: str) -> None:
        """Set where catch-up starts when nothing was applied yet."""
        if self.last_event_id is None:
            self.last_event_id = self.floor_event_id = event_id
            self._store.schedule_save()

    def _as_stored(self) -> dict[str, Any]:
        return {
            "seen": list(self._order),
            "last_event_id": self.last_event_id,
            "floor_event_id": self.floor_event_id,
        }

    async def async_flush(self) -> None:
        """Write the record now (on unload, or before a delivery is acknowledged)."""
        await self._store.async_flush()

    async def async_remove(self) -> None:
        """Delete the stored record when the entry is removed."""
        await self._store.async_remove()
