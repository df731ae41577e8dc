"""Tests for the bus event `flatpeak_event` and the per-location event entity."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from homeassistant.components.event import ATTR_EVENT_TYPE, ATTR_EVENT_TYPES
from homeassistant.const import STATE_UNKNOWN, Platform
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    snapshot_platform,
)

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK
from tests.helpers import ACCOUNT_ID, HOME_ID, NOW, WEBHOOK_PATH, make_event

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr, entity_registry as er
    from syrupy.assertion import SnapshotAssertion

ENTITY_ID = "event.home_tariff_event"
TARIFF_ID = "trf_69665bd289b104fb993db999"

# Flatpeak's own examples (docs: required-webhooks), with their JSON syntax mended:
# a comma after "type" and no "<truncated for shortness>" placeholder.
DOCS_TARIFF_EXPIRED = """
{
  "id": "evt_66167787c1652b3fbeba5f01",
  "object": "event",
  "type": "tariff.expired",
  "data": {
    "location_id": "loc_661677cdc31d91695fd8f33d",
    "tariff_id": "trf_6597ef46529ab4467502af0b"
  },
  "time_created": "2024-02-01T11:25:39Z"
}
"""
DOCS_LOCATION_UPDATE = """
{
  "id": "evt_66167787c1652b3fbeba5f01",
  "object": "event",
  "type": "location.update",
  "data": {
    "id": "loc_641b90b758fb8e6293716e40",
    "object": "location"
  },
  "time_created": "2024-02-01T11:25:39Z"
}
"""


async def _post(
    hass: HomeAssistant, client: TestClient, body: dict[str, Any] | str
) -> None:
    if isinstance(body, str):
        response = await client.post(
            WEBHOOK_PATH, data=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await client.post(WEBHOOK_PATH, json=body)
    assert response.status == HTTPStatus.OK
    await hass.async_block_till_done(wait_background_tasks=True)


def _home_device_id(device_registry: dr.DeviceRegistry, entry: MockConfigEntry) -> str:
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), entry.entry_id
    )
    assert device is not None
    return device.id


@pytest.mark.parametrize("platforms", [[Platform.EVENT]])
async def test_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Each location has one event entity offering the location event types."""
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


@pytest.mark.parametrize(
    ("flatpeak_type", "event_type", "tariff_id"),
    [
        ("tariff.expired", "tariff_expired", TARIFF_ID),
        ("tariff.fetch.failed", "tariff_fetch_failed", TARIFF_ID),
        ("tariff.connection.upgrade", "tariff_connection_upgrade", TARIFF_ID),
        ("tariff.expiring", "tariff_expiring", TARIFF_ID),
        ("location.update", "location_update", None),
        ("connect_session.complete", "connect_session_complete", TARIFF_ID),
        ("schedule.created", "schedule_created", TARIFF_ID),
    ],
)
async def test_entity_fires_for_each_location_type(
    hass: HomeAssistant,
    webhook_client: TestClient,
    flatpeak_type: str,
    event_type: str,
    tariff_id: str | None,
) -> None:
    """The entity fires with the type's underscore spelling and the event's ids."""
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    assert state.attributes[ATTR_EVENT_TYPE] is None
    assert event_type in state.attributes[ATTR_EVENT_TYPES]

    await _post(hass, webhook_client, make_event(flatpeak_type, event_id="evt_1"))

    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state == NOW.isoformat(timespec="milliseconds")
    assert state.attributes[ATTR_EVENT_TYPE] == event_type
    assert state.attributes["event_id"] == "evt_1"
    assert state.attributes["tariff_id"] == tariff_id
    assert state.attributes["time_created"] == NOW.isoformat()


async def test_entity_fires_for_docs_location_update(
    hass: HomeAssistant, webhook_client: TestClient
) -> None:
    """Flatpeak's location.update example (no account or mode) reaches Home's entity."""
    await _post(hass, webhook_client, DOCS_LOCATION_UPDATE)

    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.attributes[ATTR_EVENT_TYPE] == "location_update"
    assert state.attributes["event_id"] == "evt_66167787c1652b3fbeba5f01"
    assert state.attributes["tariff_id"] is None
    assert state.attributes["time_created"] == "2024-02-01T11:25:39+00:00"


