"""Persisted state written at most once per delay, however often it changes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

from .const import LOGGER

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

STORAGE_VERSION = 1


class ThrottledStore:
    """A Store whose delayed write is scheduled once and not pushed back by new changes.

    Home Assistant's `async_delay_save` restarts its delay on every call, so under a
    steady stream of webhook deliveries the state would never be written; here the
    first change schedules the write and later ones ride along with it.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        key: str,
        data: Callable[[], dict[str, Any]],
        delay: float,
    ) -> None:
        """Persist what `data()` returns under `key`."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, key)
        self._data = data
        self._delay = delay
        self._scheduled = False
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

    def schedule_save(self) -> None:
        """Write the current data within the delay."""
        self._changes += 1
        if not self._scheduled:
            self._scheduled = True
            self._store.async_delay_save(self._snapshot, self._delay)

    def _snapshot(self) -> dict[str, Any]:
        self._scheduled = False
        return self._data()

    async def async_flush(self) -> None:
        """Write the current data now; concurrent callers share writes."""
        wanted = self._changes
        async with self._write_lock:
            if self._written >= wanted:
                # Nothing changed since the last write (or a concurrent one took it).
                return
            changes = self._changes
            # Writing now also cancels a pending delayed write: let changes schedule anew.
            self._scheduled = False
            await self._store.async_save(self._data())
            self._written = max(self._written, changes)

    async def async_write(self, data: dict[str, Any]) -> None:
        """Write this data now, whatever is scheduled."""
        async with self._write_lock:
            self._scheduled = False
            await self._store.async_save(data)

    async def async_remove(self) -> None:
        """Delete the stored data."""
        await self._store.async_remove()
