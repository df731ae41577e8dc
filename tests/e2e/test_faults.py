"""Faults injected into the simulator while a real Home Assistant runs the integration."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from tests.e2e.harness import HomeAssistant, Simulator
from tests.simulator.demo import DEMO_HOME_ID, DEMO_LIVE_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

pytestmark = pytest.mark.asyncio(loop_scope="session")

CURRENT = "sensor.home_current_price"


class Faulty:
    """A simulator and a Home Assistant whose Flatpeak entry is set up at start."""

    def __init__(self, work: Path) -> None:
        """Prepare both processes."""
        self.simulator = Simulator(work)
        self.hass = HomeAssistant(work / "config")
        self.entry_id = ""
        self.webhook_url = ""

    @property
    def log(self) -> str:
        """Return Home Assistant's log so far."""
        path = self.hass.config_dir / "home-assistant.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def crash_log(self) -> str:
        """Return the log without the tracebacks Home Assistant adds at debug level.

        Home Assistant logs the traceback of an error it handled ("Full exception" for a
        set-up retry, since 2026.11; "Full error:" for a failed refresh) at debug level
        under the integration's own logger: expected retries, not crashes of ours.
        """
        records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", self.log)
        return "\n".join(
            record
            for record in records
            if not re.search(
                r" DEBUG \(\w+\) \[custom_components\.flatpeak\] Full (exception|error:)$",
                record.split("\n", 1)[0],
            )
        )

    async def entry_state(self) -> str:
        """Return the Flatpeak entry's state (loaded, setup_retry, …)."""
        entries = await self.hass.request("GET", "/api/config/config_entries/entry")
        return next(e["state"] for e in entries if e["entry_id"] == self.entry_id)

    async def wait_for(self, check: Callable[[], Any], timeout: float = 20.0) -> None:
        """Wait until an async check returns true."""
        deadline = time.monotonic() + timeout
        while not await check():
            assert time.monotonic() < deadline, "condition not reached in time"
            await asyncio.sleep(0.2)

    async def push(self, event_type: str = "location.update") -> dict[str, Any]:
        """Deliver an event for Home, signed, through the simulator."""
        return dict(
            await self.simulator.control(
                "send",
                {
                    "type": event_type,
                    "location_id": DEMO_HOME_ID,
                    "url": self.webhook_url,
                    # Flatpeak's first retry comes 30 s later; here after 15 s, still
                    # past the integration's 10 s back-off after a failed key fetch.
                    "schedule": [0, 30],
                    "time_scale": 0.5,
                },
            )
        )

    async def refresh(self) -> None:
        """Have Home Assistant update the prices now, as the entity update action does.

        Events asking for a refresh are rate-limited per location (one, then one per
        5 minutes), so the tests ask Home Assistant directly; its own debouncer lets
        one refresh through every 10 seconds.
        """
        await self.hass.request(
            "POST",
            "/api/services/homeassistant/update_entity",
            {"entity_id": CURRENT},
        )

    async def calls(self, route: str) -> int:
        """Return how often the integration called a simulator route."""
        return int((await self.simulator.control("calls"))["calls"].get(route, 0))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def faulty(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Faulty]:
    """Start with the API failing for Home's location, so set-up has to retry."""
    stack = Faulty(tmp_path_factory.mktemp("faults"))
    await stack.simulator.start()
    try:
        await stack.hass.start()
        await stack.hass.onboard()
        await stack.simulator.control(
            "fault", {"route": "location", "status": 503, "times": None}
        )
        result = await stack.hass.add_flatpeak_entry(stack.simulator.url)
        stack.entry_id = result["result"]["entry_id"]
        stack.webhook_url = result["description_placeholders"]["webhook_url"]
        yield stack
    finally:
        await stack.hass.close()
        await stack.simulator.stop()


async def test_api_down_at_start_up_then_loads(faulty: Faulty) -> None:
    """The entry waits for Flatpeak (setup_retry) and loads once it answers again."""

    async def retrying() -> bool:
        return await faulty.entry_state() == "setup_retry"

    await faulty.wait_for(retrying)
    await faulty.simulator.control("clear_faults")

    async def loaded() -> bool:
        return await faulty.entry_state() == "loaded"

    await faulty.wait_for(loaded, timeout=60)
    await faulty.hass.wait_for_state(CURRENT, lambda s: s["state"] != "unavailable")


