"""One coordinator per Flatpeak location: fetches prices, re-renders at slot boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import random
from typing import TYPE_CHECKING, Final, cast, override
from zoneinfo import ZoneInfo  # noqa: TC003 - a dataclass field type

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from ..api.client import API_VERSION
from ..api.exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakApiError,
    FlatpeakApiVersionError,
    FlatpeakAuthenticationError,
    FlatpeakError,
    FlatpeakNotFoundError,
    FlatpeakPricesUnavailableError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
)
from ..api.models import Location, LocationStatus, Prices, TariffDirection
from ..const import (
    ACCOUNT_DISABLED_RETRY_INTERVAL,
    DOMAIN,
    EVENT_REFRESH_COOLDOWN,
    FALLBACK_UPDATE_INTERVAL,
    LOGGER,
    MAX_UPDATE_INTERVAL,
    MIN_UPDATE_INTERVAL,
    PRICES_UNAVAILABLE_RETRY,
    TRANSIENT_RETRY_INTERVAL,
    UPDATE_JITTER_SECONDS,
)
from ..errors import setup_error
from ..pricing.series import PriceSeries, local_day

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.exceptions import HomeAssistantError

    from ..api.client import FlatpeakClient

# Prices are asked for from this long before local midnight, so that the slot before
# the day's first one is known after a fetch past midnight (`previous_price`). An hour
# holds a whole 15-, 30- or 60-minute slot; of a longer one, Flatpeak's answer may hold
# only the part within the window (its docs do not say), which still gives its price.
PREVIOUS_SLOT_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationData:
    """What is known about one location after a fetch."""

    location: Location
    status: LocationStatus | None
    import_prices: Prices | None
    export_prices: Prices | None
    # When the status was read: a problem raised after this cannot be judged by it.
    fetched_at: datetime
    # The zone the location's days are counted in (the location's, else Home Assistant's).
    zone: ZoneInfo
    # The 422 code when Flatpeak cannot serve import prices yet (e.g. pending_connect).
    prices_unavailable: str | None = None
    import_series: PriceSeries | None = field(init=False, default=None)
    export_series: PriceSeries | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        """Index the price slots once per fetch."""
        for name, prices in (
            ("import_series", self.import_prices),
            ("export_series", self.export_prices),
        ):
            if prices is not None:
                object.__setattr__(self, name, PriceSeries.from_slots(prices.slots))

    @property
    def currency(self) -> str | None:
        """ISO 4217 currency of the prices."""
        if self.import_prices is not None:
            return self.import_prices.currency_code
        return self.location.currency_code

    def series(self, direction: TariffDirection) -> PriceSeries | None:
        """Return the price series for a direction."""
        if direction is TariffDirection.EXPORT:
            return self.export_series
        return self.import_series


async def async_location_zone(location: Location, fallback: str) -> ZoneInfo:
    """Return the location's time zone, or Home Assistant's when Flatpeak has none.

    Home Assistant's loader reads the zone file off the event loop and caches it.
    """
    for name in (location.timezone, fallback, "UTC"):
        if not name:
            continue
        try:
            zone = await dt_util.async_get_time_zone(name)
        except ValueError:  # a name that is not a key ("../x", "")
            continue
        if zone is not None:
            return zone
    msg = "no time zone could be loaded, not even UTC"
    raise RuntimeError(msg)


# The Repairs issues of errors about the whole account, by their translation key.
_ACCOUNT_ISSUES: Final = ("account_disabled", "api_version_not_supported")


def _account_issue_id(key: str, entry_id: str) -> str:
    return f"{key}_{entry_id}"


def account_disabled_issue_id(entry_id: str) -> str:
    """Return the Repairs issue id raised while an entry's account is disabled."""
    return _account_issue_id("account_disabled", entry_id)


@callback
def async_report_account_error(
    hass: HomeAssistant, entry: ConfigEntry, err: FlatpeakError
) -> None:
    """Raise the Repairs issue of an error that concerns the whole account, if it is one."""
    if isinstance(err, FlatpeakAccountDisabledError):
        key = "account_disabled"
    elif isinstance(err, FlatpeakApiVersionError):
        key = "api_version_not_supported"
    else:
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        _account_issue_id(key, entry.entry_id),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=key,
        # Each text uses what it needs of these.
        translation_placeholders={"title": entry.title, "api_version": API_VERSION},
        data={"entry_id": entry.entry_id},
    )


