"""EventApplier: the one way in for an event, whichever way it arrived."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.flatpeak.api.models import Event
from custom_components.flatpeak.const import CONF_FOLLOW_ALL_LOCATIONS, DOMAIN
from custom_components.flatpeak.locations.followed import FollowedLocations
from custom_components.flatpeak.tariff.problems import Problem
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK, Outcome
from tests.helpers import ACCOUNT_ID, HOME_ID, make_event, setup_entry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry


def _event(event_type: str, event_id: str, **kwargs: Any) -> Event:
    return Event.from_dict(make_event(event_type, event_id=event_id, **kwargs))


async def test_applied_once_then_duplicate(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The same id applies once: one bus event, then DUPLICATE."""
    applier = init_integration.runtime_data.applier
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    event = _event("customer.update", "evt_once")
    assert await applier.async_apply(event) is Outcome.APPLIED
    assert await applier.async_apply(event) is Outcome.DUPLICATE
    await hass.async_block_till_done()
    assert [e.data["event_id"] for e in captured] == ["evt_once"]
    assert captured[0].data["config_entry_id"] == init_integration.entry_id


async def test_other_accounts_and_modes_are_ignored_and_not_remembered(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Events of another account or mode change nothing, not even the log."""
    runtime = init_integration.runtime_data
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    other_account = _event("tariff.expired", "evt_other", account_id="acc_other")
    test_mode = _event("tariff.expired", "evt_test", live_mode=False)
    assert await runtime.applier.async_apply(other_account) is Outcome.IGNORED
    assert await runtime.applier.async_apply(test_mode) is Outcome.IGNORED
    await hass.async_block_till_done()
    assert captured == []
    assert "evt_other" not in runtime.event_log
    assert "evt_test" not in runtime.event_log
    assert runtime.problems.active(HOME_ID, Problem.TARIFF_EXPIRED) is None


async def test_a_raised_problem_is_stored_before_apply_returns(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """What an event changed is on disk when the caller answers: no timer needed."""
    key = f"flatpeak.{init_integration.entry_id}.problems"
    applier = init_integration.runtime_data.applier
    outcome = await applier.async_apply(
        _event("tariff.expired", "evt_expired", account_id=ACCOUNT_ID)
    )
    assert outcome is Outcome.APPLIED
    # No time has passed and nothing awaited the delayed write: only the apply did.
    assert HOME_ID in hass_storage[key]["data"]["problems"]
    assert "tariff_expired" in hass_storage[key]["data"]["problems"][HOME_ID]


async def test_new_location_is_asked_for_only_when_following_all(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """location.create of an unknown location adds it only for a follow-all entry."""
    await setup_entry(hass, mock_config_entry, freezer)
    applier = mock_config_entry.runtime_data.applier
    with patch.object(FollowedLocations, "async_request_add") as request_add:
        await applier.async_apply(
            _event("location.create", "evt_new_1", location_id="loc_new")
        )
        request_add.assert_not_called()
        hass.config_entries.async_update_entry(
            mock_config_entry,
            options={**mock_config_entry.options, CONF_FOLLOW_ALL_LOCATIONS: True},
        )
        await applier.async_apply(
            _event("location.create", "evt_new_2", location_id="loc_new")
        )
        request_add.assert_called_once_with("loc_new")


async def test_bus_event_names_the_device_of_a_location_not_followed_now(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A location set aside keeps its device; its events name it, as the contract says."""
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=init_integration.entry_id,
        identifiers={(DOMAIN, "loc_set_aside")},
    )
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    await init_integration.runtime_data.applier.async_apply(
        _event("tariff.expired", "evt_aside", location_id="loc_set_aside")
    )
    await init_integration.runtime_data.applier.async_apply(
        _event("tariff.expired", "evt_nowhere", location_id="loc_no_device")
    )
    await hass.async_block_till_done()
    assert [e.data["device_id"] for e in captured] == [device.id, None]
