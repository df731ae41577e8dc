"""Catching up on events Flatpeak could not deliver: at start-up and when Cloud returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from ..api.exceptions import FlatpeakError
from ..const import (
    CATCH_UP_MAX_EVENTS,
    CONF_CLOUDHOOK_URL,
    DOMAIN,
    FLATPEAK_RETRY_WINDOW,
    LOGGER,
)
from .applier import Outcome

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from ..runtime import FlatpeakConfigEntry


@callback
def async_follow_cloud(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
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
            entry.async_create_background_task(
                hass, async_catch_up(hass, entry), f"{DOMAIN} catch up after cloud"
            )
        else:
            LOGGER.warning(
                "Home Assistant Cloud disconnected: Flatpeak cannot deliver to the "
                "cloudhook until it reconnects; missed events are caught up then"
            )

    entry.async_on_unload(
        cloud.async_listen_connection_change(hass, connection_changed)
    )


async def async_catch_up(hass: HomeAssistant, entry: FlatpeakConfigEntry) -> None:
    """Apply, oldest first, the events Flatpeak created while Home Assistant was down."""
    runtime = entry.runtime_data
    try:
        if runtime.event_log.last_event_id is None:
            # Nothing applied yet: later catch-ups start from the newest event now.
            page = await runtime.client.list_events(limit=1)
            if page.events:
                runtime.event_log.start_from(page.events[0].id)
            return
        # Also look back over Flatpeak's retry window: an event we asked to be resent
        # (503) may have been retried while we were down, behind newer applied events.
        missed = await runtime.client.list_recent_events(
            after_id=runtime.event_log.last_event_id,
            created_since=dt_util.utcnow() - FLATPEAK_RETRY_WINDOW,
            floor_id=runtime.event_log.floor_event_id,
            max_events=CATCH_UP_MAX_EVENTS,
        )
    except FlatpeakError as err:
        LOGGER.warning("Could not catch up on Flatpeak events: %s", err)
        return
    applied = [
        event
        for event in missed
        if await runtime.applier.async_apply(event) is Outcome.APPLIED
    ]
    if applied:
        LOGGER.info("Caught up on %d Flatpeak events", len(applied))