@callback
def async_account_works(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Clear the account's Repairs issues: Flatpeak answered it."""
    for key in _ACCOUNT_ISSUES:
        ir.async_delete_issue(hass, DOMAIN, _account_issue_id(key, entry.entry_id))


# Errors about the whole account or its key: no part of a fetch can go on without them.
_ACCOUNT_ERRORS: Final = (
    FlatpeakAuthenticationError,
    FlatpeakAccountDisabledError,
    FlatpeakApiVersionError,
)

# Only a new release of the integration ends a refused API release, and a person ends
# a disabled account: neither is worth asking about more often.
ACCOUNT_ERROR_RETRY_INTERVAL: Final = ACCOUNT_DISABLED_RETRY_INTERVAL


class FlatpeakLocationCoordinator(DataUpdateCoordinator[LocationData]):
    """Fetches one location's status and prices; ticks entities at every slot boundary."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: FlatpeakClient,
        location_id: str,
        on_missing: Callable[[str], None],
    ) -> None:
        """Prepare; nothing is fetched until the first refresh.

        `on_missing` is called with the location id each time Flatpeak answers that
        the location does not exist; polling then stops until a refresh finds it.
        """
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {location_id}",
            update_interval=FALLBACK_UPDATE_INTERVAL,
        )
        self.client = client
        self.location_id = location_id
        self._on_missing = on_missing
        self._unsub_tick: CALLBACK_TYPE | None = None
        self._serving_stale_since: datetime | None = None
        # Whether the last status read failed (logged once per failure streak).
        self._status_missing = False
        # Set when Flatpeak says the location does not exist (deleted meanwhile).
        self.location_missing = False
        # Refreshes asked for by events: the first at once, a burst after it costs one
        # more at the end of the cooldown, however many events it holds.
        self._event_refresh = Debouncer(
            hass,
            LOGGER,
            cooldown=EVENT_REFRESH_COOLDOWN.total_seconds(),
            immediate=True,
            function=self.async_refresh,
        )

    @callback
    def async_start_from(self, data: LocationData) -> None:
        """Start from stored data: served while Flatpeak cannot be reached, then replaced."""
        self.data = data

    @property
    def zone(self) -> ZoneInfo:
        """Return the time zone the location's days are counted in."""
        return self.data.zone

    async def async_request_refresh_for_event(self) -> None:
        """Refresh because an event said something changed, at a bounded rate."""
        await self._event_refresh.async_call()

    @override
    async def _async_update_data(self) -> LocationData:
        """Fetch location, status and today's and tomorrow's prices."""
        try:
            data, prices_error = await self._fetch()
        except FlatpeakAuthenticationError as err:
            raise setup_error(err) from err
        except FlatpeakNotFoundError as err:
            raise self._missing() from err
        except (FlatpeakAccountDisabledError, FlatpeakApiVersionError) as err:
            raise self._account_error(err) from err
        except FlatpeakError as err:
            if self.location_missing:
                # A probe of a location set aside after a 404 that met another
                # failure: still missing, and its owner probes it again.
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="update_failed",
                    translation_placeholders={"error": str(err) or type(err).__name__},
                ) from err
            return self._keep_prices_through(err)
        # Flatpeak knows the location (again).
        self.location_missing = False
        async_account_works(self.hass, self.config_entry)
        if prices_error is not None:
            # The status (and location) are fresh; the prices are the last ones.
            self._note_stale(prices_error)
            self.update_interval = self._retry_interval(prices_error)
        else:
            if self._serving_stale_since is not None:
                LOGGER.info(
                    "Flatpeak is reachable again for %s; prices are current",
                    self.location_id,
                )
                self._serving_stale_since = None
            self.update_interval = self._next_interval(data)
        self._schedule_tick(data)
        return data

    async def _fetch(self) -> tuple[LocationData, FlatpeakError | None]:
        """Read the location, then its status and its prices, each failing apart.

        Returns the data and, when the prices could not be fetched, why: the last
        prices are then kept in the data. Errors about the location itself or the
        whole account are raised.
        """
        now = dt_util.utcnow()
        previous = cast("LocationData | None", self.data)
        location = await self.client.get_location(self.location_id)
        status, status_read_at = await self._fetch_status(previous, now)
        zone = await async_location_zone(location, self.hass.config.time_zone)
        day_start, _ = local_day(now, zone)
        window_start = day_start - PREVIOUS_SLOT_LOOKBACK
        _, window_end = local_day(now, zone, 1)
        unavailable: str | None = None
        prices_error: FlatpeakError | None = None
        import_prices: Prices | None = None
        try:
            import_prices = await self.client.get_prices(
                self.location_id, start=window_start, end=window_end
            )
        except FlatpeakPricesUnavailableError as err:
            unavailable = err.code or "no_price_data"
            self._log_unavailable(unavailable)
        except _ACCOUNT_ERRORS:
            raise
        except FlatpeakError as err:
            # A status read does not wait for the prices (nor the other way round).
            prices_error = err
            if previous is not None:
                import_prices = previous.import_prices
                unavailable = previous.prices_unavailable
        else:
            if previous is not None and previous.prices_unavailable:
                LOGGER.info(
                    "Flatpeak prices for %s are available again", self.location_id
                )
        export_prices: Prices | None = None
        if prices_error is not None:
            export_prices = previous.export_prices if previous is not None else None
        elif self._has_export(status, previous):
            export_prices = await self._fetch_export(previous, window_start, window_end)
        return (
            LocationData(
                location=location,
                status=status,
                import_prices=import_prices,
                export_prices=export_prices,
                fetched_at=status_read_at,
                zone=zone,
                prices_unavailable=unavailable,
            ),
            prices_error,
        )

    async def _fetch_status(
        self, previous: LocationData | None, now: datetime
    ) -> tuple[LocationStatus | None, datetime]:
        """Read the status and when it was read; an error costs the status only.

        Flatpeak's status endpoint supports at most one tariff of each kind
        (api-facts.md §3, "Location status"); other locations are refused with a 422
        ("Unsupported combination of tariff elements"), while their prices are served.
        Such a location has no status (None): its problem sensors are unknown. A
        transient failure keeps the status last read, with the time it was read, so
        problems raised since are not judged by it.
        """
        try:
            status = await self.client.get_location_status(self.location_id)
        except _ACCOUNT_ERRORS:
            raise
        except FlatpeakApiError as err:
            self._log_status_missing(err)
            return None, now
        except FlatpeakError as err:
            self._log_status_missing(err)
            if previous is not None and previous.status is not None:
                return previous.status, previous.fetched_at
            return None, now
        if self._status_missing:
            LOGGER.debug("Flatpeak gives the status of %s again", self.location_id)
            self._status_missing = False
        return status, now

    def _log_status_missing(self, err: FlatpeakError) -> None:
        """Say once, at debug level, that a location's status is not known now."""
        if not self._status_missing:
            self._status_missing = True
            LOGGER.debug(
                "Flatpeak gives no status for %s (%s); its prices are still fetched",
                self.location_id,
                err,
            )

    @staticmethod
    def _has_export(
        status: LocationStatus | None, previous: LocationData | None
    ) -> bool:
        """Whether to ask for export prices; without a status, as last time."""
        if status is not None:
            return status.has_export_tariff
        return previous is not None and previous.export_prices is not None

    async def _fetch_export(
        self, previous: LocationData | None, start: datetime, end: datetime
    ) -> Prices | None:
        try:
            return await self.client.get_prices(
                self.location_id,
                start=start,
                end=end,
                direction=TariffDirection.EXPORT,
            )
        except FlatpeakPricesUnavailableError:
            return None
        except _ACCOUNT_ERRORS:
            raise
        except FlatpeakError:
            # The import prices came: keep the last export prices for now.
            return previous.export_prices if previous is not None else None

    def _log_unavailable(self, code: str) -> None:
        if self.data is None or self.data.prices_unavailable != code:
            LOGGER.warning(
                "Flatpeak has no prices for %s yet (%s); retrying every %d minutes",
                self.location_id,
                code,
                PRICES_UNAVAILABLE_RETRY.total_seconds() // 60,
            )

    def _missing(self) -> UpdateFailed:
        """Flatpeak does not know the location: stop polling; its owner probes it."""
        self.location_missing = True
        self.update_interval = None
        self._on_missing(self.location_id)
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="location_missing",
            translation_placeholders={"location_id": self.location_id},
        )

    def _account_error(
        self, err: FlatpeakAccountDisabledError | FlatpeakApiVersionError
    ) -> HomeAssistantError | UpdateFailed:
        """Say in Repairs what is wrong with the account, and ask seldom until it is not.

        A disabled account, or one whose default API release is newer than ours: a
        retry in a minute cannot help either.
        """
        async_report_account_error(self.hass, self.config_entry, err)
        if (
            cast("LocationData | None", self.data) is None
            or self.config_entry.state is ConfigEntryState.SETUP_IN_PROGRESS
        ):
            # At set-up (stored prices or not): no point retrying every minute;
            # reloading the entry retries.
            return setup_error(err)
        self.update_interval = ACCOUNT_ERROR_RETRY_INTERVAL
        if isinstance(err, FlatpeakApiVersionError):
            return UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="api_version_not_supported",
                translation_placeholders={"api_version": API_VERSION},
            )
        return UpdateFailed(
            translation_domain=DOMAIN, translation_key="account_disabled"
        )

    def _retry_interval(self, err: FlatpeakError) -> timedelta:
        """Return when to try again after a failed call, following Retry-After."""
        retry_after = self._advised_wait(err)
        # A body we cannot read will not read better in five minutes.
        retry = (
            FALLBACK_UPDATE_INTERVAL
            if isinstance(err, FlatpeakResponseError)
            else TRANSIENT_RETRY_INTERVAL
        )
        return max(retry, timedelta(seconds=retry_after or 0))

    @staticmethod
    def _advised_wait(err: FlatpeakError) -> float | None:
        retry_after = (
            err.retry_after if isinstance(err, FlatpeakRateLimitError) else None
        )
        if retry_after is not None:
            # Followed as advice, within reason: a Retry-After of years is not.
            retry_after = min(retry_after, MAX_UPDATE_INTERVAL.total_seconds())
        return retry_after

    def _note_stale(self, err: FlatpeakError) -> None:
        """Log once that the last prices are served instead of fresh ones."""
        if self._serving_stale_since is None:
            self._serving_stale_since = dt_util.utcnow()
            LOGGER.warning(
                "Cannot update Flatpeak prices for %s (%s); keeping the last prices"
                " while they cover the current time",
                self.location_id,
                err,
            )

    def _keep_prices_through(self, err: FlatpeakError) -> LocationData:
        """Serve the last good data while it still covers now; fail once it does not."""
        self.update_interval = self._retry_interval(err)
        previous = cast("LocationData | None", self.data)
        now = dt_util.utcnow()
        if (
            previous is not None
            and previous.import_series is not None
            and previous.import_series.covers(now)
        ):
            self._note_stale(err)
            if self._unsub_tick is None:
                # Data not fetched in this run (restored at start-up) has no tick yet.
                self._schedule_tick(previous)
            return previous
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="update_failed",
            translation_placeholders={"error": str(err) or type(err).__name__},
            retry_after=self._advised_wait(err),
        ) from err

    def _next_interval(self, data: LocationData) -> timedelta:
        if data.prices_unavailable:
            return PRICES_UNAVAILABLE_RETRY
        next_update = data.import_prices.next_update if data.import_prices else None
        if next_update is None:
            return FALLBACK_UPDATE_INTERVAL
        wanted = next_update - dt_util.utcnow()
        if wanted <= timedelta(0):
            # A next_update already past says nothing new is due: do not hammer the API.
            return FALLBACK_UPDATE_INTERVAL
        bounded = min(max(wanted, MIN_UPDATE_INTERVAL), MAX_UPDATE_INTERVAL)
        # Spread many installations' requests after a shared next_update.
        return bounded + timedelta(seconds=random.uniform(0, UPDATE_JITTER_SECONDS))  # noqa: S311

    @callback
    def _schedule_tick(self, data: LocationData) -> None:
        """Wake the entities at the next slot boundary or local midnight."""
        if self._unsub_tick is not None:
            self._unsub_tick()
            self._unsub_tick = None
        now = dt_util.utcnow()
        zone = data.zone
        candidates = [local_day(now, zone)[1]]
        candidates += [
            boundary
            for series in (data.import_series, data.export_series)
            if series is not None and (boundary := series.next_boundary(now))
        ]
        self._unsub_tick = async_track_point_in_utc_time(
            self.hass, self._on_tick, min(candidates)
        )

    @callback
    def _on_tick(self, _now: datetime) -> None:
        self._unsub_tick = None
        self.async_update_listeners()
        if self.data is not None:
            self._schedule_tick(self.data)

    @override
    async def async_shutdown(self) -> None:
        """Stop the boundary timer and event refreshes along with polling."""
        if self._unsub_tick is not None:
            self._unsub_tick()
            self._unsub_tick = None
        self._event_refresh.async_shutdown()
        await super().async_shutdown()
