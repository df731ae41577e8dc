"""Stored state is recovered, never trusted blindly: malformed files do not block set-up.

Each case plants a file in `.storage` that Home Assistant or a person could have left
behind; set-up must reach LOADED, say with a warning what it dropped, and keep working.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from datetime import timedelta
import logging
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers.storage import Store
from homeassistant.util.file import WriteError
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.flatpeak.store import ThrottledStore
from custom_components.flatpeak.tariff.problems import Problem
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK, Outcome
from tests.helpers import HOME_ID, NOW, WEBHOOK_PATH, make_event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.helpers import FlatpeakDeliveries
    from tests.simulator import RunningSimulator

CURRENT = "sensor.home_current_price"
SINCE = (NOW - timedelta(days=1)).isoformat()
GOOD_PROBLEM = {"since": SINCE, "event_id": "evt_good", "tariff_id": None}


def _plant(
    hass_storage: dict[str, Any], key: str, data: Any, *, version: int = 1
) -> None:
    """Leave a file in `.storage` as Home Assistant's Store writes them."""
    hass_storage[key] = {
        "version": version,
        "minor_version": 1,
        "key": key,
        "data": data,
    }


@contextmanager
def _stored_without_version(key: str, data: Any) -> Iterator[None]:
    """Serve one key as a file that has no `version`, through Home Assistant's parser.

    The test storage refuses such a file before Home Assistant's own loader sees it;
    here the loader itself reads it (and fails on the missing key, as on a real disk).
    """
    mocked_load = Store._async_load

    async def load(store: Store[Any]) -> Any:
        if store.key != key:
            return await mocked_load(store)
        store._data = {"key": key, "data": data}
        return await store._async_load_data()

    with patch.object(Store, "_async_load", new=load):
        yield


async def _setup(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def _storage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and record.name.startswith("custom_components.flatpeak")
        and "stored" in record.getMessage()
    ]


