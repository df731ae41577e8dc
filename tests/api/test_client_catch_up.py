"""Catch-up over `GET /events` when the API misbehaves: it ends, and loses no good event."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from custom_components.flatpeak.api.client import MAX_PAGE_SIZE, FlatpeakClient
from tests.simulator import RunningSimulator, SimulatorState, start_simulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ACCOUNT = "acc_661677911f2197045e6cf1b1"
LIVE_KEY = "sk_live_65e88ad8b13031c26a39c06c"
LOCATION = "loc_home"
# More calls than a correct catch-up makes; a catch-up that loops runs into the 500.
LOOP_GUARD = 20


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[RunningSimulator]:
    """An account with one location and no events yet."""
    state = SimulatorState()
    state.add_account(ACCOUNT, [LIVE_KEY])
    state.add_location(ACCOUNT, LOCATION)
    state.set_status(LOCATION)
    async with await start_simulator(state) as running:
        yield running


@pytest.fixture
async def client(simulator: RunningSimulator) -> AsyncIterator[FlatpeakClient]:
    """A client of the simulator."""
    async with aiohttp.ClientSession() as session:
        yield FlatpeakClient(session, ACCOUNT, LIVE_KEY, api_url=simulator.url)


def _events(state: SimulatorState, count: int) -> list[dict[str, Any]]:
    """Events that happened in Flatpeak, oldest first."""
    return [state.make_tariff_event("tariff.expiring", LOCATION) for _ in range(count)]


def _page(events: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {"object": "list", "url": "/events", "has_more": has_more, "data": events}


def _then_fail(state: SimulatorState) -> None:
    """After the queued pages, every further request fails."""
    state.inject_fault("events", status=500, times=None)


async def test_a_repeated_page_ends_catch_up(
    simulator: RunningSimulator, client: FlatpeakClient
) -> None:
    """An API that serves the same page again (has_more still true) is read once."""
    state = simulator.state
    events = _events(state, 3)
    state.inject_fault(
        "events",
        status=200,
        body=_page(events[::-1], has_more=True),
        times=LOOP_GUARD,
    )
    _then_fail(state)

    found = await client.list_recent_events()

    assert [event.id for event in found] == [event["id"] for event in events]
    # The first page, and the repeat that brought nothing new.
    assert state.calls["events"] == 2


async def test_a_repeated_cursor_ends_catch_up(
    simulator: RunningSimulator, client: FlatpeakClient
) -> None:
    """A next page that ends on the cursor already used would be asked for again."""
    state = simulator.state
    older, middle, newer = _events(state, 3)
    state.inject_fault("events", status=200, body=_page([newer, middle], has_more=True))
    # Something new, but ending where the previous page ended.
    state.inject_fault(
        "events",
        status=200,
        body=_page([older, middle], has_more=True),
        times=LOOP_GUARD,
    )
    _then_fail(state)

    found = await client.list_recent_events()

    assert sorted(event.id for event in found) == sorted(
        event["id"] for event in (older, middle, newer)
    )
    assert state.calls["events"] == 2


async def test_an_unparsable_event_is_skipped_and_the_others_returned(
    simulator: RunningSimulator,
    client: FlatpeakClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One event of a shape we cannot read no longer fails every catch-up.

    One broken event sits inside the first page, another is the last on it (where the
    next page starts): both are skipped, every other event of both pages is returned.
    """
    state = simulator.state
    events = _events(state, MAX_PAGE_SIZE + 50)
    newest_first = events[::-1]
    broken = [newest_first[10], newest_first[MAX_PAGE_SIZE - 1]]
    for event in broken:
        event["data"] = "not an object"
    caplog.set_level(logging.WARNING)

    found = await client.list_recent_events()

    assert [event.id for event in found] == [
        event["id"] for event in events if event not in broken
    ]
    assert state.calls["events"] == 2
    assert caplog.text.count("Skipping an event Flatpeak listed") == 2

    # Catching up from an id behind the broken ones skips them as well.
    after = events[20]["id"]
    found = await client.list_recent_events(after_id=after)
    assert [event.id for event in found] == [
        event["id"] for event in events[21:] if event not in broken
    ]
