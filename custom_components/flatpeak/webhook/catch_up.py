"""Catching up on events from `GET /events`: whatever became of their deliveries.

A catch-up lists the events Flatpeak created since the last one applied (and over its
retry window) and applies those not applied yet. It runs at start-up, when Home
Assistant Cloud reconnects, soon after a delivery was refused for a reason a real event
can meet (see `handler.py`), and every CATCH_UP_PERIOD as the safety net for deliveries
that never arrived at all (Home Assistant unreachable, a wrong URL in the Dashboard).

Asking only sets a flag: one listing runs at a time, and at most one starts per
CATCH_UP_MIN_INTERVAL however many deliveries ask. A flood of junk therefore costs
Flatpeak at most one listing per interval and cannot push a listing back, so a real
event refused in the middle of it is applied within that interval.
"""

from __future__ import annotations

from datetime import timedelta
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HassJob, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util

from ..api.exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakAuthenticationError,
    FlatpeakError,
)
from ..const import (
    CATCH_UP_MAX_EVENTS,
    CONF_CLOUDHOOK_URL,
    DOMAIN,
    FLATPEAK_RETRY_WINDOW,
    LOGGER,
)
from ..locations.coordinator import account_disabled_issue_id
from .applier import Outcome

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

    from ..api.client import FlatpeakClient
    from .applier import EventApplier
    from .event_log import EventLog

# Refused deliveries ask for a listing at most this often. Flatpeak retries a refused
# delivery 30 s later (api-facts.md, 7 "Delivery"); a listing this soon applies the event
# by then whatever its retry meets. Under a sustained flood of junk this is at most 2
# listings a minute, 2,880 a day: a fifteenth of what the read-back budget already
# allows the same flood (one every 2 s, confirmation.py).
CATCH_UP_MIN_INTERVAL: Final = 30.0
# The safety net for deliveries that never reached Home Assistant. Each catch-up also
# looks back over FLATPEAK_RETRY_WINDOW (48 h), so any interval below it misses nothing;
# hourly costs 24 listings a day (one page each for a household's few events a day), as
# many as the hourly price fetch a location falls back to, and notices a tariff problem
# within the hour (Flatpeak's own retries are 1 h, 6 h, 12 h and 24 h apart).
CATCH_UP_PERIOD: Final = 3600.0
# After a failed listing (Flatpeak unreachable) the next waits twice as long as the
# last, from CATCH_UP_MIN_INTERVAL up to CATCH_UP_PERIOD.
CATCH_UP_BACKOFF_FACTOR: Final = 2.0


def _monotonic() -> float:
    return time.monotonic()


