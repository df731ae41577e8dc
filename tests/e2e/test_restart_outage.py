"""A real Home Assistant restarted while Flatpeak answers 503 to everything keeps prices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from tests.e2e.harness import HomeAssistant, Simulator
from tests.simulator.demo import DEMO_HOME_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.asyncio(loop_scope="session")

CURRENT = "sensor.home_current_price"
# One-minute slots, each 0.001 dearer than the one before it: every minute boundary
# changes the price, so a boundary is met within a minute of any moment.
BASE = 0.1
STEP = 0.001


def _price_at(valid_from: str) -> float:
    utc = datetime.fromisoformat(valid_from).astimezone(UTC)
    return round(BASE + (utc.hour * 60 + utc.minute) * STEP, 6)


class Stack:
    """A simulator and a Home Assistant with the demo account set up."""

    def __init__(self, work: Path) -> None:
        """Prepare both processes."""
        self.simulator = Simulator(work)
        self.hass = HomeAssistant(work / "config")
        self.entry_id = ""

    def stored_prices(self) -> dict[str, Any] | None:
        """Return the entry's stored prices as on disk, if written."""
        path = self.hass.config_dir / ".storage" / f"flatpeak.{self.entry_id}.prices"
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError, ValueError:
            return None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Start both, with one-minute prices for Home."""
    stack = Stack(tmp_path_factory.mktemp("restart_outage"))
    await stack.simulator.start()
    try:
        await stack.hass.start()
        await stack.hass.onboard()
        await stack.simulator.control(
            "prices",
            {
                "location_id": DEMO_HOME_ID,
                "value": BASE,
                "step": STEP,
                "slot_minutes": 1,
            },
        )
        result = await stack.hass.add_flatpeak_entry(stack.simulator.url)
        stack.entry_id = result["result"]["entry_id"]
        yield stack
    finally:
        await stack.hass.close()
        await stack.simulator.stop()


async def test_restart_during_an_outage_serves_stored_prices(running: Stack) -> None:
    """Loaded from the stored prices; the price changes at the next slot boundary."""
    hass = running.hass
    first = await hass.wait_for_state(
        CURRENT, lambda s: s["state"] not in ("unavailable", "unknown"), timeout=60
    )
    assert float(first["state"]) == _price_at(first["attributes"]["valid_from"])

    # Stored within seconds of the fetch, before and whatever the stop does.
    deadline = time.monotonic() + 60
    while not (
        (stored := running.stored_prices())
        and DEMO_HOME_ID in stored["data"]["locations"]
    ):
        assert time.monotonic() < deadline, "the prices were not stored"
        await asyncio.sleep(0.5)

    await hass.stop()
    await running.simulator.control(
        "fault", {"route": "*", "status": 503, "times": None}
    )
    await hass.start()
    await hass.login()
    await hass.wait_for_entry_loaded(running.entry_id, timeout=120)

    now = await hass.wait_for_state(
        CURRENT, lambda s: s["state"] not in ("unavailable", "unknown"), timeout=60
    )
    assert float(now["state"]) == _price_at(now["attributes"]["valid_from"])
    after = await hass.wait_for_state(
        CURRENT,
        lambda s: s["attributes"].get("valid_from") != now["attributes"]["valid_from"],
        timeout=90,
    )
    assert after["state"] not in ("unavailable", "unknown")
    assert float(after["state"]) == _price_at(after["attributes"]["valid_from"])
    assert float(after["state"]) != float(now["state"])
    # Served from the stored prices: Flatpeak answered nothing but 503.
    assert "Cannot update Flatpeak prices" in (
        hass.config_dir / "home-assistant.log"
    ).read_text(errors="replace")
    await running.simulator.control("clear_faults")