async def test_outage_keeps_prices_and_logs_each_way_once(faulty: Faulty) -> None:
    """While Flatpeak is down the last prices stay; one line down, one line back."""
    # A flat price, so a slot boundary during the test cannot change the state.
    await faulty.simulator.control(
        "prices", {"location_id": DEMO_HOME_ID, "value": 0.2929}
    )
    await faulty.refresh()
    before = await faulty.hass.wait_for_state(CURRENT, lambda s: s["state"] == "0.2929")
    await faulty.simulator.control(
        "fault", {"route": "location", "status": 503, "times": None}
    )
    await faulty.refresh()

    async def warned() -> bool:
        return "keeping the last prices" in faulty.log

    await faulty.wait_for(warned)
    state = await faulty.hass.state(CURRENT)
    assert state is not None
    assert state["state"] == before["state"]

    await faulty.simulator.control("clear_faults")
    # Home Assistant's refresh debouncer lets the next update through after its cooldown.
    await faulty.refresh()

    async def recovered() -> bool:
        if "reachable again" not in faulty.log:
            await faulty.refresh()
            return False
        return True

    await faulty.wait_for(recovered, timeout=30)
    assert faulty.log.count("keeping the last prices") == 1
    assert faulty.log.count("reachable again") == 1


async def test_token_expiry_is_invisible(faulty: Faulty) -> None:
    """An expired bearer is renewed on the fly; the refresh succeeds."""
    logins = await faulty.calls("login")
    await faulty.simulator.control("expire_tokens")
    await faulty.simulator.control(
        "prices", {"location_id": DEMO_HOME_ID, "value": 0.3131}
    )
    await faulty.refresh()

    async def refreshed() -> bool:
        state = await faulty.hass.state(CURRENT)
        return state is not None and state["state"] == "0.3131"

    await faulty.wait_for(refreshed, timeout=30)
    assert await faulty.calls("login") == logins + 1


@pytest.mark.parametrize(
    "fault",
    [
        {"route": "prices", "status": 500, "times": 3},
        {"route": "prices", "status": 200, "body": "{not json", "times": 1},
        {
            "route": "location_status",
            "status": 200,
            "body": {"surprise": True},
            "times": 1,
        },
        {
            "route": "location",
            "status": 429,
            "headers": {"Retry-After": "5"},
            "times": 1,
        },
    ],
    ids=["5xx-burst", "malformed-json", "unexpected-shape", "rate-limited"],
)
async def test_api_faults_never_break_entities(
    faulty: Faulty, fault: dict[str, Any]
) -> None:
    """Server errors, malformed bodies and rate limits: prices stay, nothing crashes."""
    before = await faulty.hass.state(CURRENT)
    assert before is not None
    await faulty.simulator.control("fault", fault)
    requests = await faulty.calls(fault["route"])
    await faulty.refresh()

    async def attempted() -> bool:
        if await faulty.calls(fault["route"]) > requests:
            return True
        await faulty.refresh()
        return False

    await faulty.wait_for(attempted, timeout=30)
    state = await faulty.hass.state(CURRENT)
    assert state is not None
    assert state["state"] == before["state"]
    assert await faulty.entry_state() == "loaded"
    # Our code shows up in a log only inside a traceback (other integrations' noise aside).
    assert "custom_components/flatpeak/" not in faulty.crash_log
    await faulty.simulator.control("clear_faults")


async def test_jwks_unreachable_event_is_retried_not_lost(faulty: Faulty) -> None:
    """A signed event that cannot be checked gets 503; Flatpeak's retry applies it."""
    await faulty.simulator.control("rotate_key")  # a key id the integration must fetch
    await faulty.simulator.control(
        "fault", {"route": "jwks", "status": 503, "times": 1}
    )
    await faulty.simulator.control(
        "status",
        {
            "location_id": DEMO_HOME_ID,
            "status": "ERROR",
            "connection_type": "LIBRARY",
            "contract_end_date": "2020-01-01T00:00:00+00:00",
        },
    )
    sent = await faulty.push("tariff.fetch.failed")
    assert sent["result"]["attempts"] == [503, 200]
    await faulty.hass.wait_for_state(
        "binary_sensor.home_tariff_fetch_failed", lambda s: s["state"] == "on"
    )


async def test_revoked_key_asks_for_reauthentication(faulty: Faulty) -> None:
    """When the key is deleted in Flatpeak, Home Assistant asks for a new one."""
    await faulty.simulator.control("revoke_key", {"api_key": DEMO_LIVE_KEY})
    await faulty.simulator.control("expire_tokens")
    await faulty.refresh()

    async with faulty.hass.websocket() as ws:

        async def reauth_offered() -> bool:
            flows = await ws.command("config_entries/flow/progress")
            return any(
                flow["handler"] == "flatpeak"
                and flow["context"].get("source") == "reauth"
                for flow in flows
            )

        await faulty.wait_for(reauth_offered, timeout=30)
        await ws.close()
