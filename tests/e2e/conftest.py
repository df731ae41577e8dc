"""Fixtures for the end-to-end tests: one simulator and one Home Assistant per session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from tests.e2e.harness import HomeAssistant, Simulator, WebSocket, deprecation_reports

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@dataclass
class Stack:
    """The running processes and the Flatpeak entry created through the UI flow."""

    simulator: Simulator
    hass: HomeAssistant
    entry: dict[str, Any]

    @property
    def entry_id(self) -> str:
        """Return the Flatpeak entry's id."""
        return str(self.entry["result"]["entry_id"])

    @property
    def webhook_url(self) -> str:
        """Return the webhook URL the set-up showed."""
        return str(self.entry["description_placeholders"]["webhook_url"])


@pytest.fixture(scope="session", autouse=True)
def no_deprecated_use(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run if any Home Assistant it started reports a deprecated use by us."""
    yield
    reports = {
        log: found
        for log in sorted(tmp_path_factory.getbasetemp().rglob("hass-process.log"))
        if (found := deprecation_reports(log.read_text(errors="replace")))
    }
    if reports:
        pytest.fail(
            "Home Assistant reports deprecated uses by the integration:\n"
            + "\n".join(
                f"{log}:\n" + "\n".join(found) for log, found in reports.items()
            ),
            pytrace=False,
        )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Start the simulator and Home Assistant, onboard, and add the Flatpeak entry."""
    work = tmp_path_factory.mktemp("e2e")
    simulator = Simulator(work)
    hass = HomeAssistant(work / "config")
    await simulator.start()
    try:
        await hass.start()
        await hass.onboard()
        entry = await hass.add_flatpeak_entry(simulator.url)
        yield Stack(simulator, hass, entry)
    finally:
        await hass.close()
        await simulator.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def events(stack: Stack) -> AsyncIterator[WebSocket]:
    """A websocket connection subscribed to `flatpeak_event`."""
    async with stack.hass.websocket() as ws:
        await ws.subscribe("flatpeak_event")
        yield ws
        await ws.close()
