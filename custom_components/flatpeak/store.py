"""Persisted state written at most once per delay, however often it changes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, override

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import CoreState, HassJob, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store

from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import Event, HomeAssistant

STORAGE_VERSION = 1


class _CheckedStore(Store[dict[str, Any]]):
    """A Store that tells whether its last write reached the disk.

    Home Assistant's Store logs a failed write (a full disk, a read-only file system)
    and returns as if it had written; what is kept elsewhere until the write succeeds
    (the event journal) must know.
    """

    write_failed = False

    @override
    async def _async_write_data(self, data: dict[str, Any]) -> None:
        self.write_failed = True
        await super()._async_write_data(data)
        self.write_failed = False


class ThrottledStore:
    """A Store whose delayed write is scheduled once and not pushed back by new changes.

    Home Assistant's `async_delay_save` restarts its delay on every call, so under a
    steady stream of webhook deliveries the state would never be written; here the
    first change schedules the write and later ones ride along with it. `on_saved` is
    called after a write that reached the disk, never after one that failed or was only
    queued while Home Assistant stops.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        key: str,
        data: Callable[[], dict[str, Any]],
        delay: float,
        on_saved: Callable[[], None] | None = None,
    ) -> None:
        """Persist what `data()` returns under `key`."""
        self._hass = hass
        self._store = _CheckedStore(hass, STORAGE_VERSION, key)
        self._data = data
        self._delay = delay
        self._on_saved = on_saved
        self._unsub_timer: Callable[[], None] | None = None
        self._unsub_final_write: Callable[[], None] | None = None
        # Changes made, and how many of them are on disk: a flush that finds its
        # changes already written by a concurrent one returns without writing again.
        self._changes = 0
        self._written = 0
        self._write_lock = asyncio.Lock()

    async def async_load(self) -> dict[str, Any]:
        """Return what was stored, or an empty dict when nothing usable was.

        Home Assistant sets aside a file that is not JSON; a file of another shape
        (edited by hand, or written by a newer release) is ignored with a warning, so
        set-up goes on with a clean state instead of failing.
        """
        try:
            stored: object = await self._store.async_load()
        except (HomeAssistantError, KeyError, TypeError, ValueError) as err:
            LOGGER.warning(
                "Ignoring the unreadable stored state %s: %s", self._store.key, err
            )
            return {}
        if stored is None:
            return {}
        if not isinstance(stored, dict):
            LOGGER.warning(
                "Ignoring the stored state %s: it is not an object", self._store.key
            )
            return {}
        return stored

    @callback
    def schedule_save(self) -> None:
        """Write the current data within the delay."""
        self._changes += 1
        if self._unsub_timer is None:
            self._unsub_timer = async_call_later(
                self._hass,
                self._delay,
                HassJob(self._save_due, cancel_on_shutdown=True),
            )
        if self._unsub_final_write is None:
            # A write while Home Assistant stops is only queued for this event.
            self._unsub_final_write = self._hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_FINAL_WRITE, self._final_write
            )

    @callback
    def _save_due(self, _now: object) -> None:
        self._unsub_timer = None
        self._hass.async_create_task(
            self.async_flush(), f"{DOMAIN} write {self._store.key}"
        )

    async def _final_write(self, _event: Event) -> None:
        self._unsub_final_write = None
        await self.async_flush()

    async def async_flush(self) -> None:
        """Write the current data now; concurrent callers share writes."""
        wanted = self._changes
        async with self._write_lock:
            if self._written >= wanted:
                # Nothing changed since the last write (or a concurrent one took it).
                return
            if self._unsub_timer is not None:
                self._unsub_timer()
                self._unsub_timer = None
            changes = self._changes
            if await self._async_write(self._data()):
                self._written = max(self._written, changes)
                if self._on_saved is not None:
                    self._on_saved()

    async def _async_write(self, data: dict[str, Any]) -> bool:
        """Write data; whether it reached the disk (not failed, not only queued)."""
        # Home Assistant only queues a write while it stops (for its final-write event).
        queued = self._hass.state is CoreState.stopping
        await self._store.async_save(data)
        return not queued and not self._store.write_failed

    async def async_close(self) -> None:
        """Write what changed and stop writing (when the entry is unloaded)."""
        try:
            await self.async_flush()
        finally:
            for unsub in (self._unsub_timer, self._unsub_final_write):
                if unsub is not None:
                    unsub()
            self._unsub_timer = self._unsub_final_write = None

    async def async_remove(self) -> None:
        """Delete the stored data."""
        await self._store.async_remove()
