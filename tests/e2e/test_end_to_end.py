"""A real Home Assistant with the integration, the simulator as Flatpeak, real HTTP.

The tests run in order against one Home Assistant: set-up, prices, events, bad input,
a restart, and finally removal.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import json
from pathlib import Path
import shutil
import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.simulator.demo import (
    DEMO_HOME_ID,
    DEMO_WORKSHOP_ID,
    EXPORT_PRICE,
    agile_price,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack
    from tests.e2e.harness import WebSocket

pytestmark = pytest.mark.asyncio(loop_scope="session")

BLUEPRINT = (
    Path(__file__).parents[2]
    / "blueprints"
    / "automation"
    / "flatpeak"
    / "tariff_problem_notify.yaml"
)
LONDON = ZoneInfo("Europe/London")
# Deliveries take effect in milliseconds (benchmarks/webhook.py measures it); the tests
# assert the effect with room for a loaded CI machine, not the speed.
PUSH_TIMEOUT = 10.0
HOME = "home"
WORKSHOP = "workshop"


def _slot_price(moment: datetime) -> float:
    local = moment.astimezone(LONDON)
    return agile_price(
        local.replace(minute=local.minute // 30 * 30, second=0, microsecond=0)
    )


async def _send(
    stack: Stack, event_type: str, location_id: str = DEMO_HOME_ID
) -> dict[str, Any]:
    """Have the simulator create the event and deliver it, signed, to the webhook."""
    return dict(
        await stack.simulator.control(
            "send",
            {
                "type": event_type,
                "location_id": location_id,
                "url": stack.webhook_url,
                "signed": True,
            },
        )
    )


async def test_entities_match_the_simulator(stack: Stack) -> None:
    """Every location has its device and entities; prices are the simulator's."""
    hass = stack.hass
    before = _slot_price(datetime.now(UTC))
    state = await hass.wait_for_state(
        f"sensor.{HOME}_current_price",
        lambda s: s["state"] not in ("unknown", "unavailable"),
    )
    after = _slot_price(datetime.now(UTC))
    assert float(state["state"]) in (pytest.approx(before), pytest.approx(after))
    assert state["attributes"]["unit_of_measurement"] == "GBP/kWh"
    assert state["attributes"]["state_class"] == "measurement"
    assert len(state["attributes"]["raw_today"]) in (92, 96, 100)

    export = await hass.state(f"sensor.{WORKSHOP}_current_export_price")
    assert export is not None
    assert float(export["state"]) == pytest.approx(EXPORT_PRICE)
    assert await hass.state(f"sensor.{HOME}_current_export_price") is None
    for key in ("tariff_expired", "tariff_fetch_failed", "tariff_expiring"):
        problem = await hass.state(f"binary_sensor.{HOME}_{key}")
        assert problem is not None
        assert problem["state"] == "off"
    tariff = await hass.state(f"sensor.{HOME}_tariff")
    assert tariff is not None
    assert tariff["attributes"]["connection_type"] == "DIRECT"
    await _relative_price_agrees(stack)


async def _read_relative_price(stack: Stack) -> dict[str, dict[str, Any] | None]:
    """The level, rank, cheap_now, tomorrow_prices_known and current price of Home."""
    return {
        key: await stack.hass.state(entity_id)
        for key, entity_id in (
            ("level", f"sensor.{HOME}_price_level"),
            ("rank", f"sensor.{HOME}_price_rank"),
            ("cheap_now", f"binary_sensor.{HOME}_cheap_now"),
            ("tomorrow", f"binary_sensor.{HOME}_tomorrow_prices_known"),
            ("current", f"sensor.{HOME}_current_price"),
        )
    }


