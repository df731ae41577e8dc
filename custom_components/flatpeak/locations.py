"""Following locations that appear or disappear while an entry is loaded.

Nothing here trusts an event alone: a location is added only once Flatpeak serves it,
and dropped only once Flatpeak answers that it does not exist. A location the user chose
is never removed from the entry's options by Home Assistant; it is set aside with a
Repairs issue until it exists again or the user removes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import dt as dt_util

from .api.exceptions import FlatpeakError
from .const import (
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    DEFAULT_FOLLOW_ALL_LOCATIONS,
    DOMAIN,
    LOGGER,
)
from .coordinator import FlatpeakLocationCoordinator
from .runtime import async_announce_location

if TYPE_CHECKING:
    from .runtime import FlatpeakConfigEntry

# Each location is tried at most this often, and only so many at once: events naming
# locations cost an API call each, and a burst of them must not become a burst of calls.
ADD_RETRY_INTERVAL: Final = timedelta(minutes=10)
MAX_CONCURRENT_ADDS: Final = 4


def chosen_locations(entry: FlatpeakConfigEntry) -> set[str]:
    """Return the locations the user picked by name (none when following all)."""
    if entry.options.get(CONF_FOLLOW_ALL_LOCATIONS, DEFAULT_FOLLOW_ALL_LOCATIONS):
        return set()
    return set(entry.options.get(CONF_LOCATIONS, []))


def location_missing_issue_id(location_id: str) -> str:
    """Return the Repairs issue id of a chosen location Flatpeak no longer knows."""
    return f"location_missing_{location_id}"


@callback
def async_request_add_location(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, location_id: str
) -> None:
    """Start following a new location in the background, at a bounded rate."""
    runtime = entry.runtime_data
    now = dt_util.utcnow()
    attempts = runtime.location_add_attempts
    for stale in [
        loc for loc, at in attempts.items() if now - at >= ADD_RETRY_INTERVAL
    ]:
        del attempts[stale]
    if (
        location_id in runtime.coordinators
        or location_id in attempts
        or len(runtime.locations_being_added) >= MAX_CONCURRENT_ADDS
    ):
        LOGGER.debug("Not adding Flatpeak location %s now", location_id)
        return
    attempts[location_id] = now
    runtime.locations_being_added.add(location_id)
    entry.async_create_background_task(
        hass,
        _async_add_location(hass, entry, location_id),
        f"{DOMAIN} add location {location_id}",
    )


async def _async_add_location(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, location_id: str
) -> None:
    runtime = entry.runtime_data
    try:
        # Asked first, so a location that does not exist costs no coordinator.
        await runtime.client.get_location(location_id)
    except FlatpeakError as err:
        LOGGER.warning("Could not add Flatpeak location %s now: %s", location_id, err)
        runtime.locations_being_added.discard(location_id)
        return
    coordinator = FlatpeakLocationCoordinator(hass, entry, runtime.client, location_id)
    await coordinator.async_refresh()
    runtime.locations_being_added.discard(location_id)
    if not coordinator.last_update_success or location_id in runtime.coordinators:
        LOGGER.warning(
            "Could not add Flatpeak location %s now; it is added at the next reload",
            location_id,
        )
        await coordinator.async_shutdown()
        return
    LOGGER.info("Following new Flatpeak location %s", location_id)
    async_announce_location(hass, entry, coordinator)


@callback
def async_drop_missing_location(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, location_id: str
) -> None:
    """Stop following a location Flatpeak answers does not exist."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinators.pop(location_id, None)
    if coordinator is None:
        return
    entry.async_create_background_task(
        hass, coordinator.async_shutdown(), f"{DOMAIN} stop {location_id}"
    )
    runtime.problems.async_forget_location(location_id)
    if location_id in chosen_locations(entry):
        async_report_missing_location(hass, entry, location_id)
        return
    registry = dr.async_get(hass)
    if device := registry.async_get_device_by_identifier(
        (DOMAIN, location_id), entry.entry_id
    ):
        registry.async_remove_device(device.id)
    LOGGER.info("Flatpeak location %s was deleted; its device is removed", location_id)


@callback
def async_report_missing_location(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, location_id: str
) -> None:
    """Tell the user that a location they chose no longer exists at Flatpeak."""
    LOGGER.warning(
        "Flatpeak has no location %s any more; it is not followed until it exists "
        "again and the integration is reloaded. If it was deleted, remove it in the "
        "integration's options",
        location_id,
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        location_missing_issue_id(location_id),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="location_missing",
        translation_placeholders={"location_id": location_id, "title": entry.title},
        data={"entry_id": entry.entry_id, "location_id": location_id},
    )


@callback
def async_sync_missing_location_issues(
    hass: HomeAssistant, entry: FlatpeakConfigEntry, missing: set[str]
) -> None:
    """Make Repairs show exactly the chosen locations that are missing now."""
    registry = ir.async_get(hass)
    for (domain, issue_id), issue in list(registry.issues.items()):
        data = issue.data or {}
        if (
            domain == DOMAIN
            and issue_id.startswith("location_missing_")
            and data.get("entry_id") == entry.entry_id
            and data.get("location_id") not in missing
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for location_id in missing:
        async_report_missing_location(hass, entry, location_id)