class CatchUp:
    """Runs an entry's catch-ups: one at a time, spaced, on demand and periodically."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        client: FlatpeakClient,
        event_log: EventLog,
        applier: EventApplier,
        clock: Callable[[], float] = _monotonic,
    ) -> None:
        """Catch up through `client`, applying with `applier`."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._event_log = event_log
        self._applier = applier
        self._clock = clock
        self._wanted = False
        self._running: asyncio.Task[None] | None = None
        self._last_start: float | None = None
        self._failures = 0
        self._unsub_timer: Callable[[], None] | None = None
        self._stopped = False
        # Flatpeak listed no event at all when this entry first looked: every event
        # listed later is new, and none may be taken for where catch-up starts.
        self._listed_nothing = False

    @callback
    def async_start(self) -> None:
        """Catch up now and every CATCH_UP_PERIOD until the entry is unloaded."""
        self._entry.async_on_unload(self._async_stop)
        self._entry.async_on_unload(
            async_track_time_interval(
                self._hass,
                self._periodic,
                timedelta(seconds=CATCH_UP_PERIOD),
                name=f"{DOMAIN} periodic catch up",
                cancel_on_shutdown=True,
            )
        )
        self.async_request()

    @callback
    def async_request(self) -> None:
        """Ask for a catch-up soon; asking again before it starts costs nothing."""
        if self._stopped:
            return
        self._wanted = True
        self._schedule()

    @callback
    def _periodic(self, _now: datetime) -> None:
        self.async_request()

    def _interval(self) -> float:
        """Return the spacing after the last start: longer after failed listings."""
        return min(
            CATCH_UP_MIN_INTERVAL * CATCH_UP_BACKOFF_FACTOR**self._failures,
            CATCH_UP_PERIOD,
        )

    @callback
    def _schedule(self) -> None:
        """Start the wanted catch-up now, or arm the one timer for when it may start."""
        if not self._wanted or self._running is not None or self._unsub_timer:
            return
        delay = (
            0.0
            if self._last_start is None
            else self._last_start + self._interval() - self._clock()
        )
        if delay > 0:
            self._unsub_timer = async_call_later(
                self._hass,
                delay,
                HassJob(self._timer_fired, cancel_on_shutdown=True),
            )
            return
        if self._paused():
            self._wanted = False
            return
        self._wanted = False
        first = self._last_start is None
        self._last_start = self._clock()
        name = f"{DOMAIN} catch up {self._entry.entry_id}"
        # Start-up must not wait on Flatpeak (a listing may take a request timeout per
        # page); later listings are ordinary tasks, which Home Assistant waits for
        # when it stops instead of cutting them off between two events.
        self._running = (
            self._entry.async_create_background_task(
                self._hass, self._async_run(), name
            )
            if first
            else self._entry.async_create_task(self._hass, self._async_run(), name)
        )

    def _paused(self) -> bool:
        """Whether a person must act before Flatpeak answers: a listing is pointless.

        While the account is disabled (the coordinators ask every 6 hours and remove the
        Repairs issue once it works) or a new API key is awaited, a listing would only
        be refused; the next request or periodic catch-up after that runs as usual.
        """
        if ir.async_get(self._hass).async_get_issue(
            DOMAIN, account_disabled_issue_id(self._entry.entry_id)
        ):
            return True
        return any(self._entry.async_get_active_flows(self._hass, {SOURCE_REAUTH}))

    @callback
    def _timer_fired(self, _now: datetime) -> None:
        self._unsub_timer = None
        self._schedule()

    async def _async_run(self) -> None:
        try:
            succeeded = await self.async_catch_up()
        finally:
            self._running = None
        if succeeded:
            self._failures = 0
        else:
            # Flatpeak could not be read now: try again, backing off, until it can.
            self._failures += 1
            self._wanted = True
        if not self._stopped:
            self._schedule()

    @callback
    def _async_stop(self) -> None:
        self._stopped = True
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    async def async_catch_up(self) -> bool:
        """Apply, oldest first, the events not applied yet; False to try again soon."""
        event_log = self._event_log
        try:
            if event_log.last_event_id is None and not self._listed_nothing:
                # Nothing applied yet: later catch-ups start from the newest event now.
                page = await self._client.list_events(limit=1)
                if page.events:
                    event_log.start_from(page.events[0].id)
                else:
                    self._listed_nothing = True
                self._failures_recovered()
                return True
            # Also look back over Flatpeak's retry window: an event we asked to be
            # resent (503) may have been retried while we were down, behind newer
            # applied events.
            missed = await self._client.list_recent_events(
                after_id=event_log.last_event_id,
                created_since=dt_util.utcnow() - FLATPEAK_RETRY_WINDOW,
                floor_id=event_log.floor_event_id,
                max_events=CATCH_UP_MAX_EVENTS,
            )
        except (FlatpeakAuthenticationError, FlatpeakAccountDisabledError) as err:
            # Retrying soon cannot help: a person must act, and the coordinators ask
            # for it (re-authentication, Repairs). The periodic catch-up tries again.
            LOGGER.debug("Cannot catch up on Flatpeak events: %s", err)
            return True
        except FlatpeakError as err:
            if self._failures:
                LOGGER.debug("Still cannot catch up on Flatpeak events: %s", err)
            else:
                LOGGER.warning("Could not catch up on Flatpeak events: %s", err)
            return False
        self._failures_recovered()
        applied = [
            event
            for event in missed
            if await self._applier.async_apply(event) is Outcome.APPLIED
        ]
        if applied:
            LOGGER.info("Caught up on %d Flatpeak events", len(applied))
        return True

    def _failures_recovered(self) -> None:
        if self._failures:
            LOGGER.info("Catching up on Flatpeak events works again")


@callback
def async_follow_cloud(
    hass: HomeAssistant, entry: ConfigEntry[Any], catch_up: CatchUp
) -> None:
    """With a cloudhook, catch up on what Flatpeak could not deliver while Cloud was down.

    Deliveries to a cloudhook fail while Home Assistant Cloud is disconnected; Flatpeak
    retries them later, and reading its event list on reconnection applies them sooner.
    """
    if not entry.data.get(CONF_CLOUDHOOK_URL) or "cloud" not in hass.config.components:
        return
    # Imported only once loaded: it pulls in other integrations and their packages.
    from homeassistant.components import cloud  # noqa: PLC0415

    @callback
    def connection_changed(state: cloud.CloudConnectionState) -> None:
        if state is cloud.CloudConnectionState.CLOUD_CONNECTED:
            LOGGER.info(
                "Home Assistant Cloud connected: catching up on Flatpeak events"
            )
            catch_up.async_request()
        else:
            LOGGER.warning(
                "Home Assistant Cloud disconnected: Flatpeak cannot deliver to the "
                "cloudhook until it reconnects; missed events are caught up then"
            )

    entry.async_on_unload(
        cloud.async_listen_connection_change(hass, connection_changed)
    )