async def _relative_price_agrees(stack: Stack) -> None:
    """The new price entities exist and agree with each other and the current price.

    Read one after another, they can straddle a slot boundary: a few tries are allowed.
    """
    for _ in range(3):
        read = await _read_relative_price(stack)
        assert all(state is not None for state in read.values()), read
        level, rank, cheap, tomorrow, current = (
            read["level"],
            read["rank"],
            read["cheap_now"],
            read["tomorrow"],
            read["current"],
        )
        assert level is not None
        assert rank is not None
        assert cheap is not None
        assert tomorrow is not None
        assert current is not None
        if (cheap["state"] == "on") == (level["state"] in ("very_cheap", "cheap")):
            break
    else:
        pytest.fail(f"cheap_now disagrees with the level: {read}")
    assert level["state"] in level["attributes"]["options"]
    assert 0 < level["attributes"]["percentile"] < 1
    # The demo's half-hourly Agile-like prices: 46, 48 or 50 slots a day.
    assert rank["attributes"]["slot_count"] in (46, 48, 50)
    assert 1 <= int(rank["state"]) <= rank["attributes"]["slot_count"]
    assert (tomorrow["state"] == "on") is current["attributes"]["tomorrow_valid"]
    assert await stack.hass.state(f"sensor.{WORKSHOP}_export_price_level") is not None
    assert await stack.hass.state(f"sensor.{HOME}_export_price_level") is None


async def test_repairs_hold_nothing_unrelated(stack: Stack) -> None:
    """Home Assistant raises no Repairs issue of its own but the Core-install notice.

    HTTP settings live in Home Assistant's storage, so there is no YAML deprecation
    issue; the notice that a Core installation is unsupported comes at every start of
    one and is ignored, as the demo does.
    """
    hass = stack.hass
    assert await hass.ignore_core_install_notice()

    shown = [
        (issue["domain"], issue["issue_id"])
        for issue in await hass.repair_issues()
        if issue["domain"] != "flatpeak" and not issue["ignored"]
    ]
    assert shown == []


# What Flatpeak's status shows while all three problems stand.
PROBLEM_STATUS = {
    "status": "ERROR",
    "connection_type": "LIBRARY",
    "contract_end_date": "2020-01-01T00:00:00+00:00",
}


@pytest.mark.parametrize(
    ("event_type", "entity"),
    [
        ("tariff.expired", f"binary_sensor.{HOME}_tariff_expired"),
        ("tariff.fetch.failed", f"binary_sensor.{HOME}_tariff_fetch_failed"),
        (
            "tariff.connection.upgrade",
            f"binary_sensor.{HOME}_connection_upgrade_available",
        ),
    ],
)
async def test_tariff_events_raise_problems_within_a_second(
    stack: Stack,
    events: WebSocket,
    event_type: str,
    entity: str,
) -> None:
    """A signed tariff event turns its problem sensor on and fires flatpeak_event."""
    await stack.simulator.control(
        "status", {"location_id": DEMO_HOME_ID, **PROBLEM_STATUS}
    )
    sent = await _send(stack, event_type)
    assert sent["result"]["delivered"]
    assert sent["result"]["attempts"] == [200]
    fired = await events.next_event(timeout=PUSH_TIMEOUT)
    assert fired["data"]["event_id"] == sent["event"]["id"]
    assert fired["data"]["type"] == event_type
    assert fired["data"]["location_id"] == DEMO_HOME_ID
    assert fired["data"]["device_id"]
    await stack.hass.wait_for_state(
        entity, lambda s: s["state"] == "on", timeout=PUSH_TIMEOUT
    )


async def test_repairs_listed(stack: Stack) -> None:
    """The three problems are listed in Repairs for the location."""
    async with stack.hass.websocket() as ws:
        result = await ws.command("repairs/list_issues")
        await ws.close()
    ours = {
        issue["issue_id"]
        for issue in result["issues"]
        if issue["domain"] == "flatpeak" and not issue.get("dismissed_version")
    }
    assert ours == {
        f"tariff_expired_{DEMO_HOME_ID}",
        f"tariff_fetch_failed_{DEMO_HOME_ID}",
        f"tariff_connection_upgrade_{DEMO_HOME_ID}",
    }


async def test_location_update_refreshes_prices(
    stack: Stack, events: WebSocket
) -> None:
    """location.update makes the integration fetch the new prices at once."""
    await stack.simulator.control(
        "prices", {"location_id": DEMO_WORKSHOP_ID, "value": 0.4242}
    )
    sent = await _send(stack, "location.update", DEMO_WORKSHOP_ID)
    assert sent["result"]["delivered"]
    fired = await events.next_event(timeout=PUSH_TIMEOUT)
    assert fired["data"]["type"] == "location.update"
    await stack.hass.wait_for_state(
        f"sensor.{WORKSHOP}_current_price",
        lambda s: s["state"] == "0.4242",
        timeout=PUSH_TIMEOUT,
    )


