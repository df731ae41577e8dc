"""Which Flatpeak events were applied, so each is applied exactly once across restarts.

Two files hold the record: a snapshot in `.storage` (a Home Assistant Store, written
at most every SAVE_DELAY seconds) and an append-only journal next to it, one line per
change since the snapshot. `record()` appends the id to the journal with one `write`
on a descriptor opened at load before it returns, so an id that a delivery's 200
acknowledges is in the operating system's page cache by then: a killed Home Assistant
does not lose it (as with the snapshot, nothing is synced to the device). Loading
replays the journal after the snapshot; a written snapshot empties the journal.
"""

from __future__ import annotations

from collections import deque
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.storage import STORAGE_DIR

from ..api.delivery import is_event_id
from ..const import DOMAIN, LOGGER
from ..store import ThrottledStore

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

SAVE_DELAY: Final = 2.0
# Enough for every event of Flatpeak's retry window (FLATPEAK_RETRY_WINDOW) and more than
# one catch-up replays (CATCH_UP_MAX_EVENTS); more ids would protect nothing and cost memory.
MAX_REMEMBERED_IDS: Final = 5000
# A journal line that sets where catch-up starts (`start_from`); any other line is an
# applied event's id.
_FLOOR_PREFIX: Final = "floor "
_JOURNAL_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


def journal_path(hass: HomeAssistant, entry_id: str) -> str:
    """Return where an entry's journal lives: next to its snapshot in `.storage`."""
    return hass.config.path(STORAGE_DIR, f"{DOMAIN}.{entry_id}.events.journal")


