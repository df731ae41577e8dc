"""Where a location's memory goes: run by `benchmarks/prices.py` (not part of the tests).

An in-process Home Assistant (the test harness's) sets up one entry with many locations
while tracemalloc records what stays allocated; the growth is grouped by who allocated
it and printed per location. Allocations of the test harness itself are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
import gc
import os
import tracemalloc
from typing import TYPE_CHECKING

from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    CONF_WEBHOOK_ID,
    DOMAIN,
)
from tests.conftest import (  # noqa: F401 - fixtures used by name
    ACCOUNT_ID,
    LIVE_KEY,
    WEBHOOK_ID,
    auto_enable_custom_integrations,
    simulator,
    simulator_state,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from tests.simulator import RunningSimulator

LOCATIONS = int(os.environ.get("FLATPEAK_PROBE_LOCATIONS", "100"))
SLOT_MINUTES = int(os.environ.get("FLATPEAK_PROBE_SLOT_MINUTES", "15"))
# The harness's own bookkeeping (patched clocks, tracebacks of captured logs).
IGNORED = (
    "pytest_homeassistant_custom_component",
    "linecache",
    "traceback",
    "tracemalloc",
)
GROUPS = (
    ("flatpeak/api/models.py", "Flatpeak models (location, status, price slots)"),
    ("flatpeak/pricing/series.py", "price series (raw_today/raw_tomorrow cells)"),
    ("flatpeak/", "rest of the integration"),
    ("homeassistant/", "Home Assistant (entities, registries, states, timers)"),
)


def _price(start: datetime) -> tuple[float, float]:
    minute = int(start.timestamp()) // 60
    return round(0.12 + (minute * 7919 % 2311) / 10000, 4), 1.0


def _group(filename: str) -> str:
    return next((name for part, name in GROUPS if part in filename), "other")


async def test_memory_per_location(
    hass: HomeAssistant,
    simulator: RunningSimulator,  # noqa: F811 - the fixture imported above
) -> None:
    """Set up LOCATIONS locations and print what stays allocated, per location."""
    ids = []
    for index in range(LOCATIONS):
        location = simulator.state.add_location(ACCOUNT_ID, reference_id=f"P {index}")
        simulator.state.set_status(location["id"])
        simulator.state.set_price_pattern(
            location["id"], _price, slot_minutes=SLOT_MINUTES
        )
        ids.append(location["id"])
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"{ACCOUNT_ID}_live",
        data={
            CONF_ACCOUNT_ID: ACCOUNT_ID,
            CONF_API_KEY: LIVE_KEY,
            CONF_API_URL: simulator.url,
            CONF_WEBHOOK_ID: WEBHOOK_ID,
        },
        options={
            CONF_LOCATIONS: ids,
            CONF_FOLLOW_ALL_LOCATIONS: False,
            CONF_REQUIRE_SIGNED_WEBHOOKS: False,
        },
    )
    await hass.config.async_set_time_zone("Europe/London")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # A state write as at every slot boundary, so old and new states both existed once.
    for coordinator in entry.runtime_data.locations.values():
        coordinator.async_update_listeners()
    await hass.async_block_till_done()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    totals: dict[str, int] = {}
    for stat in after.compare_to(before, "filename"):
        filename = stat.traceback[0].filename
        if any(part in filename for part in IGNORED):
            continue
        totals[_group(filename)] = totals.get(_group(filename), 0) + stat.size_diff
    assert hass.states.get("sensor.p_0_current_price") is not None
    print(
        f"memory probe: {LOCATIONS} locations, {SLOT_MINUTES}-minute slots, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    for name, size in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"memory probe: {size / LOCATIONS / 1024:6.1f} KiB  {name}")
    print(f"memory probe: {sum(totals.values()) / LOCATIONS / 1024:6.1f} KiB  in all")
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