async def test_connect_session_complete_refreshes(
    stack: Stack, events: WebSocket
) -> None:
    """connect_session.complete refreshes the location and fires the event entity."""
    before = (await stack.simulator.control("calls"))["locations"]["prices"][
        DEMO_HOME_ID
    ]
    sent = await _send(stack, "connect_session.complete")
    assert sent["result"]["delivered"]
    fired = await events.next_event(timeout=PUSH_TIMEOUT)
    assert fired["data"]["type"] == "connect_session.complete"
    await stack.hass.wait_for_state(
        f"event.{HOME}_tariff_event",
        lambda s: s["attributes"].get("event_type") == "connect_session_complete",
        timeout=PUSH_TIMEOUT,
    )
    deadline = time.monotonic() + PUSH_TIMEOUT
    while (await stack.simulator.control("calls"))["locations"]["prices"][
        DEMO_HOME_ID
    ] <= before:
        assert time.monotonic() < deadline, (
            "no price fetch after connect_session.complete"
        )
        await asyncio.sleep(0.05)


async def test_malformed_delivery_changes_nothing(
    stack: Stack, events: WebSocket
) -> None:
    """Garbage gets 400 and no entity changes."""
    states_before = await stack.hass.request("GET", "/api/states")
    async with aiohttp.ClientSession() as session:
        for body, status in ((b"{not json", 400), (b"[]", 400), (b"", 400)):
            async with session.post(stack.webhook_url, data=body) as response:
                assert response.status == status
    with pytest.raises(TimeoutError):
        await events.next_event(timeout=0.5)
    states_after = await stack.hass.request("GET", "/api/states")

    def flatpeak(states: list[dict[str, Any]]) -> dict[str, str]:
        return {
            s["entity_id"]: s["state"]
            for s in states
            # Price sensors move at slot boundaries on their own; these do not.
            if s["entity_id"].startswith(("binary_sensor.home", "event.home"))
            or s["entity_id"]
            in (
                "sensor.home_tariff",
                "sensor.home_contract_end",
                "sensor.home_prices_updated",
            )
        }

    assert flatpeak(states_after) == flatpeak(states_before)


async def test_restart_keeps_problems_and_loses_no_event(stack: Stack) -> None:
    """Problems survive a restart; events sent while Home Assistant was down arrive."""
    hass = stack.hass
    await hass.stop()
    # Created while down and never delivered: only start-up catch-up can bring it.
    await stack.simulator.control(
        "status", {"location_id": DEMO_WORKSHOP_ID, "status": "ERROR"}
    )
    missed = await stack.simulator.control(
        "event", {"type": "tariff.fetch.failed", "location_id": DEMO_WORKSHOP_ID}
    )
    # Delivered while down: the first attempt fails, a retry or catch-up must apply it.
    await stack.simulator.control(
        "status",
        {
            "location_id": DEMO_WORKSHOP_ID,
            "contract_end_date": (datetime.now(UTC) + timedelta(days=8)).isoformat(),
        },
    )
    sent = await stack.simulator.control(
        "send",
        {
            "type": "tariff.expiring",
            "location_id": DEMO_WORKSHOP_ID,
            "url": stack.webhook_url,
            "schedule": [0, 30],
            "time_scale": 0.001,
        },
    )
    assert not sent["result"]["delivered"]

    await hass.start()
    await hass.login()
    for entity in (
        f"binary_sensor.{HOME}_tariff_expired",
        f"binary_sensor.{HOME}_tariff_fetch_failed",
        f"binary_sensor.{HOME}_connection_upgrade_available",
        f"binary_sensor.{WORKSHOP}_tariff_fetch_failed",
        f"binary_sensor.{WORKSHOP}_tariff_expiring",
    ):
        await hass.wait_for_state(entity, lambda s: s["state"] == "on", timeout=15)
    expiring = await hass.state(f"binary_sensor.{WORKSHOP}_tariff_expiring")
    assert expiring is not None
    assert expiring["attributes"]["event_id"] == sent["event"]["id"]
    failed = await hass.state(f"binary_sensor.{WORKSHOP}_tariff_fetch_failed")
    assert failed is not None
    assert failed["attributes"]["event_id"] == missed["id"]


