"""The applied-event record: a snapshot in `.storage` plus an append-only journal.

The journal is a real file in the test's own configuration directory (see the
`hass_config_dir` fixture); the snapshot goes through Home Assistant's test storage.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import errno
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import CoreState
from homeassistant.util.file import WriteError
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.flatpeak.store import ThrottledStore
from custom_components.flatpeak.webhook import event_log as applied_events
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK
from custom_components.flatpeak.webhook.event_log import EventLog, journal_path
from tests.helpers import WEBHOOK_PATH, make_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.helpers import FlatpeakDeliveries

ENTRY = "journal_entry"
KEY = f"flatpeak.{ENTRY}.events"


@pytest.fixture
async def open_logs(hass: HomeAssistant) -> AsyncIterator[list[EventLog]]:
    """Logs a test opened, closed at its end so no timer or descriptor outlives it."""
    logs: list[EventLog] = []
    yield logs
    for log in logs:
        await log.async_close()


@pytest.fixture
def load(
    hass: HomeAssistant, open_logs: list[EventLog]
) -> Callable[..., Awaitable[EventLog]]:
    """Load a fresh EventLog of the entry, as Home Assistant does at each start."""

    async def load(capacity: int = applied_events.MAX_REMEMBERED_IDS) -> EventLog:
        log = EventLog(hass, ENTRY, capacity)
        await log.async_load()
        open_logs.append(log)
        return log

    return load


def _journal(hass: HomeAssistant, entry_id: str = ENTRY) -> Path:
    return Path(journal_path(hass, entry_id))


def _plant_journal(hass: HomeAssistant, content: bytes) -> None:
    path = _journal(hass)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _plant_snapshot(hass_storage: dict[str, Any], data: dict[str, Any]) -> None:
    hass_storage[KEY] = {"version": 1, "minor_version": 1, "key": KEY, "data": data}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "journal" in record.getMessage()
    ]


async def test_journal_is_per_test(hass: HomeAssistant, tmp_path: Path) -> None:
    """The journal lands in this test's directory, not in a directory tests share."""
    assert _journal(hass).is_relative_to(tmp_path)


