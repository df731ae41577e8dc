"""Each followed location's last prices and status, kept across restarts.

Prices live in memory; without a copy on disk a restart while Flatpeak (or the internet)
is down would leave no prices, and the Energy dashboard would lose the cost of every
reading until Flatpeak answers. Each successful fetch is written (throttled) to
`.storage/flatpeak.<entry_id>.prices`, and set-up starts each location from it: the
entry loads with the stored prices while Flatpeak cannot be reached, and the first fetch
that succeeds replaces them.

Objects are stored in the API's own shape and read back with the API's parsers, so what
is restored is checked exactly as an answer from Flatpeak is. Stored data of another
format, or that does not parse, is ignored with a warning: a location then starts
without stored prices, as before this store existed. The store is new and changes
neither the config entry's data nor its options, so no config entry migration is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import callback

from ..api.exceptions import FlatpeakError
from ..api.models import Location, LocationStatus, Prices, parse_datetime
from ..const import DOMAIN, LOGGER
from ..store import ThrottledStore
from .coordinator import LocationData, async_location_zone

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from homeassistant.core import HomeAssistant

    from ..api.models import PostalAddress, PriceSlot, TariffSlotStatus

# The shape of what is stored; another one (a newer release's) is ignored, not guessed at.
SNAPSHOT_FORMAT: Final = 1
# Prices change a few times a day; a burst of fetches (several locations at start-up)
# costs one write.
SAVE_DELAY: Final = 10.0


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _address_json(address: PostalAddress | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "address_line1": address.address_line1,
        "address_line2": address.address_line2,
        "city": address.city,
        "state": address.state,
        "post_code": address.post_code,
        "country_code": address.country_code,
    }


def location_json(location: Location) -> dict[str, Any]:
    """Return a location in the API's shape, as `Location.from_dict` reads it."""
    return {
        "id": location.id,
        "object": "location",
        "live_mode": location.live_mode,
        "account_id": location.account_id,
        "reference_id": location.reference_id,
        "customer_id": location.customer_id,
        "timezone": location.timezone,
        "currency_code": location.currency_code,
        "postal_address": _address_json(location.postal_address),
        "tariff_status": dict(location.tariff_status),
    }


def _slot_status_json(slot: TariffSlotStatus) -> dict[str, Any]:
    provider = slot.provider
    tariff = slot.tariff
    return {
        "status": slot.status,
        "connection_type": slot.connection_type,
        "provider": (
            None
            if provider is None
            else {
                "id": provider.id,
                "display_name": provider.display_name,
                "logo_url": provider.logo_url,
            }
        ),
        "tariff": (
            None
            if tariff is None
            else {
                "id": tariff.id,
                "display_name": tariff.display_name,
                "structure_type": tariff.structure_type,
                "contract_end_date": _iso(tariff.contract_end_date),
            }
        ),
    }


def status_json(status: LocationStatus) -> dict[str, Any]:
    """Return a location status in the API's shape, as `LocationStatus.from_dict` reads it."""
    return {
        "id": status.id,
        "object": "location_status",
        "live_mode": status.live_mode,
        "account_id": status.account_id,
        "tariff_status": {
            key: _slot_status_json(slot) for key, slot in status.tariff_status.items()
        },
    }


def _slot_json(slot: PriceSlot) -> dict[str, Any]:
    # An unknown confidence is stored as null, which the parser reads back as unknown.
    return {
        "valid_from": slot.valid_from.isoformat(),
        "valid_to": slot.valid_to.isoformat(),
        "price": {"value": slot.value, "confidence": slot.confidence},
    }


def prices_json(prices: Prices) -> dict[str, Any]:
    """Return prices in the API's shape, as `Prices.from_dict` reads them."""
    return {
        "object": "price",
        "location_id": prices.location_id,
        "currency_code": prices.currency_code,
        "tariff_direction": prices.tariff_direction,
        "location_timezone": prices.location_timezone,
        "last_updated": _iso(prices.last_updated),
        "next_update": _iso(prices.next_update),
        "live_mode": prices.live_mode,
        "data": [_slot_json(slot) for slot in prices.slots],
    }


def snapshot_json(data: LocationData) -> dict[str, Any]:
    """Return what is stored of a location's data."""
    return {
        "location": location_json(data.location),
        "status": status_json(data.status) if data.status is not None else None,
        "import_prices": (
            prices_json(data.import_prices) if data.import_prices is not None else None
        ),
        "export_prices": (
            prices_json(data.export_prices) if data.export_prices is not None else None
        ),
        "fetched_at": data.fetched_at.isoformat(),
        "prices_unavailable": data.prices_unavailable,
    }