async def test_killed_after_the_answer_applies_no_event_twice(stack: Stack) -> None:
    """Kill -9 right after a 200: Flatpeak's retry of that event is not applied again.

    The event id is in the journal before the answer goes out. Catch-up is kept from
    listing events after the restart, so only the stored id can tell the retry is a
    duplicate.
    """
    event = await stack.simulator.control(
        "event", {"type": "customer.update", "location_id": DEMO_HOME_ID}
    )
    body = json.dumps(event).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(stack.webhook_url, data=body) as response:
            assert response.status == 200
            assert (await response.json())["message"] == "applied"
        await stack.hass.kill()
        await stack.simulator.control(
            "fault", {"route": "events", "status": 503, "times": None}
        )
        try:
            await stack.hass.start()
            await stack.hass.login()
            await stack.hass.wait_for_entry_loaded(stack.entry_id)
            async with session.post(stack.webhook_url, data=body) as response:
                assert response.status == 200
                assert (await response.json())["message"] == "duplicate"
        finally:
            await stack.simulator.control("clear_faults", {"route": "events"})


async def test_status_fixed_clears_problem(stack: Stack) -> None:
    """Once Flatpeak's status shows the tariff fixed, the problems and Repairs clear."""
    await stack.simulator.control(
        "status", {"location_id": DEMO_HOME_ID, "status": "CONNECTED"}
    )  # connected, DIRECT, contract a year ahead
    await _send(stack, "location.update")
    for key in (
        "tariff_fetch_failed",
        "tariff_expired",
        "connection_upgrade_available",
    ):
        await stack.hass.wait_for_state(
            f"binary_sensor.{HOME}_{key}", lambda s: s["state"] == "off", timeout=5
        )
    async with stack.hass.websocket() as ws:
        result = await ws.command("repairs/list_issues")
        await ws.close()
    assert not [
        issue
        for issue in result["issues"]
        if issue["domain"] == "flatpeak" and DEMO_HOME_ID in issue["issue_id"]
    ]


async def test_blueprint_notifies_on_tariff_problem(stack: Stack) -> None:
    """An automation from the shipped blueprint runs its action on a tariff problem."""
    target = stack.hass.config_dir / "blueprints" / "automation" / "flatpeak"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, target / BLUEPRINT.name)
    async with stack.hass.websocket() as ws:
        devices = await ws.command("config/device_registry/list")
        workshop = next(
            device["id"]
            for device in devices
            if ["flatpeak", DEMO_WORKSHOP_ID] in device["identifiers"]
        )
        await stack.hass.request(
            "POST",
            "/api/config/automation/config/flatpeak_blueprint",
            {
                "alias": "Flatpeak problems (blueprint)",
                "use_blueprint": {
                    "path": f"flatpeak/{BLUEPRINT.name}",
                    "input": {
                        "device": workshop,
                        "problems": ["tariff.expired"],
                        "notify_action": [
                            {
                                "event": "flatpeak_blueprint_notified",
                                "event_data": {"message": "{{ message }}"},
                            }
                        ],
                    },
                },
            },
        )
        await ws.subscribe("flatpeak_blueprint_notified")
        await stack.hass.wait_for_state(
            "automation.flatpeak_problems_blueprint", lambda s: s["state"] == "on"
        )
        await _send(stack, "tariff.expiring", DEMO_WORKSHOP_ID)  # not chosen
        await _send(stack, "tariff.expired", DEMO_WORKSHOP_ID)
        notified = await ws.next_event(timeout=5)
        assert "Workshop" in notified["data"]["message"]
        assert "expired" in notified["data"]["message"]
        with pytest.raises(TimeoutError):
            await ws.next_event(timeout=0.5)
        await ws.close()


async def test_action_diagnostics_and_device_triggers_answer(stack: Stack) -> None:
    """The action, diagnostics and the device's triggers, as the UI asks for them.

    They run integration code no other end-to-end test reaches, so the run's
    deprecation check covers them on each release.
    """
    hass = stack.hass
    answer = await hass.request(
        "POST",
        "/api/services/flatpeak/get_prices?return_response",
        {"config_entry_id": stack.entry_id, "location_id": DEMO_HOME_ID},
    )
    response = answer["service_response"]
    assert response["currency"] == "GBP"
    assert response["prices"]

    diagnostics = await hass.request(
        "GET", f"/api/diagnostics/config_entry/{stack.entry_id}"
    )
    data = diagnostics["data"]
    assert data["entry"]["data"]["api_key"] == "**REDACTED**"
    assert set(data["locations"]) == {DEMO_HOME_ID, DEMO_WORKSHOP_ID}

    async with hass.websocket() as ws:
        devices = await ws.command("config/device_registry/list")
        home = next(
            device["id"]
            for device in devices
            if ["flatpeak", DEMO_HOME_ID] in device["identifiers"]
        )
        triggers = await ws.command("device_automation/trigger/list", device_id=home)
        await ws.close()
    flatpeak_triggers = [t for t in triggers if t["domain"] == "flatpeak"]
    assert {t["type"] for t in flatpeak_triggers} >= {"tariff_expired"}