async def test_recorded_ids_survive_a_crash_before_any_snapshot(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """Ids recorded and never snapshotted are back after a restart, from the journal."""
    crashed = await load()
    assert crashed.record("evt_1")
    assert crashed.record("evt_2")
    crashed.start_from("evt_0")  # ignored: something was applied already
    # What a killed process leaves behind: the journal, and no snapshot.
    assert _journal(hass).read_bytes() == b"evt_1\nevt_2\n"
    assert KEY not in hass_storage

    restarted = await load()
    assert "evt_1" in restarted
    assert "evt_2" in restarted
    assert not restarted.record("evt_2")
    assert restarted.last_event_id == "evt_2"
    assert restarted.floor_event_id is None


async def test_catch_up_start_survives_a_crash(
    hass: HomeAssistant, load: Callable[..., Awaitable[EventLog]]
) -> None:
    """Where catch-up starts is journalled too."""
    crashed = await load()
    crashed.start_from("evt_start")
    assert _journal(hass).read_bytes() == b"floor evt_start\n"

    restarted = await load()
    assert restarted.last_event_id == "evt_start"
    assert restarted.floor_event_id == "evt_start"
    assert "evt_start" not in restarted


async def test_snapshot_of_the_previous_release_loads_unchanged(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """A stored record without a journal (as the previous release left it) loads as before."""
    _plant_snapshot(
        hass_storage,
        {
            "seen": ["evt_a", "evt_b"],
            "last_event_id": "evt_b",
            "floor_event_id": "evt_0",
        },
    )
    assert not _journal(hass).exists()
    log = await load()
    assert len(log) == 2
    assert "evt_a" in log
    assert "evt_b" in log
    assert log.last_event_id == "evt_b"
    assert log.floor_event_id == "evt_0"
    assert _journal(hass).read_bytes() == b""
    # Nothing changed, so nothing is rewritten.
    assert hass_storage[KEY]["data"]["seen"] == ["evt_a", "evt_b"]


async def test_journal_replays_after_the_snapshot(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """Snapshot ids first, then the journal's, in order; ids in both count once."""
    _plant_snapshot(
        hass_storage,
        {"seen": ["evt_a", "evt_b"], "last_event_id": "evt_b", "floor_event_id": None},
    )
    # A crash between writing a snapshot and emptying the journal leaves its ids twice.
    _plant_journal(hass, b"evt_a\nevt_b\nevt_c\n")
    log = await load(capacity=3)
    assert len(log) == 3
    assert log.last_event_id == "evt_c"
    assert log.record("evt_d")  # evicts the oldest, evt_a
    assert "evt_a" not in log
    assert all(event_id in log for event_id in ("evt_b", "evt_c", "evt_d"))

    # The replayed changes are folded into the next snapshot, which empties the journal.
    await log._store.async_flush()
    assert hass_storage[KEY]["data"]["seen"] == ["evt_b", "evt_c", "evt_d"]
    assert _journal(hass).read_bytes() == b""


async def test_torn_last_line_is_dropped(
    hass: HomeAssistant,
    load: Callable[..., Awaitable[EventLog]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unfinished last line is cut off, not taken as an id nor appended to."""
    _plant_journal(hass, b"evt_a\nevt_b\nevt_cut_sh")
    log = await load()
    assert "evt_a" in log
    assert "evt_b" in log
    assert "evt_cut_sh" not in log
    assert any("unfinished" in message for message in _warnings(caplog))

    assert log.record("evt_c")
    assert _journal(hass).read_bytes() == b"evt_a\nevt_b\nevt_c\n"
    restarted = await load()
    assert len(restarted) == 3
    assert restarted.last_event_id == "evt_c"


async def test_malformed_lines_are_dropped(
    hass: HomeAssistant,
    load: Callable[..., Awaitable[EventLog]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Lines that are not an id (or a catch-up start) are dropped with a warning."""
    long_id = b"evt_" + b"x" * 65
    _plant_journal(
        hass,
        b"evt_a\n\nnot an id\n"
        + long_id
        + b"\nfloor nonsense\n\xff\xfe\nevt_b\r\nevt_c\n",
    )
    log = await load()
    assert len(log) == 2
    assert "evt_a" in log
    assert "evt_c" in log
    assert log.last_event_id == "evt_c"
    assert log.floor_event_id is None
    assert any(
        message.startswith("Dropped 6 malformed lines") for message in _warnings(caplog)
    ), caplog.text


async def test_empty_journal_file_loads_nothing(
    hass: HomeAssistant, load: Callable[..., Awaitable[EventLog]]
) -> None:
    """An empty journal is not one blank line."""
    _plant_journal(hass, b"")
    log = await load()
    assert len(log) == 0
    assert log.last_event_id is None


async def test_snapshot_empties_the_journal(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """Once the snapshot holds the ids, the journal is emptied."""
    log = await load()
    for event_id in ("evt_1", "evt_2", "evt_3"):
        log.record(event_id)
    assert _journal(hass).read_bytes() == b"evt_1\nevt_2\nevt_3\n"
    await log._store.async_flush()
    assert hass_storage[KEY]["data"] == {
        "seen": ["evt_1", "evt_2", "evt_3"],
        "last_event_id": "evt_3",
        "floor_event_id": None,
    }
    assert _journal(hass).read_bytes() == b""
    log.record("evt_4")
    assert _journal(hass).read_bytes() == b"evt_4\n"
    restarted = await load()
    assert len(restarted) == 4


async def test_ids_recorded_during_a_snapshot_stay_in_the_journal(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """An id recorded while the snapshot is being written is not in it: it stays."""
    log = await load()
    log.record("evt_1")
    writing = asyncio.Event()
    release = asyncio.Event()
    original = ThrottledStore._async_write

    async def slow_write(store: ThrottledStore, data: dict[str, Any]) -> bool:
        writing.set()
        await release.wait()
        return await original(store, data)

    with patch.object(ThrottledStore, "_async_write", slow_write):
        flush = asyncio.create_task(log._store.async_flush())
        async with asyncio.timeout(30):
            await writing.wait()
        log.record("evt_2")
        release.set()
        await flush
    assert hass_storage[KEY]["data"]["seen"] == ["evt_1"]
    assert _journal(hass).read_bytes() == b"evt_2\n"
    # The journal was replaced: new lines go to the new file.
    log.record("evt_3")
    assert _journal(hass).read_bytes() == b"evt_2\nevt_3\n"
    assert not _journal(hass).with_name(f"{_journal(hass).name}.new").exists()

    restarted = await load()
    assert len(restarted) == 3
    assert restarted.last_event_id == "evt_3"


async def test_snapshot_is_written_by_itself_within_the_delay(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The first change schedules a snapshot; it then empties the journal."""
    log = await load()
    log.record("evt_1")
    freezer.tick(timedelta(seconds=applied_events.SAVE_DELAY / 2))
    async_fire_time_changed(hass)
    log.record("evt_2")
    await hass.async_block_till_done()
    assert KEY not in hass_storage
    freezer.tick(timedelta(seconds=applied_events.SAVE_DELAY))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass_storage[KEY]["data"]["seen"] == ["evt_1", "evt_2"]
    assert _journal(hass).read_bytes() == b""


async def test_journal_kept_while_home_assistant_stops(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """A snapshot Home Assistant only queues (it is stopping) does not empty the journal."""
    log = await load()
    log.record("evt_1")
    hass.set_state(CoreState.stopping)
    await log._store.async_flush()
    assert _journal(hass).read_bytes() == b"evt_1\n"

    # The final write writes the queued snapshot; ours then empties the journal.
    hass.set_state(CoreState.final_write)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    hass.set_state(CoreState.running)
    assert hass_storage[KEY]["data"]["seen"] == ["evt_1"]
    assert _journal(hass).read_bytes() == b""


async def test_failed_snapshot_write_keeps_the_journal(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """A snapshot that did not reach the disk (a full disk) leaves the journal whole.

    Home Assistant's Store logs a failed write and returns as if it had written; the
    journal is what still holds the ids, so a crash before the next good snapshot
    loses none of them.
    """
    log = await load()
    log.record("evt_1")
    log.record("evt_2")
    with patch(
        "homeassistant.helpers.storage.Store._async_write_data",
        side_effect=WriteError("No space left on device"),
    ):
        await log._store.async_flush()
    assert KEY not in hass_storage
    assert _journal(hass).read_bytes() == b"evt_1\nevt_2\n"

    # A crash now: the ids come back from the journal.
    crashed = await load()
    assert "evt_1" in crashed
    assert "evt_2" in crashed

    # The next snapshot that is written holds them, and only then is the journal emptied.
    await log._store.async_flush()
    assert hass_storage[KEY]["data"]["seen"] == ["evt_1", "evt_2"]
    assert _journal(hass).read_bytes() == b""


async def test_remove_deletes_snapshot_and_journal(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    load: Callable[..., Awaitable[EventLog]],
) -> None:
    """Removing the entry's record leaves neither file."""
    log = await load()
    log.record("evt_1")
    await log._store.async_flush()
    log.record("evt_2")
    await log.async_close()
    assert KEY in hass_storage
    assert _journal(hass).exists()
    # What a crash in the middle of a compaction leaves.
    replacement = _journal(hass).with_name(f"{_journal(hass).name}.new")
    replacement.write_bytes(b"evt_2\n")

    await EventLog(hass, ENTRY).async_remove()
    assert KEY not in hass_storage
    assert not _journal(hass).exists()
    assert not replacement.exists()
    # Removing what is already gone is fine.
    await EventLog(hass, ENTRY).async_remove()


async def test_replayed_window_stays_bounded(
    hass: HomeAssistant, load: Callable[..., Awaitable[EventLog]]
) -> None:
    """A journal longer than the window replays into the window's newest ids."""
    ids = [f"evt_{n:03}" for n in range(10)]
    _plant_journal(hass, "".join(f"{event_id}\n" for event_id in ids).encode())
    log = await load(capacity=4)
    assert len(log) == 4
    assert all(event_id in log for event_id in ids[-4:])
    assert ids[-5] not in log
    assert log.last_event_id == ids[-1]


async def test_record_before_load_is_refused(hass: HomeAssistant) -> None:
    """An unloaded log has no journal to write to: recording fails loudly."""
    with pytest.raises(RuntimeError):
        EventLog(hass, ENTRY).record("evt_1")


async def test_failed_journal_write_applies_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
) -> None:
    """A full disk: the delivery gets 500 (Flatpeak retries), the id is not remembered."""
    captured = async_capture_events(hass, EVENT_FLATPEAK)
    client = await flatpeak_client()
    body = make_event("tariff.expiring", event_id="evt_disk_full")
    with patch.object(
        applied_events, "_write_all", side_effect=OSError(errno.ENOSPC, "full")
    ):
        response = await client.post(WEBHOOK_PATH, json=body)
    assert response.status == 500
    await hass.async_block_till_done()
    assert captured == []
    assert "evt_disk_full" not in init_integration.runtime_data.event_log

    response = await client.post(WEBHOOK_PATH, json=body)
    assert response.status == 200
    assert (await response.json())["message"] == "applied"


async def test_applied_id_is_in_the_journal_before_the_answer(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    flatpeak_client: Callable[[], Awaitable[FlatpeakDeliveries]],
    hass_storage: dict[str, Any],
) -> None:
    """When the 200 arrives the id is in the journal; no snapshot was needed for it."""
    client = await flatpeak_client()
    path = _journal(hass, init_integration.entry_id)
    key = f"flatpeak.{init_integration.entry_id}.events"
    before = list(hass_storage.get(key, {}).get("data", {}).get("seen", []))
    for attempt in ("applied", "duplicate"):
        response = await client.post(
            WEBHOOK_PATH, json=make_event("tariff.expired", event_id="evt_answered")
        )
        assert response.status == 200
        assert (await response.json())["message"] == attempt
        assert path.read_bytes().splitlines().count(b"evt_answered") == 1
        assert list(hass_storage.get(key, {}).get("data", {}).get("seen", [])) == before

    await hass.config_entries.async_unload(init_integration.entry_id)
    # Unloading writes the snapshot and empties the journal.
    assert "evt_answered" in hass_storage[key]["data"]["seen"]
    assert path.read_bytes() == b""
    await hass.config_entries.async_remove(init_integration.entry_id)
    assert key not in hass_storage
    assert not path.exists()
    assert not any(path.parent.iterdir())
