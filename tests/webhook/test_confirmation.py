"""Unsigned deliveries are hints: applied only as Flatpeak itself reports the event.

Anyone who learns the webhook URL can post to it. Without a signature that says whose
the event is, the event is read back with `GET /events/{id}` and the API's copy applied;
an id Flatpeak does not know changes nothing and is not remembered. Read-backs are
bounded per location and in total.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock

from homeassistant.util.aiohttp import MockRequest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.flatpeak.api.exceptions import FlatpeakNotFoundError
from custom_components.flatpeak.api.models import Event
from custom_components.flatpeak.const import CONF_REQUIRE_SIGNED_WEBHOOKS
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK, Outcome
from custom_components.flatpeak.webhook.confirmation import (
    MAX_TRACKED_LOCATIONS,
    READ_BACK_REFILL_PER_LOCATION,
    READ_BACK_REFILL_TOTAL,
    READ_BACKS_PER_LOCATION,
    READ_BACKS_TOTAL,
    EventConfirmer,
    ReadBackLimiter,
    TokenBucket,
    Verdict,
)
from custom_components.flatpeak.webhook.event_log import MAX_REMEMBERED_IDS
from custom_components.flatpeak.webhook.handler import async_handle_delivery
from tests.helpers import ACCOUNT_ID, HOME_ID, NOW, WEBHOOK_PATH, make_event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.helpers import FlatpeakDeliveries
    from tests.simulator import RunningSimulator, SigningKey

NOW_TS = int(NOW.timestamp())


def _signed_headers(key: SigningKey, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Flatpeak-Signature": key.sign(NOW_TS, body),
        "Flatpeak-Signature-Scheme": "v1",
        "Flatpeak-Timestamp": str(NOW_TS),
        "Flatpeak-Key-ID": key.kid,
    }


def _random_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _applied(captured: list[Any]) -> list[str]:
    return [event.data["event_id"] for event in captured]


# -- what a read-back decides --------------------------------------------------------------


async def test_unknown_id_is_refused_and_not_remembered(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """404 for an id Flatpeak does not know; once Flatpeak lists it, it applies."""
    event_log = init_integration.runtime_data.event_log
    last = event_log.last_event_id
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    event = make_event("tariff.expired", event_id="evt_not_listed_yet")

    junk = await hass_client_no_auth()
    response = await junk.post(WEBHOOK_PATH, json=event)
    assert response.status == 404
    await hass.async_block_till_done()
    assert captured == []
    assert "evt_not_listed_yet" not in event_log
    assert event_log.last_event_id == last
    assert simulator.state.calls["event"] == 1

    # Flatpeak delivers it again once it has it: now it is applied.
    client = await flatpeak_client()
    response = await client.post(WEBHOOK_PATH, json=event)
    assert response.status == 200
    assert (await response.json())["message"] == Outcome.APPLIED
    await hass.async_block_till_done()
    assert _applied(captured) == ["evt_not_listed_yet"]


async def test_api_unreachable_asks_for_a_retry(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    webhook_client: FlatpeakDeliveries,
) -> None:
    """503 with Retry-After while the event cannot be read back; the retry applies."""
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    simulator.state.inject_fault("event", status=500, times=None)
    event = make_event("tariff.expired", event_id="evt_while_down")

    response = await webhook_client.post(WEBHOOK_PATH, json=event)
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    await hass.async_block_till_done()
    assert captured == []
    assert "evt_while_down" not in init_integration.runtime_data.event_log

    simulator.state.clear_faults("event")
    response = await webhook_client.post(WEBHOOK_PATH, json=event)
    assert response.status == 200
    await hass.async_block_till_done()
    assert _applied(captured) == ["evt_while_down"]


async def test_the_api_copy_is_what_applies(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """A delivery that names a real id but says other things applies as Flatpeak says."""
    real = simulator.state.make_tariff_event("tariff.expiring", HOME_ID)
    forged = {**real, "type": "tariff.expired"}
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await hass_client_no_auth()
    response = await client.post(WEBHOOK_PATH, json=forged)
    assert response.status == 200
    await hass.async_block_till_done()
    assert [(e.data["event_id"], e.data["type"]) for e in captured] == [
        (real["id"], "tariff.expiring")
    ]


# -- read-back budget ----------------------------------------------------------------------


async def test_flood_of_unknown_ids_costs_a_bounded_number_of_read_backs(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """200 random ids for one location: at most the location's budget of GETs, 503 after.

    Flatpeak's own delivery in the middle of it is asked to come back (503), and is
    applied once the budget has refilled.
    """
    state = simulator.state
    event_log = init_integration.runtime_data.event_log
    remembered = len(event_log)
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    junk = await hass_client_no_auth()
    statuses: list[int] = []
    for _ in range(200):
        response = await junk.post(
            WEBHOOK_PATH, json=make_event("tariff.expired", event_id=_random_id())
        )
        statuses.append(response.status)
        if response.status == 503:
            assert int(response.headers["Retry-After"]) > 0
    await hass.async_block_till_done()

    read_backs = state.calls["event"]
    assert read_backs <= READ_BACKS_PER_LOCATION
    assert statuses.count(404) == read_backs
    assert statuses.count(503) == 200 - read_backs
    assert captured == []
    assert len(event_log) == remembered

    client = await flatpeak_client()
    real = make_event("tariff.expired", event_id="evt_real_during_flood")
    response = await client.post(WEBHOOK_PATH, json=real)
    assert response.status == 503
    freezer.tick(READ_BACK_REFILL_PER_LOCATION + 1)
    response = await client.post(WEBHOOK_PATH, json=real)
    assert response.status == 200
    await hass.async_block_till_done()
    assert _applied(captured) == ["evt_real_during_flood"]


async def test_concurrent_deliveries_of_one_id_cost_one_read_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    webhook_client: FlatpeakDeliveries,
) -> None:
    """Flatpeak's retries overlapping the first attempt share its read-back."""
    copies = 5
    runtime = init_integration.runtime_data
    confirm = runtime.confirmer.async_confirm
    read_back = runtime.client.get_event
    arrived = 0
    all_arrived = asyncio.Event()
    release = asyncio.Event()

    async def counting_confirm(event: Event) -> Any:
        nonlocal arrived
        arrived += 1
        if arrived == copies:
            all_arrived.set()
        return await confirm(event)

    async def held_read_back(event_id: str) -> Event:
        await release.wait()
        return await read_back(event_id)

    runtime.confirmer.async_confirm = counting_confirm  # type: ignore[method-assign]
    runtime.client.get_event = held_read_back  # type: ignore[method-assign]
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    body = make_event("tariff.expired", event_id="evt_overlapping")
    posts = [
        asyncio.create_task(webhook_client.post(WEBHOOK_PATH, json=body))
        for _ in range(copies)
    ]
    await asyncio.wait_for(all_arrived.wait(), timeout=60)
    release.set()
    responses = await asyncio.gather(*posts)

    assert [response.status for response in responses] == [200] * copies
    messages = sorted([(await response.json())["message"] for response in responses])
    assert messages == sorted([Outcome.APPLIED] + [Outcome.DUPLICATE] * (copies - 1))
    assert simulator.state.calls["event"] == 1
    await hass.async_block_till_done()
    assert _applied(captured) == ["evt_overlapping"]


