"""Persisted state written at most once per delay, however often it changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.helpers.storage import Store

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

    async def async_load(self) -> dict[str, Any]:
        """Return what was stored, or an empty dict."""
        return await self._store.async_load() or {}

    def schedule_save(self) -> None:
        """Write the current data within the delay."""
        if not self._scheduled:
            self._scheduled = True
            self._store.async_delay_save(self._snapshot, self._delay)

    def _snapshot(self) -> dict[str, Any]:
        self._scheduled = False
        return self._data()

    async def async_flush(self) -> None:
        """Write the current data now."""
        await self._store.async_save(self._data())

    async def async_remove(self) -> None:
        """Delete the stored data."""
        await self._store.async_remove()