async def test_entity_fires_without_time_created(
    hass: HomeAssistant, webhook_client: TestClient
) -> None:
    """Flatpeak's webhook examples may omit time_created; the attribute is None."""
    event = make_event("tariff.expired", event_id="evt_1")
    del event["time_created"]
    bus_events = async_capture_events(hass, EVENT_FLATPEAK)

    await _post(hass, webhook_client, event)

    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.attributes[ATTR_EVENT_TYPE] == "tariff_expired"
    assert state.attributes["time_created"] is None
    assert [bus_event.data["time_created"] for bus_event in bus_events] == [None]


async def test_bus_event_carries_the_contract(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    webhook_client: TestClient,
    device_registry: dr.DeviceRegistry,
) -> None:
    """One flatpeak_event with every contract field, including Home's device."""
    bus_events = async_capture_events(hass, EVENT_FLATPEAK)

    await _post(hass, webhook_client, make_event("tariff.expired", event_id="evt_1"))

    assert len(bus_events) == 1
    assert bus_events[0].data == {
        "event_id": "evt_1",
        "type": "tariff.expired",
        "location_id": HOME_ID,
        "tariff_id": TARIFF_ID,
        "account_id": ACCOUNT_ID,
        "live_mode": True,
        "time_created": NOW.isoformat(),
        "data": {
            "live_mode": True,
            "location_id": HOME_ID,
            "tariff_id": TARIFF_ID,
            "account_id": ACCOUNT_ID,
        },
        "device_id": _home_device_id(device_registry, init_integration),
        "config_entry_id": init_integration.entry_id,
    }


async def test_unknown_type_fires_bus_event_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    webhook_client: TestClient,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A type Flatpeak adds later is forwarded on the bus; the entity ignores it."""
    await _post(hass, webhook_client, make_event("tariff.expired", event_id="evt_1"))
    before = hass.states.get(ENTITY_ID)
    assert before is not None
    bus_events = async_capture_events(hass, EVENT_FLATPEAK)
    freezer.tick(60)

    await _post(hass, webhook_client, make_event("battery.melted", event_id="evt_2"))

    assert len(bus_events) == 1
    assert bus_events[0].data["type"] == "battery.melted"
    assert bus_events[0].data["device_id"] == _home_device_id(
        device_registry, init_integration
    )
    after = hass.states.get(ENTITY_ID)
    assert after is not None
    assert after.state == before.state
    assert after.attributes == before.attributes
    assert after.attributes["event_id"] == "evt_1"
    assert after.last_updated == before.last_updated


async def test_event_for_a_location_not_followed(
    hass: HomeAssistant, init_integration: MockConfigEntry, webhook_client: TestClient
) -> None:
    """Flatpeak's tariff.expired example, for another location: no device, no entity."""
    bus_events = async_capture_events(hass, EVENT_FLATPEAK)

    await _post(hass, webhook_client, DOCS_TARIFF_EXPIRED)

    assert len(bus_events) == 1
    assert bus_events[0].data == {
        "event_id": "evt_66167787c1652b3fbeba5f01",
        "type": "tariff.expired",
        "location_id": "loc_661677cdc31d91695fd8f33d",
        "tariff_id": "trf_6597ef46529ab4467502af0b",
        "account_id": None,
        "live_mode": None,
        "time_created": "2024-02-01T11:25:39+00:00",
        "data": {
            "location_id": "loc_661677cdc31d91695fd8f33d",
            "tariff_id": "trf_6597ef46529ab4467502af0b",
        },
        "device_id": None,
        "config_entry_id": init_integration.entry_id,
    }
    state = hass.states.get(ENTITY_ID)
    assert state is not None
    assert state.state == STATE_UNKNOWN


async def test_repeated_delivery_fires_once(
    hass: HomeAssistant, webhook_client: TestClient
) -> None:
    """Flatpeak retries; a delivery already applied fires nothing again."""
    bus_events = async_capture_events(hass, EVENT_FLATPEAK)
    event = make_event("tariff.expired", event_id="evt_1")

    await _post(hass, webhook_client, event)
    await _post(hass, webhook_client, event)

    assert len(bus_events) == 1
