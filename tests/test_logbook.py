"""Tests for the logbook descriptions of `flatpeak_event`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.logbook.const import (
    DOMAIN as LOGBOOK_DOMAIN,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.core import Event, callback
from homeassistant.helpers.integration_platform import (
    async_process_integration_platforms,
)
import pytest

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.logbook import async_describe_events, describe_type
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK
from tests.helpers import HOME_ID

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr
    from pytest_homeassistant_custom_component.common import MockConfigEntry

type Describe = Callable[[Event], dict[str, str]]

OTHER_ID = "loc_661677cdc31d91695fd8f33d"


@pytest.fixture
def describe(hass: HomeAssistant) -> Describe:
    """The description function the integration registers for flatpeak_event."""
    registered: list[tuple[str, str, Describe]] = []

    @callback
    def collect(domain: str, event_name: str, describe_event: Describe) -> None:
        registered.append((domain, event_name, describe_event))

    async_describe_events(hass, collect)
    assert [(domain, name) for domain, name, _ in registered] == [
        (DOMAIN, EVENT_FLATPEAK)
    ]
    return registered[0][2]


def _event(**data: Any) -> Event:
    return Event(EVENT_FLATPEAK, data)


def _home_device(
    device_registry: dr.DeviceRegistry, entry: MockConfigEntry
) -> dr.DeviceEntry:
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, HOME_ID), entry.entry_id
    )
    assert device is not None
    return device


async def test_known_type_at_a_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    describe: Describe,
) -> None:
    """A location's event names its device."""
    device = _home_device(device_registry, init_integration)
    event = _event(type="tariff.expired", location_id=HOME_ID, device_id=device.id)

    assert describe(event) == {
        LOGBOOK_ENTRY_NAME: "Flatpeak",
        LOGBOOK_ENTRY_MESSAGE: "tariff expired at Home",
    }

    device_registry.async_update_device(device.id, name_by_user="Cottage")
    assert describe(event)[LOGBOOK_ENTRY_MESSAGE] == "tariff expired at Cottage"


async def test_without_a_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    describe: Describe,
) -> None:
    """Without a (current) device the location id stands in; without it, no place."""
    assert describe(
        _event(type="location.update", location_id=OTHER_ID, device_id=None)
    ) == {
        LOGBOOK_ENTRY_NAME: "Flatpeak",
        LOGBOOK_ENTRY_MESSAGE: f"location updated at {OTHER_ID}",
    }
    # The device was removed since the event was recorded.
    assert (
        describe(_event(type="tariff.expired", location_id=HOME_ID, device_id="gone"))[
            LOGBOOK_ENTRY_MESSAGE
        ]
        == f"tariff expired at {HOME_ID}"
    )
    assert (
        describe(_event(type="customer.create", location_id=None, device_id=None))[
            LOGBOOK_ENTRY_MESSAGE
        ]
        == "customer created"
    )


async def test_unknown_type(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    describe: Describe,
) -> None:
    """A type Flatpeak adds later still reads as words."""
    device = _home_device(device_registry, init_integration)
    assert describe(
        _event(type="battery.melted", location_id=HOME_ID, device_id=device.id)
    ) == {
        LOGBOOK_ENTRY_NAME: "Flatpeak",
        LOGBOOK_ENTRY_MESSAGE: "battery melted at Home",
    }
    assert describe(_event())[LOGBOOK_ENTRY_MESSAGE] == "event"


@pytest.mark.parametrize(
    ("event_type", "words"),
    [
        ("tariff.expired", "tariff expired"),
        ("tariff.fetch.failed", "tariff fetch failed"),
        ("tariff.connection.upgrade", "tariff connection upgrade available"),
        ("tariff.expiring", "tariff expiring"),
        ("location.update", "location updated"),
        ("location.delete.failed", "location delete failed"),
        ("connect_session.complete", "connect session completed"),
        ("schedule.created", "schedule created"),
        ("device.delete", "device deleted"),
        ("battery.melted", "battery melted"),
        ("weird..", "weird"),
        ("", "event"),
    ],
)
def test_describe_type(event_type: str, words: str) -> None:
    """Flatpeak's `resource.verb` types read as words, verbs in the past tense."""
    assert describe_type(event_type) == words


async def test_logbook_finds_the_platform(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Home Assistant loads logbook.py the way the logbook component does."""
    platforms: dict[str, ModuleType] = {}

    @callback
    def process(hass: HomeAssistant, domain: str, platform: ModuleType) -> None:
        platforms[domain] = platform

    await async_process_integration_platforms(
        hass, LOGBOOK_DOMAIN, process, wait_for_platforms=True
    )

    assert platforms[DOMAIN].async_describe_events is async_describe_events
