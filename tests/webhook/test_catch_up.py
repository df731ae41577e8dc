"""Catch-up: events arrive from Flatpeak's list however their deliveries fail.

A refusal that a real event can meet asks for a catch-up; catch-ups run one at a time,
at most one per CATCH_UP_MIN_INTERVAL whoever asks, and every CATCH_UP_PERIOD anyway.
"""

from __future__ import annotations

from datetime import timedelta
import json
import secrets
from typing import TYPE_CHECKING

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.flatpeak.const import CONF_REQUIRE_SIGNED_WEBHOOKS
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK, Outcome
from custom_components.flatpeak.webhook.catch_up import (
    CATCH_UP_MIN_INTERVAL,
    CATCH_UP_PERIOD,
)
from custom_components.flatpeak.webhook.confirmation import READ_BACKS_PER_LOCATION
from tests.helpers import HOME_ID, WEBHOOK_PATH, advance_time, make_event
from tests.simulator import WebhookSender

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from tests.helpers import FlatpeakDeliveries
    from tests.simulator import RunningSimulator

JUNK_EVERY = timedelta(seconds=10)


def _junk() -> dict[str, Any]:
    return make_event("tariff.expired", event_id=f"evt_{secrets.token_hex(12)}")


def _applied(captured: list[Any]) -> list[str]:
    return [event.data["event_id"] for event in captured]


async def test_real_event_under_a_junk_flood_is_applied_within_a_minute(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Issue 18, finding 1: junk keeps the read-back budget spent; a listing heals it.

    Twenty made-up ids for Home spend its read-back budget; junk then arrives every
    10 s, before each of Flatpeak's retries, so every delivery of the real unsigned
    event meets an empty budget (503). The refusal asks for a catch-up, which junk
    cannot push back: the event is applied once, within CATCH_UP_MIN_INTERVAL.
    """
    state = simulator.state
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    junk = await hass_client_no_auth()
    statuses = [(await junk.post(WEBHOOK_PATH, json=_junk())).status for _ in range(20)]
    assert statuses.count(503) == 20 - READ_BACKS_PER_LOCATION
    listings = state.calls["events"]

    flatpeak = await flatpeak_client()
    real = make_event("tariff.expired", event_id="evt_real_in_the_flood")
    response = await flatpeak.post(WEBHOOK_PATH, json=real)
    assert response.status == 503
    await hass.async_block_till_done()
    assert captured == []

    applied_after: timedelta | None = None
    elapsed = timedelta(0)
    answers: list[str] = []
    while elapsed < timedelta(minutes=3):
        await advance_time(hass, freezer, JUNK_EVERY)
        elapsed += JUNK_EVERY
        response = await junk.post(WEBHOOK_PATH, json=_junk())
        assert response.status in (404, 503)
        if elapsed.total_seconds() % 30 == 0:
            # Flatpeak's retries, behind the junk (30 s here and on, for the test).
            response = await flatpeak.post(WEBHOOK_PATH, json=real)
            answers.append((await response.json()).get("message", response.status))
        await hass.async_block_till_done(wait_background_tasks=True)
        if applied_after is None and captured:
            applied_after = elapsed
    print(f"real event applied {applied_after} after its refused delivery")  # noqa: T201
    assert applied_after is not None
    assert applied_after <= timedelta(seconds=CATCH_UP_MIN_INTERVAL)
    assert _applied(captured) == ["evt_real_in_the_flood"]
    assert set(answers) == {Outcome.DUPLICATE}
    # However many deliveries asked: one listing per interval, no more.
    assert state.calls["events"] - listings <= elapsed.total_seconds() // (
        CATCH_UP_MIN_INTERVAL
    )


async def test_requests_cost_one_listing_per_interval(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A hundred refusals in a moment cost one listing, at the end of the interval."""
    state = simulator.state
    listings = state.calls["events"]
    client = await hass_client_no_auth()
    for _ in range(100):
        response = await client.post(WEBHOOK_PATH, data=b"not json")
        assert response.status == 400
    await hass.async_block_till_done(wait_background_tasks=True)
    # The start-up catch-up ran moments ago.
    assert state.calls["events"] == listings
    await advance_time(hass, freezer, timedelta(seconds=CATCH_UP_MIN_INTERVAL - 1))
    assert state.calls["events"] == listings
    await advance_time(hass, freezer, timedelta(seconds=1))
    assert state.calls["events"] == listings + 1
    await advance_time(hass, freezer, timedelta(seconds=CATCH_UP_MIN_INTERVAL))
    assert state.calls["events"] == listings + 1


@pytest.mark.parametrize(
    ("body", "asks"),
    [
        (b"not json", True),
        (json.dumps(make_event("tariff.expired", event_id="evt_unknown")), False),
        (b"{" + b" " * (2 * 1024 * 1024) + b"}", False),
    ],
    ids=["400-asks", "404-does-not", "413-does-not"],
)
async def test_which_refusals_ask_for_a_catch_up(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
    body: bytes | str,
    asks: bool,
) -> None:
    """A 404 (Flatpeak has not listed the event) or a 413 asks for no listing."""
    state = simulator.state
    listings = state.calls["events"]
    client = await hass_client_no_auth()
    await client.post(WEBHOOK_PATH, data=body)
    await advance_time(hass, freezer, timedelta(seconds=CATCH_UP_MIN_INTERVAL))
    assert state.calls["events"] == listings + asks


async def test_refused_while_flatpeak_is_down_arrives_when_it_answers(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    webhook_client: FlatpeakDeliveries,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Read-back and listing fail: the listing is tried again, backing off, until it works.

    One warning, then debug lines; one line when it works again.
    """
    state = simulator.state
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    state.inject_fault("event", status=503, times=None)
    state.inject_fault("events", status=503, times=None)
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event("tariff.expired", event_id="evt_while_down")
    )
    assert response.status == 503
    listings = state.calls["events"]
    # Failed listings are spaced 30 s, then 60 s, 120 s, 240 s apart.
    for gap in (30, 60, 120, 240):
        await advance_time(hass, freezer, timedelta(seconds=gap - 1))
        assert state.calls["events"] == listings
        await advance_time(hass, freezer, timedelta(seconds=1))
        assert state.calls["events"] == listings + 1
        listings += 1
    assert caplog.text.count("Could not catch up on Flatpeak events") == 1
    assert captured == []

    state.clear_faults()
    await advance_time(hass, freezer, timedelta(seconds=480))
    assert _applied(captured) == ["evt_while_down"]
    assert "Catching up on Flatpeak events works again" in caplog.text


async def test_periodic_catch_up_heals_deliveries_that_never_arrived(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An event whose deliveries never reached Home Assistant is applied within the hour."""
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    event = simulator.state.make_tariff_event("tariff.expired", HOME_ID)
    await advance_time(hass, freezer, timedelta(seconds=CATCH_UP_PERIOD - 60))
    assert captured == []
    await advance_time(hass, freezer, timedelta(seconds=60))
    assert _applied(captured) == [event["id"]]
    assert hass.states.get("binary_sensor.home_tariff_expired").state == "on"  # type: ignore[union-attr]


async def test_no_catch_up_after_unload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Unloading cancels the pending and the periodic catch-up."""
    client = await hass_client_no_auth()
    await client.post(WEBHOOK_PATH, data=b"not json")
    catch_up = init_integration.runtime_data.catch_up
    await hass.config_entries.async_unload(init_integration.entry_id)
    listings = simulator.state.calls["events"]
    catch_up.async_request()
    await advance_time(hass, freezer, timedelta(seconds=CATCH_UP_PERIOD * 2))
    assert simulator.state.calls["events"] == listings


async def test_retry_with_its_first_timestamp_is_applied_once(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Issue 18, finding 2: retries that are not signed again still deliver the event.

    The keys cannot be fetched for the first two attempts (503); the third comes an
    hour later with the first attempt's timestamp. Its signature is valid, so it is
    Flatpeak's: read back and applied, even with signatures required. (No time event
    fires here, so no catch-up does the work.)
    """
    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_REQUIRE_SIGNED_WEBHOOKS: True},
    )
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    state = simulator.state
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    state.inject_fault("jwks", status=500, times=2)
    event = state.make_tariff_event("tariff.expired", HOME_ID)
    read_backs = state.calls["event"]

    async def sleep(delay: float) -> None:
        freezer.tick(timedelta(seconds=delay))

    async with aiohttp.ClientSession() as session:
        sender = WebhookSender(
            state,
            session,
            schedule=(0, 30, 3600, 21600),
            resign_retries=False,
            sleep=sleep,
        )
        url = str(webhook_client.make_url(WEBHOOK_PATH))
        result = await sender.deliver(url, event)
    assert result.attempts == [503, 503, 200]
    await hass.async_block_till_done()
    assert _applied(captured) == [event["id"]]
    assert state.calls["event"] == read_backs + 1
    assert hass.states.get("binary_sensor.home_tariff_expired").state == "on"  # type: ignore[union-attr]


