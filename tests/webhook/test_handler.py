"""Tests for webhook deliveries: status codes, verification, de-duplication, catch-up."""

from __future__ import annotations

from datetime import timedelta
import json
import time
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import aiohttp
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.flatpeak.api.signature import JWKS_FAILURE_BACKOFF
from custom_components.flatpeak.const import (
    CONF_CLOUDHOOK_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    DOMAIN,
)
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK
from custom_components.flatpeak.webhook.catch_up import CATCH_UP_MIN_INTERVAL
from custom_components.flatpeak.webhook.handler import (
    MAX_BODY_BYTES,
)
from tests.helpers import (
    ACCOUNT_ID,
    HOME_ID,
    NOW,
    WEBHOOK_ID,
    WEBHOOK_PATH,
    advance_time,
    make_event,
)
from tests.simulator import SigningKey, WebhookSender

if TYPE_CHECKING:
    from types import ModuleType

    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import WebSocketGenerator

    from tests.simulator import RunningSimulator

EXPIRED_SENSOR = "binary_sensor.home_tariff_expired"


def _signed_headers(
    key: SigningKey, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    stamp = timestamp if timestamp is not None else int(NOW.timestamp())
    return {
        "Content-Type": "application/json",
        "Flatpeak-Signature": key.sign(stamp, body),
        "Flatpeak-Signature-Scheme": "v1",
        "Flatpeak-Timestamp": str(stamp),
        "Flatpeak-Key-ID": key.kid,
        "Flatpeak-Version": "2025-09-14.anode",
    }


def _handlers(hass: HomeAssistant) -> dict[str, Any]:
    return hass.data[webhook._HANDLERS]


async def _require_signatures(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_REQUIRE_SIGNED_WEBHOOKS: True}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def test_registered_post_only_and_unregistered_on_unload(
    hass: HomeAssistant, webhook_client: TestClient, init_integration: MockConfigEntry
) -> None:
    """The webhook takes POST only and disappears when the entry unloads."""
    assert WEBHOOK_ID in _handlers(hass)
    for method in ("GET", "PUT", "DELETE"):
        response = await webhook_client.request(method, WEBHOOK_PATH)
        assert response.status == 405
    await hass.config_entries.async_unload(init_integration.entry_id)
    assert WEBHOOK_ID not in _handlers(hass)


async def test_accepted_event(
    hass: HomeAssistant, webhook_client: TestClient, init_integration: MockConfigEntry
) -> None:
    """A valid unsigned delivery is accepted (signing not required) and applied once."""
    events = async_capture_events(hass, EVENT_FLATPEAK)
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event("tariff.expired", event_id="evt_1")
    )
    assert response.status == 200
    assert (await response.json())["message"] == "applied"
    await hass.async_block_till_done()
    assert len(events) == 1
    assert hass.states.get(EXPIRED_SENSOR).state == "on"  # type: ignore[union-attr]