async def test_confirmer_shares_one_read_back_between_callers() -> None:
    """The same, at the confirmer: five callers, one GET, all see the confirmation."""
    started = asyncio.Event()
    release = asyncio.Event()
    event = Event.from_dict(make_event("tariff.expired", event_id="evt_shared"))

    async def get_event(event_id: str) -> Event:
        started.set()
        await release.wait()
        return event

    client = AsyncMock()
    client.get_event.side_effect = get_event
    confirmer = EventConfirmer(client, ReadBackLimiter(clock=FakeClock()))
    tasks = [asyncio.create_task(confirmer.async_confirm(event)) for _ in range(5)]
    await asyncio.wait_for(started.wait(), timeout=60)
    # Every caller has run up to its wait by now: they were all started before it.
    release.set()
    results = await asyncio.gather(*tasks)
    assert client.get_event.await_count == 1
    assert {result.verdict for result in results} == {Verdict.CONFIRMED}
    assert all(result.event is event for result in results)

    # Done: the next delivery of that id reads it back again (nothing is cached).
    client.get_event.side_effect = FlatpeakNotFoundError("gone")
    assert (await confirmer.async_confirm(event)).verdict is Verdict.UNKNOWN
    assert client.get_event.await_count == 2


def test_token_bucket() -> None:
    """A burst of `capacity`, then one per `refill` seconds, never more than capacity."""
    clock = FakeClock()
    bucket = TokenBucket(3, 10.0, clock)
    assert bucket.full
    for _ in range(3):
        assert bucket.can_take()
        bucket.take()
    assert not bucket.can_take()
    assert not bucket.full
    clock.now += 9.9
    assert not bucket.can_take()
    clock.now += 0.1
    assert bucket.can_take()
    bucket.take()
    assert not bucket.can_take()
    # Idle for long: full again, but a burst is still only `capacity`.
    clock.now += 1000
    assert bucket.full
    taken = 0
    while bucket.can_take():
        bucket.take()
        taken += 1
    assert taken == 3


