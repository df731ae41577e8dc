"""Events arrive however their deliveries fail, against a real Home Assistant.

(a) A junk flood keeps Home's read-back budget spent while Flatpeak delivers a real
unsigned event: the delivery is refused (503), and the catch-up it asks for applies the
event once, within 60 s. (c) A signed event whose every delivery carries the first
attempt's timestamp, ten minutes old: applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import TYPE_CHECKING

import aiohttp
import pytest
import pytest_asyncio

from tests.e2e.harness import HomeAssistant, Simulator, WebSocket
from tests.simulator.demo import DEMO_ACCOUNT_ID, DEMO_HOME_ID, DEMO_WORKSHOP_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What the README states (Security): a real event under one junk post every 10 s is
# applied within this long.
APPLIED_WITHIN = 60.0
JUNK_EVERY = 10.0
# Made-up ids for Home that spend its read-back budget (a burst of 10) before the flood.
JUNK_BURST = 20


class Stack:
    """A simulator and a Home Assistant with the Flatpeak entry."""

    def __init__(self, work: Path) -> None:
        """Prepare both processes."""
        self.simulator = Simulator(work)
        self.hass = HomeAssistant(work / "config")
        self.webhook_url = ""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Start both and add the entry through the UI flow."""
    running = Stack(tmp_path_factory.mktemp("deliveries"))
    await running.simulator.start()
    try:
        await running.hass.start()
        await running.hass.onboard()
        result = await running.hass.add_flatpeak_entry(running.simulator.url)
        running.webhook_url = result["description_placeholders"]["webhook_url"]
        await running.hass.wait_for_entry_loaded(result["result"]["entry_id"])
        yield running
    finally:
        await running.hass.close()
        await running.simulator.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def events(stack: Stack) -> AsyncIterator[WebSocket]:
    """A websocket connection subscribed to `flatpeak_event`."""
    async with stack.hass.websocket() as ws:
        await ws.subscribe("flatpeak_event")
        yield ws
        await ws.close()


def _junk() -> bytes:
    """An unsigned delivery Flatpeak never sent: a made-up id for Home."""
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": "tariff.expired",
            "data": {
                "live_mode": True,
                "location_id": DEMO_HOME_ID,
                "account_id": DEMO_ACCOUNT_ID,
            },
        }
    ).encode()


async def _post_junk(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(
        url, data=_junk(), headers={"Content-Type": "application/json"}
    ) as response:
        return response.status


async def _applied_ids_until(
    stack: Stack, events: WebSocket, deadline: float
) -> list[str]:
    """Collect applied event ids until a marker event, delivered signed, comes through.

    Bus events reach the websocket in order, so everything applied before the marker
    is in the list: nothing applied twice can hide behind a wait.
    """
    sent = await stack.simulator.control(
        "send",
        {
            "type": "customer.update",
            "location_id": DEMO_HOME_ID,
            "url": stack.webhook_url,
        },
    )
    marker = sent["event"]["id"]
    seen: list[str] = []
    while True:
        event = await events.next_event(timeout=max(deadline - time.monotonic(), 0.1))
        if event["data"]["event_id"] == marker:
            return seen
        seen.append(event["data"]["event_id"])


async def test_real_event_under_a_junk_flood_is_applied_within_a_minute(
    stack: Stack, events: WebSocket
) -> None:
    """(a) One junk post every 10 s: the real unsigned event is applied once in 60 s."""
    async with aiohttp.ClientSession() as session:
        burst = [
            await _post_junk(session, stack.webhook_url) for _ in range(JUNK_BURST)
        ]
        assert 503 in burst  # Home's read-back budget is spent

        async def flood() -> None:
            while True:
                await asyncio.sleep(JUNK_EVERY)
                await _post_junk(session, stack.webhook_url)

        flooding = asyncio.create_task(flood())
        try:
            started = time.monotonic()
            # One attempt only: Flatpeak's retries would meet the same spent budget,
            # so only the catch-up the refusal asks for can apply the event.
            sent = await stack.simulator.control(
                "send",
                {
                    "type": "tariff.expiring",
                    "location_id": DEMO_HOME_ID,
                    "url": stack.webhook_url,
                    "signed": False,
                    "schedule": [0],
                },
            )
            assert sent["result"]["attempts"] == [503]
            real = sent["event"]["id"]
            first = await events.next_event(timeout=APPLIED_WITHIN * 2)
            took = time.monotonic() - started
            assert first["data"]["event_id"] == real
        finally:
            flooding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flooding
    print(f"(a) real event applied {took:.1f} s after its refused delivery")  # noqa: T201
    assert took <= APPLIED_WITHIN
    later = await _applied_ids_until(stack, events, time.monotonic() + 30)
    assert real not in later


async def test_signed_retries_with_their_first_timestamp_apply_once(
    stack: Stack, events: WebSocket
) -> None:
    """(c) Retries not signed again, ten minutes after the first attempt: applied once.

    The first attempt's read-back fails (503); the retry, with the same signature and
    timestamp, is verified, read back and answered 200. (The Workshop: the flood above
    spent Home's read-back budget.)
    """
    await stack.simulator.control(
        "fault", {"route": "event", "status": 503, "times": 1}
    )
    sent = await stack.simulator.control(
        "send",
        {
            "type": "tariff.fetch.failed",
            "location_id": DEMO_WORKSHOP_ID,
            "url": stack.webhook_url,
            "signed": True,
            "resign_retries": False,
            "timestamp": int(time.time()) - 600,
            # Flatpeak's first retry comes 30 s later; here after 15 s.
            "schedule": [0, 30],
            "time_scale": 0.5,
        },
    )
    assert sent["result"]["attempts"] == [503, 200]
    real = sent["event"]["id"]
    applied = await _applied_ids_until(stack, events, time.monotonic() + 60)
    assert applied.count(real) == 1
    await stack.hass.wait_for_state(
        "binary_sensor.workshop_tariff_fetch_failed", lambda s: s["state"] == "on"
    )
