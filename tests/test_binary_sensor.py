"""Tests for the tariff problem binary sensors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING

from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)

from custom_components.flatpeak.const import DOMAIN
from tests.helpers import (
    HOME_ID,
    NOW,
    WEBHOOK_PATH,
    half_hourly_price,
    make_event,
    move_time_to,
    setup_entry,
)
from tests.simulator.state import PriceSlot

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import entity_registry as er
    from syrupy.assertion import SnapshotAssertion

    from tests.simulator import RunningSimulator, SimulatorState

TARIFF_ID = "trf_69665bd289b104fb993db999"


@pytest.mark.parametrize("platforms", [[Platform.BINARY_SENSOR]])
async def test_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """The four problem sensors of the default location, all off."""
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


@pytest.mark.parametrize(
    ("event_type", "entity_id", "problem", "issue_key"),
    [
        (
            "tariff.expired",
            "binary_sensor.home_tariff_expired",
            "tariff_expired",
            "tariff_expired",
        ),
        (
            "tariff.fetch.failed",
            "binary_sensor.home_tariff_fetch_failed",
            "tariff_fetch_failed",
            "tariff_fetch_failed",
        ),
        (
            "tariff.connection.upgrade",
            "binary_sensor.home_connection_upgrade_available",
            "tariff_upgrade_available",
            "tariff_connection_upgrade",
        ),
        (
            "tariff.expiring",
            "binary_sensor.home_tariff_expiring",
            "tariff_expiring",
            None,
        ),
    ],
)
async def test_event_turns_sensor_on(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    webhook_client: TestClient,
    issue_registry: ir.IssueRegistry,
    event_type: str,
    entity_id: str,
    problem: str,
    issue_key: str | None,
) -> None:
    """Each tariff event turns its sensor on and opens its Repairs issue."""
    assert hass.states.get(entity_id).state == STATE_OFF  # type: ignore[union-attr]
    response = await webhook_client.post(
        WEBHOOK_PATH, json=make_event(event_type, event_id="evt_1")
    )
    assert response.status == HTTPStatus.OK
    await hass.async_block_till_done()

    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["since"] == NOW.isoformat()
    assert state.attributes["event_id"] == "evt_1"
    assert state.attributes["tariff_id"] == TARIFF_ID
    # Only this problem's sensor turned on (the price sensors, which have no device
    # class, follow the prices).
    on = [
        s.entity_id
        for s in hass.states.async_all("binary_sensor")
        if s.state == STATE_ON and "device_class" in s.attributes
    ]
    assert on == [entity_id]

    issues = _flatpeak_issues(issue_registry)
    if issue_key is None:
        # Expiring is a heads-up, not something to repair yet.
        assert issues == []
        return
    issue = issue_registry.async_get_issue(DOMAIN, f"{issue_key}_{HOME_ID}")
    assert issue is not None
    assert issues == [issue]
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == issue_key
    assert issue.translation_placeholders == {
        "location": "Home",
        "dashboard_url": "https://dashboard.flatpeak.com",
    }
    assert issue.data == {
        "entry_id": init_integration.entry_id,
        "location_id": HOME_ID,
        "problem": problem,
    }


def _flatpeak_issues(issue_registry: ir.IssueRegistry) -> list[ir.IssueEntry]:
    return [
        issue
        for (domain, _), issue in issue_registry.issues.items()
        if domain == DOMAIN
    ]


async def test_unknown_location_raises_nothing(
    hass: HomeAssistant, webhook_client: TestClient, issue_registry: ir.IssueRegistry
) -> None:
    """A tariff event for a location the entry does not follow changes no sensor."""
    response = await webhook_client.post(
        WEBHOOK_PATH,
        json=make_event("tariff.expired", event_id="evt_1", location_id="loc_other"),
    )
    assert response.status == HTTPStatus.OK
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.home_tariff_expired").state == STATE_OFF  # type: ignore[union-attr]
    assert _flatpeak_issues(issue_registry) == []


async def test_status_read_before_the_event_does_not_clear_it(
    hass: HomeAssistant,
    webhook_client: TestClient,
    simulator: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Slot ticks re-run the reconcile on the start-up status, which predates the event.

    The simulator's status looks healthy (connected, direct, contract until 2027), but it
    was read at NOW; an event created a minute later cannot be judged by it.
    """
    freezer.tick(timedelta(minutes=1))
    event = make_event("tariff.fetch.failed", event_id="evt_1")
    event["time_created"] = (NOW + timedelta(minutes=1)).isoformat()
    await webhook_client.post(WEBHOOK_PATH, json=event)
    await hass.async_block_till_done()
    entity_id = "binary_sensor.home_tariff_fetch_failed"
    assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]

    calls = simulator.state.calls["location_status"]
    for boundary in (
        datetime(2026, 11, 25, 10, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 11, tzinfo=UTC),
    ):
        freezer.move_to(boundary)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]
    assert simulator.state.calls["location_status"] == calls

    # The next scheduled fetch (16:00, Flatpeak's next_update) reads a newer status.
    freezer.move_to(datetime(2026, 11, 25, 16, 1, tzinfo=UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.state.calls["location_status"] == calls + 1
    assert hass.states.get(entity_id).state == STATE_OFF  # type: ignore[union-attr]


TOMORROW_KNOWN = "binary_sensor.home_tomorrow_prices_known"


def _tomorrow(hass: HomeAssistant) -> tuple[str, bool]:
    """The binary sensor's state and the current price's `tomorrow_valid`."""
    known = hass.states.get(TOMORROW_KNOWN)
    current = hass.states.get("sensor.home_current_price")
    assert known is not None
    assert current is not None
    return known.state, current.attributes["tomorrow_valid"]


async def test_tomorrow_prices_known_is_tomorrow_valid(
    hass: HomeAssistant,
    simulator_state: SimulatorState,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Off while part of tomorrow is unknown, on once all is, off again at midnight."""
    start = datetime(2026, 11, 25, tzinfo=UTC)
    simulator_state.set_prices(
        HOME_ID,
        [
            PriceSlot(start + timedelta(hours=h), start + timedelta(hours=h + 1), 0.2)
            for h in range(36)
        ],
    )
    await setup_entry(hass, mock_config_entry, freezer)
    assert _tomorrow(hass) == (STATE_OFF, False)

    simulator_state.set_price_pattern(HOME_ID, half_hourly_price)
    assert await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": TOMORROW_KNOWN}, blocking=True
    )
    await hass.async_block_till_done()
    assert _tomorrow(hass) == (STATE_ON, True)

    # At midnight tomorrow becomes today; the day after is not fetched yet.
    await move_time_to(hass, freezer, datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC))
    assert _tomorrow(hass) == (STATE_ON, True)
    await move_time_to(hass, freezer, datetime(2026, 11, 26, tzinfo=UTC))
    assert _tomorrow(hass) == (STATE_OFF, False)