class PriceSnapshots:
    """The stored last data of an entry's locations."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare; call `async_load` before use."""
        self._hass = hass
        self._store = ThrottledStore(
            hass, f"{DOMAIN}.{entry_id}.prices", self._as_stored, SAVE_DELAY
        )
        # Stored JSON of locations not restored (nor fetched) yet in this run.
        self._loaded: dict[str, dict[str, Any]] = {}
        # The data of the others: serialised only when written, so the prices are
        # not held twice in memory.
        self._current: dict[str, LocationData] = {}

    async def async_load(self) -> None:
        """Read what was stored; another format or a damaged file is ignored."""
        stored = await self._store.async_load()
        if not stored:
            return
        locations = stored.get("locations")
        if stored.get("format") != SNAPSHOT_FORMAT or not isinstance(locations, dict):
            LOGGER.warning(
                "Ignoring the stored Flatpeak prices: format %s is not this release's",
                stored.get("format"),
            )
            return
        self._loaded = {
            location_id: snapshot
            for location_id, snapshot in locations.items()
            if isinstance(location_id, str) and isinstance(snapshot, dict)
        }
        if len(self._loaded) != len(locations):
            LOGGER.warning("Ignoring malformed entries of the stored Flatpeak prices")

    def stored_location_ids(self) -> list[str]:
        """Return the locations whose data was stored (or is being kept)."""
        return [*self._loaded, *self._current]

    async def async_restore(self, location_id: str) -> LocationData | None:
        """Return the stored data of a location, or None when none is usable."""
        snapshot = self._loaded.pop(location_id, None)
        if snapshot is None:
            return self._current.get(location_id)
        try:
            data = await self._parse(snapshot)
        except (FlatpeakError, KeyError, TypeError, ValueError) as err:
            LOGGER.warning(
                "Ignoring the stored Flatpeak prices of %s: %s", location_id, err
            )
            return None
        if data.location.id != location_id:
            LOGGER.warning(
                "Ignoring the stored Flatpeak prices of %s: they are of %s",
                location_id,
                data.location.id,
            )
            return None
        self._current[location_id] = data
        return data

    async def _parse(self, snapshot: dict[str, Any]) -> LocationData:
        location = Location.from_dict(snapshot["location"])
        status = snapshot.get("status")
        import_prices = snapshot.get("import_prices")
        export_prices = snapshot.get("export_prices")
        unavailable = snapshot.get("prices_unavailable")
        if unavailable is not None and not isinstance(unavailable, str):
            msg = "prices_unavailable is not a string"
            raise TypeError(msg)
        return LocationData(
            location=location,
            status=LocationStatus.from_dict(status) if status is not None else None,
            import_prices=(
                Prices.from_dict(import_prices) if import_prices is not None else None
            ),
            export_prices=(
                Prices.from_dict(export_prices) if export_prices is not None else None
            ),
            fetched_at=parse_datetime(snapshot.get("fetched_at"), "fetched_at"),
            zone=await async_location_zone(location, self._hass.config.time_zone),
            prices_unavailable=unavailable,
        )

    @callback
    def async_update(self, location_id: str, data: LocationData) -> None:
        """Store a location's data, within the save delay, if it is new."""
        if self._current.get(location_id) is data:
            return
        self._current[location_id] = data
        self._loaded.pop(location_id, None)
        self._store.schedule_save()

    @callback
    def async_keep_only(self, location_ids: Iterable[str]) -> None:
        """Forget the stored data of every location not named."""
        keep = set(location_ids)
        for location_id in [*self._loaded, *self._current]:
            if location_id not in keep:
                self.async_forget(location_id)

    @callback
    def async_forget(self, location_id: str) -> None:
        """Forget a location's stored data (it is no longer followed)."""
        loaded = self._loaded.pop(location_id, None)
        current = self._current.pop(location_id, None)
        if loaded is not None or current is not None:
            self._store.schedule_save()

    def _as_stored(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "locations": self._loaded
            | {
                location_id: snapshot_json(data)
                for location_id, data in self._current.items()
            },
        }

    async def async_close(self) -> None:
        """Write what changed and stop writing (when the entry is unloaded)."""
        await self._store.async_close()

    async def async_remove(self) -> None:
        """Delete the stored data when the entry is removed."""
        await self._store.async_remove()