def _assert_loaded_and_working(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert entry.state is ConfigEntryState.LOADED
    state = hass.states.get(CURRENT)
    assert state is not None
    assert state.state == "0.3"


# (store, stored data, storage version) — each once made set-up fail.
MALFORMED = {
    "events data is a list": ("events", ["evt_1", "evt_2"], 1),
    "events seen is not a list": (
        "events",
        {"seen": {"evt_1": True}, "last_event_id": "evt_1"},
        1,
    ),
    "events seen is a number": ("events", {"seen": 7}, 1),
    "problems is a list": ("problems", {"problems": [HOME_ID]}, 1),
    "problems of a location is a list": ("problems", {"problems": {HOME_ID: []}}, 1),
    "events file of a newer version": ("events", {"seen": [], "future": True}, 2),
    "problems file of a newer version": ("problems", {"problems": {}}, 2),
}


@pytest.mark.parametrize(
    ("store", "data", "version"), list(MALFORMED.values()), ids=list(MALFORMED)
)
async def test_malformed_store_does_not_block_setup(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    store: str,
    data: Any,
    version: int,
) -> None:
    """The file is set aside (or its bad entries dropped) with a warning; set-up goes on."""
    _plant(
        hass_storage,
        f"flatpeak.{mock_config_entry.entry_id}.{store}",
        data,
        version=version,
    )
    await _setup(hass, mock_config_entry, freezer)
    _assert_loaded_and_working(hass, mock_config_entry)
    assert _storage_warnings(caplog), caplog.text


async def test_file_without_version_does_not_block_setup(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A file Home Assistant's loader cannot read (KeyError on `version`) is ignored."""
    key = f"flatpeak.{mock_config_entry.entry_id}.events"
    with _stored_without_version(key, {"seen": ["evt_1"], "last_event_id": "evt_1"}):
        await _setup(hass, mock_config_entry, freezer)
    _assert_loaded_and_working(hass, mock_config_entry)
    assert any(
        key in message and "version" in message for message in _storage_warnings(caplog)
    ), caplog.text
    assert "evt_1" not in mock_config_entry.runtime_data.event_log


async def test_malformed_problem_is_dropped_and_the_rest_kept(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A problem whose event id is not a string goes; its well-formed sibling stays."""
    _plant(
        hass_storage,
        f"flatpeak.{mock_config_entry.entry_id}.problems",
        {
            "problems": {
                HOME_ID: {
                    "tariff_expired": {
                        "since": SINCE,
                        "event_id": 42,
                        "tariff_id": None,
                    },
                    "tariff_fetch_failed": GOOD_PROBLEM,
                }
            }
        },
    )
    # The status still shows the fetch failing, so the kept problem is not cleared.
    simulator.state.set_status(HOME_ID, status="ERROR")
    await _setup(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    problems = mock_config_entry.runtime_data.problems
    assert problems.active(HOME_ID, Problem.TARIFF_EXPIRED) is None
    kept = problems.active(HOME_ID, Problem.TARIFF_FETCH_FAILED)
    assert kept is not None
    assert kept.event_id == "evt_good"
    assert _storage_warnings(caplog), caplog.text


async def test_problem_without_a_time_is_kept_since_now(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Only the time is unreadable: the problem stands, since set-up."""
    _plant(
        hass_storage,
        f"flatpeak.{mock_config_entry.entry_id}.problems",
        {"problems": {HOME_ID: {"tariff_fetch_failed": {"event_id": "evt_1"}}}},
    )
    simulator.state.set_status(HOME_ID, status="ERROR")
    await _setup(hass, mock_config_entry, freezer)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    active = mock_config_entry.runtime_data.problems.active(
        HOME_ID, Problem.TARIFF_FETCH_FAILED
    )
    assert active is not None
    assert active.since == NOW
    assert active.event_id == "evt_1"


async def test_malformed_last_event_id_lets_deliveries_apply(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """A number as the stored last_event_id is dropped; deliveries are applied again.

    It once made every delivery raise while comparing ids, answered 200 by Home
    Assistant: every event lost.
    """
    _plant(
        hass_storage,
        f"flatpeak.{mock_config_entry.entry_id}.events",
        {"seen": ["evt_seen"], "last_event_id": 1234, "floor_event_id": None},
    )
    await _setup(hass, mock_config_entry, freezer)
    _assert_loaded_and_working(hass, mock_config_entry)
    event_log = mock_config_entry.runtime_data.event_log
    assert "evt_seen" in event_log

    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await flatpeak_client()
    response = await client.post(
        WEBHOOK_PATH, json=make_event("tariff.expiring", event_id="evt_after_restart")
    )
    assert response.status == 200
    assert (await response.json())["message"] == Outcome.APPLIED
    await hass.async_block_till_done()
    assert [event.data["event_id"] for event in captured] == ["evt_after_restart"]
    assert event_log.last_event_id == "evt_after_restart"
    assert any("last_event_id" in m for m in _storage_warnings(caplog)), caplog.text


# -- ThrottledStore ---------------------------------------------------------------------


async def test_concurrent_flushes_share_one_write(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Callers flushing the same changes at once cost one write; new changes another."""
    data = {"n": 1}
    store = ThrottledStore(hass, "flatpeak.shared", lambda: dict(data), 60.0)
    original_save = Store.async_save
    with patch.object(
        Store, "async_save", autospec=True, side_effect=original_save
    ) as save:
        store.schedule_save()
        await asyncio.gather(*(store.async_flush() for _ in range(5)))
        assert save.call_count == 1
        assert hass_storage["flatpeak.shared"]["data"] == {"n": 1}

        # Flushing again without a change writes nothing; after a change it writes.
        await store.async_flush()
        assert save.call_count == 1
        data["n"] = 2
        store.schedule_save()
        await asyncio.gather(store.async_flush(), store.async_flush())
        assert save.call_count == 2
        assert hass_storage["flatpeak.shared"]["data"] == {"n": 2}


async def test_changes_after_a_flush_are_saved_by_the_delayed_write(
    hass: HomeAssistant, hass_storage: dict[str, Any], freezer: FrozenDateTimeFactory
) -> None:
    """A flush cancels the pending delayed write; the next change schedules a new one."""
    data = {"n": 1}
    store = ThrottledStore(hass, "flatpeak.delayed", lambda: dict(data), 2.0)
    store.schedule_save()
    await store.async_flush()
    assert hass_storage["flatpeak.delayed"]["data"] == {"n": 1}

    data["n"] = 2
    store.schedule_save()
    freezer.tick(timedelta(seconds=3))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass_storage["flatpeak.delayed"]["data"] == {"n": 2}


async def test_problem_stored_with_a_future_time_can_still_be_cleared(
    hass: HomeAssistant,
    simulator: RunningSimulator,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A problem saved by an earlier release with a time ahead of now is not stuck.

    Earlier releases kept an event's `time_created` as the problem's time even when it
    lay in the future; every later status then looked older than the problem.
    """
    _plant(
        hass_storage,
        f"flatpeak.{mock_config_entry.entry_id}.problems",
        {
            "problems": {
                HOME_ID: {
                    "tariff_fetch_failed": {
                        "since": "2099-01-01T00:00:00+00:00",
                        "event_id": "evt_from_the_future",
                        "tariff_id": None,
                    }
                }
            }
        },
    )
    await _setup(hass, mock_config_entry, freezer)
    problems = mock_config_entry.runtime_data.problems
    assert problems.active(HOME_ID, Problem.TARIFF_FETCH_FAILED) is not None

    # The next status, which shows the tariff connected, clears it.
    freezer.move_to(NOW + timedelta(hours=6, minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert problems.active(HOME_ID, Problem.TARIFF_FETCH_FAILED) is None


async def test_a_failed_write_is_not_reported_as_saved(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Home Assistant logs a failed write and returns: `on_saved` must not run then.

    The event log empties its journal in `on_saved`; after a write that never reached
    the disk that would lose the ids the journal alone holds.
    """
    saved: list[int] = []
    data = {"n": 1}
    store = ThrottledStore(
        hass,
        "flatpeak.failing",
        lambda: dict(data),
        60.0,
        on_saved=lambda: saved.append(1),
    )
    store.schedule_save()
    with patch.object(Store, "_async_write_data", side_effect=WriteError("disk full")):
        await store.async_flush()
    assert saved == []
    assert "flatpeak.failing" not in hass_storage

    # The change is still pending: the next flush writes it and reports it.
    await store.async_flush()
    assert saved == [1]
    assert hass_storage["flatpeak.failing"]["data"] == {"n": 1}
    await store.async_close()