def _open_journal(path: str) -> tuple[int, list[str], bool]:
    """Open the journal for appending; return it, its complete lines, whether one was torn.

    A line is complete once its newline is written, and `record()` returns only then;
    an unfinished last line (a write cut short by a full disk or a power cut) belongs to
    an event that was never acknowledged, so it is cut off rather than appended to.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, _JOURNAL_FLAGS, 0o600)
    try:
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        content = b"".join(chunks)
        complete = content.rfind(b"\n") + 1
        torn = complete < len(content)
        if torn:
            os.ftruncate(fd, complete)
    except OSError:
        os.close(fd)
        raise
    text = content[: max(complete - 1, 0)].decode("ascii", errors="replace")
    return fd, text.split("\n") if complete else [], torn


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte; a regular file writes all at once unless the disk is full."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _remove_journal(path: str) -> None:
    # The replacement too, which a crash in the middle of a compaction leaves behind.
    for name in (path, f"{path}.new"):
        Path(name).unlink(missing_ok=True)


class EventLog:
    """A bounded, persisted record of applied event ids and the newest one."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, capacity: int = MAX_REMEMBERED_IDS
    ) -> None:
        """Prepare; call `async_load` before use."""
        self._hass = hass
        self._store = ThrottledStore(
            hass,
            f"{DOMAIN}.{entry_id}.events",
            self._as_stored,
            SAVE_DELAY,
            on_saved=self._drop_saved_lines,
        )
        self._journal_path = journal_path(hass, entry_id)
        self._fd: int | None = None
        # What the journal holds beyond the last snapshot written, in order.
        self._unsaved: list[bytes] = []
        # How many of those the snapshot being written holds.
        self._covered = 0
        self._capacity = capacity
        # A set to look ids up and a deque for their order: copying an OrderedDict of
        # 5,000 ids for a snapshot took 0.1-0.8 ms on a 2-core machine (its iterator
        # looks each key up again), a deque's copy about 0.02 ms.
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
        for event_id in valid:
            self._remember(event_id)
        self.last_event_id = self._stored_id(stored, "last_event_id")
        self.floor_event_id = self._stored_id(stored, "floor_event_id")
        self._fd, lines, torn = await self._hass.async_add_executor_job(
            _open_journal, self._journal_path
        )
        if torn:
            LOGGER.warning(
                "Dropped an unfinished last line of the Flatpeak event journal %s",
                self._journal_path,
            )
        self._replay(lines)

    def _replay(self, lines: list[str]) -> None:
        """Apply the journal's changes, made after the snapshot, in their order."""
        malformed = 0
        for line in lines:
            if line.startswith(_FLOOR_PREFIX) and is_event_id(
                floor := line.removeprefix(_FLOOR_PREFIX)
            ):
                self._start_from(floor)
            elif is_event_id(line):
                # Ids also in the snapshot (it was written, the journal not yet
                # emptied) are known already and change nothing.
                self._remember(line)
            else:
                malformed += 1
                continue
            self._unsaved.append(f"{line}\n".encode())
        if malformed:
            LOGGER.warning(
                "Dropped %d malformed lines of the Flatpeak event journal %s",
                malformed,
                self._journal_path,
            )
        if self._unsaved:
            # Fold the replayed changes into the snapshot so the journal starts empty.
            self._store.schedule_save()

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
        """Remember an applied event; False when it had been applied before.

        The id is in the journal before it is remembered: once `record` returns (or
        the id is found remembered) it survives the process being killed. A failed
        write raises and leaves the id unknown, so the event is not applied.
        """
        if event_id in self._seen:
            return False
        # Ids not shaped like Flatpeak's are dropped at load anyway; in the journal
        # they could break its lines.
        if is_event_id(event_id):
            self._append(f"{event_id}\n".encode())
        self._remember(event_id)
        return True

    def _remember(self, event_id: str) -> None:
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        self._order.append(event_id)
        while len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        # Flatpeak's ids start with their creation time, so the largest is the newest.
        if self.last_event_id is None or event_id > self.last_event_id:
            self.last_event_id = event_id

    def start_from(self, event_id: str) -> None:
        """Set where catch-up starts when nothing was applied yet."""
        if self.last_event_id is None:
            self._append(f"{_FLOOR_PREFIX}{event_id}\n".encode())
            self._start_from(event_id)

    def _start_from(self, event_id: str) -> None:
        if self.last_event_id is None:
            self.last_event_id = self.floor_event_id = event_id

    def _append(self, line: bytes) -> None:
        """Append one line to the journal, in the event loop.

        One `write` to a descriptor already open reaches the page cache in a few
        microseconds (see benchmarks/webhook.py); Home Assistant's blocking-call
        detector checks opening files, not writes to open descriptors.
        """
        if self._fd is None:
            msg = "the Flatpeak event log is not loaded"
            raise RuntimeError(msg)
        _write_all(self._fd, line)
        self._unsaved.append(line)
        self._store.schedule_save()

    def _as_stored(self) -> dict[str, Any]:
        # The journal lines written so far are what this snapshot holds.
        self._covered = len(self._unsaved)
        return {
            "seen": list(self._order),
            "last_event_id": self.last_event_id,
            "floor_event_id": self.floor_event_id,
        }

    def _drop_saved_lines(self) -> None:
        """Empty the journal of what a snapshot on disk now holds, and only then."""
        self._compact(self._covered)

    def _compact(self, covered: int) -> None:
        """Leave in the journal only the lines written after the snapshot was taken.

        Both ways keep, at every instant, every line the snapshot does not hold: an
        empty journal is cut in one call; otherwise the remaining lines are written to
        a new file that replaces the journal in one rename. Runs in the event loop, so
        no `record()` interleaves; it costs 0.1-0.6 ms there (measured on a loaded
        2-core machine), at most once per SAVE_DELAY.
        """
        if self._fd is None:
            return
        remaining = self._unsaved[covered:]
        if not remaining:
            os.ftruncate(self._fd, 0)
        else:
            replacement = f"{self._journal_path}.new"
            fd = os.open(replacement, _JOURNAL_FLAGS | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, b"".join(remaining))
                Path(replacement).replace(self._journal_path)
            except OSError:
                os.close(fd)
                raise
            os.close(self._fd)
            self._fd = fd
        self._unsaved = remaining

    async def async_close(self) -> None:
        """Write the snapshot and release the journal (when the entry is unloaded)."""
        try:
            await self._store.async_close()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    async def async_remove(self) -> None:
        """Delete the stored record and its journal when the entry is removed."""
        await self._store.async_remove()
        await self._hass.async_add_executor_job(_remove_journal, self._journal_path)