def test_limiter_per_location_and_total() -> None:
    """Each location has its own burst; all of them share the total."""
    clock = FakeClock()
    limiter = ReadBackLimiter(clock=clock)
    assert all(limiter.try_take("loc_a") for _ in range(READ_BACKS_PER_LOCATION))
    assert not limiter.try_take("loc_a")
    # Another location (and deliveries naming none) have budgets of their own.
    assert limiter.try_take("loc_b")
    assert limiter.try_take(None)
    clock.now += READ_BACK_REFILL_PER_LOCATION
    assert limiter.try_take("loc_a")
    assert not limiter.try_take("loc_a")

    # The total: a flood spread over many locations stops at READ_BACKS_TOTAL.
    limiter = ReadBackLimiter(clock=clock)
    granted = sum(limiter.try_take(f"loc_{n}") for n in range(10 * READ_BACKS_TOTAL))
    assert granted == READ_BACKS_TOTAL
    clock.now += READ_BACK_REFILL_TOTAL
    assert limiter.try_take("loc_fresh")
    assert not limiter.try_take("loc_fresher")


def test_limiter_forgets_idle_locations() -> None:
    """Locations a flood invents are not remembered without bound; busy ones are kept."""
    clock = FakeClock()
    limiter = ReadBackLimiter(clock=clock)
    assert limiter.try_take("loc_idle")
    # Long enough for every budget to be full again.
    step = READ_BACKS_PER_LOCATION * READ_BACK_REFILL_PER_LOCATION
    for n in range(3 * MAX_TRACKED_LOCATIONS):
        clock.now += step
        assert limiter.try_take(f"loc_invented_{n}")
    assert len(limiter._per_location) <= MAX_TRACKED_LOCATIONS
    assert "loc_idle" not in limiter._per_location

    # A location whose budget is spent is not forgotten to give it a fresh one.
    clock.now += step
    assert all(limiter.try_take("loc_busy") for _ in range(READ_BACKS_PER_LOCATION))
    for n in range(2 * MAX_TRACKED_LOCATIONS):
        limiter.try_take(f"loc_more_{n}")
    assert "loc_busy" in limiter._per_location
    assert not limiter.try_take("loc_busy")
    assert len(limiter._per_location) <= MAX_TRACKED_LOCATIONS + READ_BACKS_TOTAL


# -- what junk can do to exactly-once and catch-up -------------------------------------


async def test_junk_ids_neither_evict_real_ids_nor_move_catch_up(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    webhook_client: FlatpeakDeliveries,
) -> None:
    """5,000 unknown ids, each read back: the real id is still de-duplicated after them.

    And a junk id larger than every real one (`evt_ffff…`) does not become the point
    catch-up starts from, which would hide every real event missed in an outage.
    """
    runtime = init_integration.runtime_data
    # Budgets that refill at once: every junk id really is read back (and unknown).
    runtime.confirmer = EventConfirmer(
        runtime.client, ReadBackLimiter(clock=itertools.count(step=3600).__next__)
    )
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    real = simulator.state.make_tariff_event("tariff.expiring", HOME_ID)
    response = await webhook_client.post(WEBHOOK_PATH, json=real)
    assert (await response.json())["message"] == Outcome.APPLIED
    last = runtime.event_log.last_event_id
    assert last == real["id"]

    statuses: list[int] = []
    for n in range(MAX_REMEMBERED_IDS):
        body = json.dumps(make_event("customer.update", event_id=f"evt_junk{n:06}"))
        request = MockRequest(
            content=body.encode(),
            mock_source="test",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        statuses.append((await async_handle_delivery(init_integration, request)).status)

    # Flatpeak's retry of the real event is still recognised: not applied twice.
    response = await webhook_client.post(WEBHOOK_PATH, json=real)
    assert (await response.json())["message"] == Outcome.DUPLICATE

    highest = "evt_" + "f" * 24
    junk = make_event("tariff.expired", event_id=highest)
    response = await async_handle_delivery(
        init_integration,
        MockRequest(
            content=json.dumps(junk).encode(), mock_source="test", method="POST"
        ),
    )
    statuses.append(response.status)
    assert runtime.event_log.last_event_id == last

    assert set(statuses) == {404}
    assert simulator.state.calls["event"] == MAX_REMEMBERED_IDS + 2
    await hass.async_block_till_done()
    assert _applied(captured) == [real["id"]]


# -- signatures that do not say whose the event is -------------------------------------


async def _setup_requiring_signatures(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_REQUIRE_SIGNED_WEBHOOKS: True}
    )
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def _without_owner(event: dict[str, Any]) -> dict[str, Any]:
    data = {
        key: value
        for key, value in event["data"].items()
        if key not in ("account_id", "live_mode")
    }
    return {**event, "data": data}


