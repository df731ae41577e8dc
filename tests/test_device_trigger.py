"""Tests for the device triggers of a location: one per location event type."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_PLATFORM,
    CONF_TYPE,
    STATE_UNAVAILABLE,
)
from homeassistant.setup import async_setup_component
import probatio
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
)

from custom_components.flatpeak import device_trigger
from custom_components.flatpeak.const import CONF_LOCATIONS, DOMAIN
from tests.helpers import (
    ACCOUNT_ID,
    HOME_ID,
    WEBHOOK_PATH,
    half_hourly_price,
    make_event,
)

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient
    from homeassistant.core import HomeAssistant, ServiceCall
    from homeassistant.helpers import device_registry as dr

    from tests.simulator import SimulatorState

OFFICE_ID = "loc_641b90b758fb8e6293716e41"
# Not followed by the entry.
OTHER_ID = "loc_661677cdc31d91695fd8f33d"
TRIGGER_TYPES = [
    "tariff_expired",
    "tariff_fetch_failed",
    "tariff_connection_upgrade",
    "tariff_expiring",
    "location_update",
    "connect_session_complete",
    "schedule_created",
]


@pytest.fixture
def simulator_state(simulator_state: SimulatorState) -> SimulatorState:
    """The account also has Office."""
    simulator_state.add_location(ACCOUNT_ID, OFFICE_ID, reference_id="Office")
    simulator_state.set_status(OFFICE_ID)
    simulator_state.set_price_pattern(OFFICE_ID, half_hourly_price)
    return simulator_state


@pytest.fixture
def mock_config_entry(mock_config_entry: MockConfigEntry) -> MockConfigEntry:
    """The entry follows Home and Office."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        unique_id=mock_config_entry.unique_id,
        data=dict(mock_config_entry.data),
        options={**mock_config_entry.options, CONF_LOCATIONS: [HOME_ID, OFFICE_ID]},
    )


def _device(
    device_registry: dr.DeviceRegistry, entry: MockConfigEntry, location_id: str
) -> dr.DeviceEntry:
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, location_id), entry.entry_id
    )
    assert device is not None
    return device


async def _setup_automation(
    hass: HomeAssistant, device_id: str, trigger_type: str
) -> None:
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "triggers": {
                    CONF_PLATFORM: "device",
                    CONF_DOMAIN: DOMAIN,
                    CONF_DEVICE_ID: device_id,
                    CONF_TYPE: trigger_type,
                },
                "actions": {
                    "action": "test.automation",
                    "data": {
                        "event_id": "{{ trigger.event.data.event_id }}",
                        "location_id": "{{ trigger.event.data.location_id }}",
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()


async def _deliver(hass: HomeAssistant, client: TestClient, **event: Any) -> None:
    response = await client.post(WEBHOOK_PATH, json=make_event(**event))
    assert response.status == HTTPStatus.OK
    await hass.async_block_till_done(wait_background_tasks=True)


def _fired(service_calls: list[ServiceCall]) -> list[dict[str, Any]]:
    return [dict(call.data) for call in service_calls if call.domain == "test"]


async def test_get_triggers(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A location device offers one trigger per location event type."""
    device = _device(device_registry, init_integration, HOME_ID)
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, device.id
    )
    ours = [trigger for trigger in triggers if trigger[CONF_DOMAIN] == DOMAIN]
    assert ours == [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device.id,
            CONF_TYPE: trigger_type,
            "metadata": {},
        }
        for trigger_type in TRIGGER_TYPES
    ]


async def test_no_triggers_for_other_devices(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A device of the entry that is not a location, or no device at all, has none."""
    other = device_registry.async_get_or_create(
        config_entry_id=init_integration.entry_id,
        identifiers={(DOMAIN, ACCOUNT_ID)},
        name="Account",
    )
    assert (
        await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, other.id)
        == []
    )
    assert await device_trigger.async_get_triggers(hass, "no_such_device") == []


async def test_trigger_fires_for_its_device_and_type(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    webhook_client: TestClient,
    device_registry: dr.DeviceRegistry,
    service_calls: list[ServiceCall],
) -> None:
    """Only Home's tariff.expired runs the automation."""
    home = _device(device_registry, init_integration, HOME_ID)
    await _setup_automation(hass, home.id, "tariff_expired")

    await _deliver(hass, webhook_client, event_type="tariff.expired", event_id="evt_1")
    assert _fired(service_calls) == [{"event_id": "evt_1", "location_id": HOME_ID}]

    # Another type, another device, a location without a device: nothing.
    await _deliver(
        hass, webhook_client, event_type="tariff.fetch.failed", event_id="evt_2"
    )
    await _deliver(
        hass,
        webhook_client,
        event_type="tariff.expired",
        event_id="evt_3",
        location_id=OFFICE_ID,
    )
    await _deliver(
        hass,
        webhook_client,
        event_type="tariff.expired",
        event_id="evt_4",
        location_id=OTHER_ID,
    )
    assert len(_fired(service_calls)) == 1


@pytest.mark.parametrize(
    ("trigger_type", "event_type"),
    [
        ("tariff_fetch_failed", "tariff.fetch.failed"),
        ("tariff_connection_upgrade", "tariff.connection.upgrade"),
        ("location_update", "location.update"),
        ("connect_session_complete", "connect_session.complete"),
    ],
)
async def test_trigger_matches_the_flatpeak_type(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    webhook_client: TestClient,
    device_registry: dr.DeviceRegistry,
    service_calls: list[ServiceCall],
    trigger_type: str,
    event_type: str,
) -> None:
    """A trigger type listens for the Flatpeak type it stands for, dots and all."""
    office = _device(device_registry, init_integration, OFFICE_ID)
    await _setup_automation(hass, office.id, trigger_type)

    await _deliver(
        hass,
        webhook_client,
        event_type=event_type,
        event_id="evt_1",
        location_id=OFFICE_ID,
    )
    assert _fired(service_calls) == [{"event_id": "evt_1", "location_id": OFFICE_ID}]


async def test_invalid_trigger_type(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    service_calls: list[ServiceCall],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unknown type is refused by the schema and the automation does not run."""
    home = _device(device_registry, init_integration, HOME_ID)
    config = {
        CONF_PLATFORM: "device",
        CONF_DOMAIN: DOMAIN,
        CONF_DEVICE_ID: home.id,
        CONF_TYPE: "battery_melted",
    }
    with pytest.raises(probatio.Invalid):
        device_trigger.TRIGGER_SCHEMA(config)
    # The Flatpeak spelling is not a trigger type either.
    with pytest.raises(probatio.Invalid):
        device_trigger.TRIGGER_SCHEMA({**config, CONF_TYPE: "tariff.expired"})

    await _setup_automation(hass, home.id, "battery_melted")
    hass.bus.async_fire(
        "flatpeak_event",
        {CONF_DEVICE_ID: home.id, CONF_TYPE: "battery.melted", "event_id": "evt_1"},
    )
    await hass.async_block_till_done()
    assert _fired(service_calls) == []
    state = hass.states.get("automation.automation_0")
    assert state is not None
    assert state.state == STATE_UNAVAILABLE
    assert "failed to setup triggers" in caplog.text