async def _prices_fetched(stack: Stack) -> int:
    calls = await stack.simulator.control("calls")
    return int(calls["locations"]["prices"][DEMO_HOME_ID])


async def _reloaded(stack: Stack, fetched_before: int) -> None:
    """Wait until the entry has set up again: set-up fetches every location's prices."""
    deadline = time.monotonic() + PUSH_TIMEOUT
    while await _prices_fetched(stack) <= fetched_before:
        assert time.monotonic() < deadline, "the entry was not set up again"
        await asyncio.sleep(0.1)
    await stack.hass.wait_for_state(
        f"sensor.{HOME}_current_price",
        lambda s: s["state"] not in ("unknown", "unavailable"),
        timeout=PUSH_TIMEOUT,
    )


async def test_reconfigure_and_options_reload_the_entry(stack: Stack) -> None:
    """Reconfiguring and saving options, as the UI does, each set the entry up again.

    Home Assistant does the reloads (no update listener of ours: combined with
    reload-on-update it is reported, and an error from 2026.12); the run fails on any
    such report in its log.
    """
    hass = stack.hass
    flows = "/api/config/config_entries"
    flow = await hass.request(
        "POST", f"{flows}/flow", {"handler": "flatpeak", "entry_id": stack.entry_id}
    )
    assert flow["step_id"] == "reconfigure"
    before = await _prices_fetched(stack)
    result = await hass.request(
        "POST", f"{flows}/flow/{flow['flow_id']}", {"api_url": stack.simulator.url}
    )
    assert (result["type"], result["reason"]) == ("abort", "reconfigure_successful")
    await _reloaded(stack, before)

    for signed in (True, False):
        flow = await hass.request(
            "POST", f"{flows}/options/flow", {"handler": stack.entry_id}
        )
        assert flow["step_id"] == "init"
        # The options open on a menu; the settings are its first choice.
        flow = await hass.request(
            "POST",
            f"{flows}/options/flow/{flow['flow_id']}",
            {"next_step_id": "settings"},
        )
        assert flow["step_id"] == "settings"
        before = await _prices_fetched(stack)
        result = await hass.request(
            "POST",
            f"{flows}/options/flow/{flow['flow_id']}",
            {
                "locations": [DEMO_HOME_ID, DEMO_WORKSHOP_ID],
                "require_signed_webhooks": signed,
            },
        )
        assert result["type"] == "create_entry"
        await _reloaded(stack, before)


async def test_remove_leaves_no_webhook(stack: Stack) -> None:
    """Removing the entry unregisters its webhook; deliveries then change nothing."""
    async with stack.hass.websocket() as ws:
        hooks = await ws.command("webhook/list")
        assert any(hook["domain"] == "flatpeak" for hook in hooks)
        await stack.hass.request(
            "DELETE", f"/api/config/config_entries/entry/{stack.entry_id}"
        )
        hooks = await ws.command("webhook/list")
        assert not any(hook["domain"] == "flatpeak" for hook in hooks)
        await ws.subscribe("flatpeak_event")
        sent = await _send(stack, "tariff.expired")
        # The README's Removal section: Home Assistant answers 200 for a webhook id
        # it does not know, so Flatpeak counts the delivery as a success.
        assert sent["result"]["attempts"] == [200]
        assert sent["result"]["delivered"] is True
        with pytest.raises(TimeoutError):
            await ws.next_event(timeout=0.5)
        await ws.close()
    async with aiohttp.ClientSession() as session:
        for method in ("GET", "HEAD", "POST", "PUT"):
            async with session.request(
                method, stack.webhook_url, data=b"{}"
            ) as response:
                assert response.status == HTTPStatus.OK, method
    assert await stack.hass.state(f"sensor.{HOME}_current_price") is None
