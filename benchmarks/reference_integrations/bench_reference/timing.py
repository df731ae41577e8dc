"""Time the steps of a delivery inside Home Assistant (the benchmark's profile).

cProfile in Python 3.14 follows every thread in one call stack, so in Home Assistant
(event loop, recorder, executor threads) its figures cannot be attributed to a step.
Instead each step's function is wrapped here: thread CPU time (`time.thread_time`) for
steps that run without suspending, wall time for those that await the executor or the
network. Installed only when the benchmark sets FLATPEAK_BENCH_PROFILE.
"""

from __future__ import annotations

from collections import defaultdict
import functools
import time
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder import core as recorder_core
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.helpers import json as json_helper, storage

from custom_components.flatpeak.tariff import problems
from custom_components.flatpeak.webhook import (
    applier,
    confirmation,
    event_log as applied_events,
    handler as flatpeak_webhook,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# name -> [calls, thread CPU seconds, wall seconds]
TIMES: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
# What was wrapped, to put back: the measured rounds run without the wrappers.
_ORIGINALS: list[tuple[Any, str, Any]] = []


def _add(name: str, cpu: float, wall: float) -> None:
    entry = TIMES[name]
    entry[0] += 1
    entry[1] += cpu
    entry[2] += wall


def _sync(owner: Any, attribute: str, name: str | Callable[..., str | None]) -> None:
    original = getattr(owner, attribute)
    _ORIGINALS.append((owner, attribute, original))

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            label = name(*args, **kwargs) if callable(name) else name
            if label is not None:
                _add(label, time.thread_time() - cpu, time.perf_counter() - wall)

    setattr(owner, attribute, timed)


def _async(owner: Any, attribute: str, name: str) -> None:
    original = getattr(owner, attribute)
    _ORIGINALS.append((owner, attribute, original))

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            _add(name, time.thread_time() - cpu, time.perf_counter() - wall)

    setattr(owner, attribute, timed)


def _recorded(_recorder: Any, event: Any) -> str:
    if event.event_type == EVENT_STATE_CHANGED:
        return f"record state_changed of {event.data['entity_id'].split('.')[0]}"
    return f"record {event.event_type}"


def _flatpeak_store(store: Any, *_args: Any) -> str | None:
    return "disk write (executor thread)" if store.key.startswith("flatpeak.") else None


def _flatpeak_json(data: Any, **_kwargs: Any) -> str | None:
    key = data.get("key", "") if isinstance(data, dict) else ""
    return "snapshot: JSON encoding" if key.startswith("flatpeak.") else None


def active() -> bool:
    """Whether the steps are being timed."""
    return bool(_ORIGINALS)


def install() -> None:
    """Start afresh and wrap the steps; the figures accumulate in TIMES."""
    uninstall()
    TIMES.clear()
    _async(flatpeak_webhook, "async_handle_delivery", "flatpeak handler (wall)")
    _async(flatpeak_webhook, "read_body", "body read")
    _async(flatpeak_webhook, "_check_signature", "signature check")
    _sync(flatpeak_webhook, "parse_event", "parse and validate")
    _sync(applied_events.EventLog, "__contains__", "de-dup: lookup")
    _sync(applied_events.EventLog, "record", "de-dup: record (all)")
    _sync(applied_events, "_write_all", "journal: write (event loop)")
    _async(confirmation.EventConfirmer, "async_confirm", "read-back (wall)")
    _sync(applier.EventApplier, "_apply", "dispatch (all)")
    _sync(applier.EventApplier, "_fire_bus_event", "dispatch: bus event")
    _sync(applier, "async_dispatcher_send", "dispatch: event entity state")
    _sync(problems.ProblemTracker, "async_raise", "dispatch: problem")
    _async(applied_events.EventLog, "_async_write_snapshot", "snapshot (wall)")
    _sync(applied_events.EventLog, "_compact", "journal: emptied after a snapshot")
    _sync(json_helper, "prepare_save_json", _flatpeak_json)
    _sync(storage.Store, "_write_prepared_data", _flatpeak_store)
    _sync(flatpeak_webhook, "_response", "response")
    _sync(recorder_core.Recorder, "_process_one_event", _recorded)


def uninstall() -> None:
    """Put the original functions back."""
    while _ORIGINALS:
        owner, attribute, original = _ORIGINALS.pop()
        setattr(owner, attribute, original)


def read() -> dict[str, list[float]]:
    """Stop timing and return the figures."""
    uninstall()
    return {name: list(values) for name, values in TIMES.items()}