async def test_signed_event_of_another_customer_without_account_is_read_back(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Flatpeak signs every customer's events alike: the signature alone is not ours.

    Without account_id, even a valid signature makes it a hint; our key cannot read the
    other customer's event back, so it is refused (404) and nothing applies.
    """
    await _setup_requiring_signatures(hass, mock_config_entry, freezer)
    state = simulator.state
    theirs = _without_owner(make_event("tariff.expired", event_id="evt_theirs"))
    state.store_event(theirs, account_id="acc_another_customer")
    ours = _without_owner(make_event("tariff.expired", event_id="evt_ours_unnamed"))
    state.store_event(ours, account_id=ACCOUNT_ID)
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await hass_client_no_auth()

    body = json.dumps(theirs).encode()
    response = await client.post(
        WEBHOOK_PATH, data=body, headers=_signed_headers(state.signing_key, body)
    )
    assert response.status == 404
    await hass.async_block_till_done()
    assert captured == []
    assert state.calls["event"] == 1

    # The same for one of ours: the read-back finds it, so it applies.
    body = json.dumps(ours).encode()
    response = await client.post(
        WEBHOOK_PATH, data=body, headers=_signed_headers(state.signing_key, body)
    )
    assert response.status == 200
    await hass.async_block_till_done()
    assert _applied(captured) == ["evt_ours_unnamed"]
    assert state.calls["event"] == 2


async def test_signed_event_saying_it_is_ours_applies_without_read_back(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Signed, with our account and live mode: applied at once, no GET /events/{id}."""
    await _setup_requiring_signatures(hass, mock_config_entry, freezer)
    state = simulator.state
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await hass_client_no_auth()
    body = json.dumps(make_event("tariff.expired", event_id="evt_signed_ours")).encode()
    response = await client.post(
        WEBHOOK_PATH, data=body, headers=_signed_headers(state.signing_key, body)
    )
    assert response.status == 200
    assert (await response.json())["message"] == Outcome.APPLIED
    await hass.async_block_till_done()
    assert _applied(captured) == ["evt_signed_ours"]
    assert state.calls["event"] == 0


async def test_invented_location_ids_cannot_pin_memory(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Deliveries naming huge made-up location ids do not keep those ids in memory.

    The budgets are kept per location named by a delivery, before anything is
    confirmed; ids that are not shaped like Flatpeak's share one budget instead of
    being remembered one by one (each could be most of a 1 MiB body).
    """
    limiter = ReadBackLimiter(clock=FakeClock())
    runtime = init_integration.runtime_data
    runtime.confirmer = EventConfirmer(runtime.client, limiter)
    client = await hass_client_no_auth()
    huge = 100_000
    for n in range(40):
        event = make_event(
            "tariff.expired",
            event_id=f"evt_pin{n:03}",
            location_id=f"loc_{n:03}_" + "x" * huge,
        )
        response = await client.post(WEBHOOK_PATH, json=event)
        assert response.status in (404, 503)
    assert sum(len(key) for key in limiter._per_location) < huge
    # The same holds for the limiter on its own, over more than it tracks.
    for n in range(2 * MAX_TRACKED_LOCATIONS):
        limiter.try_take(f"loc_{n}_" + "y" * 10_000)
    assert sum(len(key) for key in limiter._per_location) < huge
    # Well-formed ids still get budgets of their own.
    assert limiter.try_take("loc_641b90b758fb8e6293716e41")