async def test_raised_problem_is_stored_before_the_answer(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The problem an applied event raised is written before its 200, like its id.

    Otherwise a crash right after the answer would keep the id (so Flatpeak's retry is a
    duplicate) and lose the problem: the sensor would stay off until the next event.
    """
    key = f"flatpeak.{init_integration.entry_id}.problems"
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event("tariff.expired", event_id="evt_stored")
    )
    assert (await response.json())["message"] == "applied"
    stored = hass_storage[key]["data"]["problems"]
    assert stored[HOME_ID]["tariff_expired"]["event_id"] == "evt_stored"

    # A delivery that changes no problem writes nothing more.
    before = hass_storage[key]
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event("customer.update", event_id="evt_no_problem")
    )
    assert (await response.json())["message"] == "applied"
    assert hass_storage[key] is before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"not json", 400),
        (b"[1, 2, 3]", 400),
        (b'"tariff.expired"', 400),
        (b'{"type": "tariff.expired", "data": {}}', 400),
        (b'{"id": "evt_1", "data": {}}', 400),
        (b'{"id": "evt_1", "type": "tariff.expired"}', 400),
        (b'{"id": 1, "type": "tariff.expired", "data": {}}', 400),
        (b'{"id": "evt_1", "type": "tariff.expired", "data": "loc_1"}', 400),
        (
            b'{"id": "evt_1", "type": "tariff.expired", "data": {"location_id": 5}}',
            400,
        ),
        (b"{" + b" " * (2 * 1024 * 1024) + b"}", 413),
    ],
    ids=[
        "empty",
        "not-json",
        "json-array",
        "json-string",
        "no-id",
        "no-type",
        "no-data",
        "id-not-string",
        "data-not-object",
        "location-id-not-string",
        "2-MiB",
    ],
)
async def test_malformed_deliveries_change_nothing(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    body: bytes,
    status: int,
) -> None:
    """Malformed deliveries get their status code and leave every state as it was."""
    events = async_capture_events(hass, EVENT_FLATPEAK)
    states_before = {state.entity_id: state.state for state in hass.states.async_all()}
    response = await webhook_client.post(
        WEBHOOK_PATH, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == status
    await hass.async_block_till_done()
    assert events == []
    assert {s.entity_id: s.state for s in hass.states.async_all()} == states_before
    assert len(init_integration.runtime_data.event_log) == 0


async def test_large_body_without_content_length(
    hass: HomeAssistant, webhook_client: TestClient
) -> None:
    """A chunked body is cut off at the limit rather than read whole."""

    async def chunks() -> Any:
        for _ in range(40):
            yield b" " * 65536

    response = await webhook_client.post(WEBHOOK_PATH, data=chunks())
    assert response.status == 413


async def _deliver_as_cloud(
    hass_ws_client: WebSocketGenerator, body: str, headers: dict[str, str]
) -> dict[str, Any]:
    """Hand a delivery to the webhook the way Home Assistant Cloud does (a MockRequest).

    The websocket command `webhook/handle` builds the same `MockRequest` that the cloud
    client builds for a cloudhook delivery, and calls the same webhook dispatcher.
    """
    client = await hass_ws_client()
    await client.send_json_auto_id(
        {
            "type": "webhook/handle",
            "webhook_id": WEBHOOK_ID,
            "method": "POST",
            "body": body,
            "headers": headers,
        }
    )
    result = await client.receive_json()
    assert result["success"], result
    return dict(result["result"])


async def test_cloud_delivery_is_applied(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Deliveries relayed by Home Assistant Cloud go through the same reader and rules."""
    events = async_capture_events(hass, EVENT_FLATPEAK)
    signed = json.dumps(make_event("tariff.expired", event_id="evt_cloud_1"))
    answer = await _deliver_as_cloud(
        hass_ws_client,
        signed,
        _signed_headers(simulator.state.signing_key, signed.encode()),
    )
    assert answer["status"] == 200
    assert json.loads(answer["body"])["message"] == "applied"
    await hass.async_block_till_done()
    assert [e.data["event_id"] for e in events] == ["evt_cloud_1"]
    assert hass.states.get(EXPIRED_SENSOR).state == "on"  # type: ignore[union-attr]

    # Unsigned: confirmed with Flatpeak like any other hint.
    real = simulator.state.make_tariff_event("tariff.fetch.failed", HOME_ID)
    answer = await _deliver_as_cloud(hass_ws_client, json.dumps(real), {})
    assert answer["status"] == 200
    await hass.async_block_till_done()
    assert [e.data["event_id"] for e in events] == ["evt_cloud_1", real["id"]]

    junk = json.dumps(make_event("tariff.expiring", event_id="evt_cloud_junk"))
    answer = await _deliver_as_cloud(hass_ws_client, junk, {})
    assert answer["status"] == 404
    assert len(events) == 2


async def test_cloud_delivery_over_the_limit_is_refused(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A relayed body over 1 MiB gets 413 like a direct one (it has no Content-Length)."""
    answer = await _deliver_as_cloud(
        hass_ws_client, " " * (MAX_BODY_BYTES + 1), {"Content-Type": "application/json"}
    )
    assert answer["status"] == 413


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            make_event("tariff.expired", event_id="evt_2", account_id="acc_other"),
            "account",
        ),
        (make_event("tariff.expired", event_id="evt_3", live_mode=False), "mode"),
    ],
)
async def test_not_ours_is_acknowledged_and_ignored(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    event: dict[str, Any],
    reason: str,
) -> None:
    """Signed events of other accounts or modes get 200 (no retries), change nothing."""
    events = async_capture_events(hass, EVENT_FLATPEAK)
    body = json.dumps(event).encode()
    response = await webhook_client.post(
        WEBHOOK_PATH,
        data=body,
        headers=_signed_headers(simulator.state.signing_key, body),
    )
    assert response.status == 200, reason
    assert (await response.json())["message"] == "ignored"
    await hass.async_block_till_done()
    assert events == []
    assert hass.states.get(EXPIRED_SENSOR).state == "off"  # type: ignore[union-attr]


async def test_duplicate_applied_once_also_across_restart(
    hass: HomeAssistant, webhook_client: TestClient, init_integration: MockConfigEntry
) -> None:
    """A redelivered event id is acknowledged and not applied again, even after a reload."""
    events = async_capture_events(hass, EVENT_FLATPEAK)
    event = make_event("tariff.fetch.failed", event_id="evt_dup")
    for _ in range(3):
        response = await webhook_client.post(WEBHOOK_PATH, json=event)
        assert response.status == 200
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    response = await webhook_client.post(WEBHOOK_PATH, json=event)
    assert (await response.json())["message"] == "duplicate"
    await hass.async_block_till_done()
    assert [e.data["event_id"] for e in events] == ["evt_dup"]


async def test_signed_delivery_verified(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """A delivery signed with Flatpeak's key is accepted; the keys are fetched once."""
    await _require_signatures(hass, init_integration)
    key = simulator.state.signing_key
    for index in range(3):
        body = json.dumps(
            make_event("tariff.expired", event_id=f"evt_s{index}")
        ).encode()
        response = await webhook_client.post(
            WEBHOOK_PATH, data=body, headers=_signed_headers(key, body)
        )
        assert response.status == 200
    assert simulator.state.calls["jwks"] == 1


def _bad_signature_cases() -> list[tuple[str, Any]]:
    def tampered(key: SigningKey, body: bytes) -> dict[str, str]:
        return _signed_headers(key, body.replace(b"evt_", b"evt_x"))

    def wrong_key(key: SigningKey, body: bytes) -> dict[str, str]:
        other = SigningKey.generate(kid=key.kid)
        return _signed_headers(other, body)

    def unknown_kid(key: SigningKey, body: bytes) -> dict[str, str]:
        return _signed_headers(SigningKey.generate(kid="wsk_live_unknown"), body)

    def stale_and_tampered(key: SigningKey, body: bytes) -> dict[str, str]:
        stamp = int(NOW.timestamp()) - 301
        return _signed_headers(key, body.replace(b"evt_", b"evt_x"), timestamp=stamp)

    def unsigned(_key: SigningKey, _body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def signature_none(_key: SigningKey, _body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json", "Flatpeak-Signature": "none"}

    def garbage(key: SigningKey, body: bytes) -> dict[str, str]:
        return _signed_headers(key, body) | {"Flatpeak-Signature": "v1=@@@"}

    return [
        ("tampered-body", tampered),
        ("wrong-key", wrong_key),
        ("unknown-kid", unknown_kid),
        ("stale-and-tampered", stale_and_tampered),
        ("absent", unsigned),
        ("none", signature_none),
        ("not-base64", garbage),
    ]


@pytest.mark.parametrize(
    "make_headers",
    [case for _, case in _bad_signature_cases()],
    ids=[name for name, _ in _bad_signature_cases()],
)
async def test_bad_signatures_refused(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    make_headers: Any,
) -> None:
    """With signing required, every bad or missing signature gets 401 and no effect."""
    await _require_signatures(hass, init_integration)
    events = async_capture_events(hass, EVENT_FLATPEAK)
    body = json.dumps(make_event("tariff.expired", event_id="evt_bad")).encode()
    response = await webhook_client.post(
        WEBHOOK_PATH, data=body, headers=make_headers(simulator.state.signing_key, body)
    )
    assert response.status == 401
    await hass.async_block_till_done()
    assert events == []
    assert hass.states.get(EXPIRED_SENSOR).state == "off"  # type: ignore[union-attr]
    assert "evt_bad" not in init_integration.runtime_data.event_log


async def test_signature_checked_even_when_not_required(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """A signature that is present must verify, whatever the setting."""
    body = json.dumps(make_event("tariff.expired", event_id="evt_forged")).encode()
    forged = _signed_headers(
        SigningKey.generate(kid=simulator.state.signing_key.kid), body
    )
    response = await webhook_client.post(WEBHOOK_PATH, data=body, headers=forged)
    assert response.status == 401


async def test_jwks_unreachable_asks_for_retry_and_loses_nothing(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Keys that cannot be fetched give 503, so Flatpeak retries; the retry is applied."""
    await _require_signatures(hass, init_integration)
    events = async_capture_events(hass, EVENT_FLATPEAK)
    simulator.state.inject_fault("jwks", status=502)
    body = json.dumps(make_event("tariff.expired", event_id="evt_later")).encode()
    headers = _signed_headers(simulator.state.signing_key, body)
    response = await webhook_client.post(WEBHOOK_PATH, data=body, headers=headers)
    assert response.status == 503
    await hass.async_block_till_done()
    assert events == []
    # Flatpeak's first retry comes 30 s later, when the keys are fetched again.
    freezer.tick(timedelta(seconds=JWKS_FAILURE_BACKOFF))
    headers = _signed_headers(
        simulator.state.signing_key, body, timestamp=int(time.time())
    )
    response = await webhook_client.post(WEBHOOK_PATH, data=body, headers=headers)
    assert response.status == 200
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_sender_retries_after_5xx_and_event_applied_once(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The simulator's sender, signing for real, retries after our 503 and succeeds."""
    await _require_signatures(hass, init_integration)
    events = async_capture_events(hass, EVENT_FLATPEAK)
    simulator.state.inject_fault("jwks", status=500)
    event = simulator.state.make_tariff_event("tariff.expired", HOME_ID)
    delays: list[float] = []

    async def record_sleep(delay: float) -> None:
        delays.append(delay)
        freezer.tick(timedelta(seconds=delay))

    async with aiohttp.ClientSession() as session:
        sender = WebhookSender(simulator.state, session, sleep=record_sleep)
        result = await sender.deliver(str(webhook_client.make_url(WEBHOOK_PATH)), event)
    assert result.delivered
    assert result.attempts == [503, 200]
    assert delays == [30]  # Flatpeak's schedule: immediately, then after 30 s
    await hass.async_block_till_done()
    assert [e.data["event_id"] for e in events] == [event["id"]]
    assert hass.states.get(EXPIRED_SENSOR).state == "on"  # type: ignore[union-attr]


async def test_location_update_burst_costs_at_most_two_fetches(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Fifty location.update deliveries in a burst refresh the prices at most twice."""
    before = simulator.state.calls_for("prices", HOME_ID)
    for index in range(50):
        body = json.dumps(
            make_event("location.update", event_id=f"evt_u{index:02}")
        ).encode()
        response = await webhook_client.post(
            WEBHOOK_PATH,
            data=body,
            headers=_signed_headers(simulator.state.signing_key, body),
        )
        assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    freezer.tick(timedelta(seconds=15))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    fetches = simulator.state.calls_for("prices", HOME_ID) - before
    assert 1 <= fetches <= 2


async def test_catch_up_after_downtime(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """Events created while Home Assistant was down are applied at start, oldest first."""
    state = simulator.state
    seen = state.make_tariff_event("tariff.expiring", HOME_ID)
    await webhook_client.post(WEBHOOK_PATH, json=seen)
    await hass.config_entries.async_unload(init_integration.entry_id)

    missed = [
        state.make_tariff_event("tariff.fetch.failed", HOME_ID),
        state.make_location_update(HOME_ID),
        state.make_tariff_event("tariff.expired", HOME_ID),
    ]
    events = async_capture_events(hass, EVENT_FLATPEAK)
    await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [e.data["event_id"] for e in events] == [e["id"] for e in missed]
    assert hass.states.get(EXPIRED_SENSOR).state == "on"  # type: ignore[union-attr]

    # The same events delivered late by webhook are duplicates now.
    response = await webhook_client.post(WEBHOOK_PATH, json=missed[0])
    assert (await response.json())["message"] == "duplicate"


async def test_first_start_catches_up_from_now(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
) -> None:
    """A new entry does not replay history; it starts from the newest event."""
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (
        init_integration.runtime_data.event_log.last_event_id is None
    )  # no events yet

    old = simulator.state.make_tariff_event("tariff.expired", HOME_ID)
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert init_integration.runtime_data.event_log.last_event_id == old["id"]
    assert hass.states.get(EXPIRED_SENSOR).state == "off"  # type: ignore[union-attr]


async def test_catch_up_failure_is_logged_not_fatal(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If the events cannot be listed, the entry still loads and says so."""
    simulator.state.inject_fault("events", status=503, times=None)
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert init_integration.state is ConfigEntryState.LOADED
    assert "Could not catch up on Flatpeak events" in caplog.text


async def test_new_and_deleted_locations(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Following all locations, connect_session.complete adds one; location.delete removes it."""
    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_FOLLOW_ALL_LOCATIONS: True},
    )
    state = simulator.state
    state.add_location(ACCOUNT_ID, "loc_cabin", reference_id="Cabin")
    state.set_status("loc_cabin")
    state.set_price_pattern("loc_cabin", lambda _start: (0.2, 1.0))
    response = await webhook_client.post(
        WEBHOOK_PATH, json=state.make_connect_session_complete("loc_cabin")
    )
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "loc_cabin"), init_integration.entry_id
    )
    assert device is not None
    assert device.name == "Cabin"
    assert hass.states.get("sensor.cabin_current_price").state == "0.2"  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.cabin_tariff_expired").state == "off"  # type: ignore[union-attr]

    state.remove_location("loc_cabin")
    response = await webhook_client.post(
        WEBHOOK_PATH,
        json=make_event("location.delete", event_id="evt_del", location_id="loc_cabin"),
    )
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, "loc_cabin"), init_integration.entry_id
        )
        is None
    )
    assert "loc_cabin" not in init_integration.runtime_data.locations
    assert hass.states.get("sensor.cabin_current_price") is None


async def test_confirmed_delete_of_a_chosen_location_removes_it(
    hass: HomeAssistant,
    webhook_client: TestClient,
    init_integration: MockConfigEntry,
    simulator: RunningSimulator,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Flatpeak's location.delete (read back) and its 404: the location goes.

    From the options too, with its device and entities; no issue is left.
    """
    simulator.state.remove_location(HOME_ID)
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event("location.delete", event_id="evt_del_home")
    )
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert init_integration.options["locations"] == []
    assert HOME_ID not in init_integration.runtime_data.locations
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, HOME_ID), init_integration.entry_id
        )
        is None
    )
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, f"location_missing_{HOME_ID}")
        is None
    )
    assert hass.states.get("sensor.home_current_price") is None


async def test_cloud_reconnection_catches_up(
    hass: HomeAssistant,
    cloud: ModuleType,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a cloudhook, events missed while Cloud was offline apply on reconnection."""
    freezer.move_to(NOW)
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, CONF_CLOUDHOOK_URL: "https://hooks.example/x"},
    )
    simulator.state.make_tariff_event("tariff.expiring", HOME_ID)  # history before us
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    events = async_capture_events(hass, EVENT_FLATPEAK)

    async_dispatcher_send(
        hass,
        cloud.SIGNAL_CLOUD_CONNECTION_STATE,
        cloud.CloudConnectionState.CLOUD_DISCONNECTED,
    )
    assert "Cloud disconnected" in caplog.text
    missed = simulator.state.make_tariff_event("tariff.expired", HOME_ID)
    async_dispatcher_send(
        hass,
        cloud.SIGNAL_CLOUD_CONNECTION_STATE,
        cloud.CloudConnectionState.CLOUD_CONNECTED,
    )
    # The start-up catch-up ran moments ago: this one follows the minimum interval.
    await advance_time(hass, freezer, timedelta(seconds=CATCH_UP_MIN_INTERVAL))
    assert [e.data["event_id"] for e in events] == [missed["id"]]

    # Removing the entry deletes its cloudhook.
    with patch.object(cloud, "async_delete_cloudhook") as delete_cloudhook:
        await hass.config_entries.async_remove(mock_config_entry.entry_id)
    delete_cloudhook.assert_awaited_once_with(hass, WEBHOOK_ID)


async def test_cloudhook_already_gone_on_removal(
    hass: HomeAssistant,
    cloud: ModuleType,
    init_integration: MockConfigEntry,
) -> None:
    """A cloudhook Cloud cannot delete does not stop the entry's removal."""
    hass.config_entries.async_update_entry(
        init_integration,
        data={**init_integration.data, CONF_CLOUDHOOK_URL: "https://hooks.example/x"},
    )
    with patch.object(
        cloud, "async_delete_cloudhook", side_effect=cloud.CloudNotAvailable
    ):
        await hass.config_entries.async_remove(init_integration.entry_id)
    assert hass.config_entries.async_get_entry(init_integration.entry_id) is None