async def test_old_signature_of_an_unknown_event_changes_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A validly signed but old delivery is a hint: an id Flatpeak does not know is 404.

    And a replay of one already applied is a duplicate, without a read-back.
    """
    state = simulator.state
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await hass_client_no_auth()
    old = int(state.now().timestamp()) - 3600

    def signed_an_hour_ago(body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Flatpeak-Signature": state.signing_key.sign(old, body),
            "Flatpeak-Timestamp": str(old),
            "Flatpeak-Key-ID": state.signing_key.kid,
        }

    body = json.dumps(make_event("tariff.expired", event_id="evt_never")).encode()
    response = await client.post(
        WEBHOOK_PATH, data=body, headers=signed_an_hour_ago(body)
    )
    assert response.status == 404
    await hass.async_block_till_done()
    assert captured == []

    event = state.make_tariff_event("tariff.expired", HOME_ID)
    body = json.dumps(event).encode()
    response = await client.post(
        WEBHOOK_PATH, data=body, headers=signed_an_hour_ago(body)
    )
    assert (await response.json())["message"] == Outcome.APPLIED
    read_backs = state.calls["event"]
    response = await client.post(
        WEBHOOK_PATH, data=body, headers=signed_an_hour_ago(body)
    )
    assert (await response.json())["message"] == Outcome.DUPLICATE
    assert state.calls["event"] == read_backs
    await hass.async_block_till_done()
    assert _applied(captured) == [event["id"]]
