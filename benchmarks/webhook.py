"""Benchmark the webhook path of a real Home Assistant, and the integration's API use.

Run: `scripts/run python benchmarks/webhook.py` (add `--quick` for a short run; set
`FLATPEAK_BENCH_PROFILE=1` to also time the steps of one delivery at a time of each
kind inside Home Assistant).

Starts the Flatpeak simulator as its own process (signing with a key this script
generated, so that it can sign deliveries too) and a real `hass` with the integration
and two reference webhooks, registered the same way as Flatpeak's:

- do-nothing: parses the body and fires a one-field bus event;
- equal-effects: reads the body with the integration's own reader, fires
  `flatpeak_event` with a payload of the same keys and sizes and writes one event
  entity's state, as an applied Flatpeak delivery does, but verifies nothing, keeps no
  de-dup log and writes nothing to disk.

All three get the same bodies (signed `tariff.expiring` events, each a new event; or
the same unsigned). Rounds are interleaved (every webhook at every load level, the order
rotating) and the figures are medians over rounds, so a loaded machine shifts all three
alike. Printed: throughput (POST until every bus event arrived on the websocket), HTTP
answer times (POST until the response), statuses, CPU per delivery by thread of the
hass process, both ratios; then a flood of unsigned deliveries against the read-back
budget, a burst of 50 location.update events, set-up time and memory per location, and
fetches per location per day in steady state (simulated days).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass, field
import itertools
import json
import os
from pathlib import Path
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.flatpeak.const import EVENT_REFRESH_COOLDOWN
from custom_components.flatpeak.webhook.confirmation import (
    READ_BACK_REFILL_PER_LOCATION,
    READ_BACK_REFILL_TOTAL,
    READ_BACKS_PER_LOCATION,
    READ_BACKS_TOTAL,
)
from tests.e2e.harness import HomeAssistant, Process, Simulator, WebSocket
from tests.simulator.keys import SigningKey

BENCHMARKS = Path(__file__).resolve().parent
REFERENCES = BENCHMARKS / "reference_integrations"
NOOP_WEBHOOK_ID = "bench-noop"
REFERENCE_WEBHOOK_ID = "bench-reference"
PROFILE_WEBHOOK_ID = "bench-profile"
REFERENCE_ENTITY = "event.benchmark_reference_tariff_event"
PROFILE = bool(os.environ.get("FLATPEAK_BENCH_PROFILE"))
# The entry the webhook is measured on: enough locations to spread unsigned deliveries
# over, so the per-location read-back budget is not what limits them.
BENCH_ACCOUNT = "acc_bench9999000000000000000000"
BENCH_KEY = "sk_live_bench99990000000000000000"
BENCH_LOCATIONS = 20
# Unsigned deliveries per round: what the read-back budget refills between rounds.
UNSIGNED_PER_ROUND = 10
UNSIGNED_CONCURRENCY = 4
UNSIGNED_FLOOD = 100
FLATPEAK, NOOP, REFERENCE = "flatpeak", "do-nothing", "equal-effects"

type Body = tuple[str, bytes, dict[str, str]]


def _rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def _thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Return each thread's name and CPU seconds so far."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            # On-CPU nanoseconds (the scheduler's own count, finer than clock ticks).
            on_cpu = int((task / "schedstat").read_text().split()[0])
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        threads[int(task.name)] = (name, on_cpu / 1e9)
    return threads


def _cpu_by_group(
    pid: int, before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds spent between two readings: event loop, recorder, other threads."""
    groups = {"loop": 0.0, "recorder": 0.0, "other": 0.0}
    for tid, (name, seconds) in after.items():
        spent = seconds - before.get(tid, (name, 0.0))[1]
        if tid == pid:
            groups["loop"] += spent
        elif name == "Recorder":
            groups["recorder"] += spent
        else:
            groups["other"] += spent
    return groups


@dataclass
class Leg:
    """One burst of deliveries to one webhook."""

    webhook: str
    concurrency: int
    events: int
    seconds: float
    answer_seconds: list[float]
    statuses: Counter[int]
    cpu: dict[str, float]
    rss_mib: float

    @property
    def throughput(self) -> float:
        """Return deliveries per second."""
        return self.events / self.seconds

    def cpu_us_per_delivery(self, group: str) -> float:
        """Return CPU microseconds per delivery in one thread group."""
        return 1e6 * self.cpu[group] / self.events


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Bodies:
    """Deliveries as Flatpeak sends them: each a new event of a followed location."""

    def __init__(
        self,
        key: SigningKey,
        templates: dict[tuple[str, str], dict[str, Any]],
        simulator: Simulator,
    ) -> None:
        """Clone `templates`: events the simulator made, by type and location."""
        self._key = key
        self._templates = templates
        self._simulator = simulator
        # Ids of the simulator's shape, in a counter range the simulator never reaches.
        self._counter = itertools.count(1 << 62)

    def _clone(
        self, location_id: str, event_type: str = "tariff.expiring"
    ) -> dict[str, Any]:
        template = self._templates[event_type, location_id]
        event_id = f"evt_{int(time.time()):08x}{next(self._counter):016x}"
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {**template, "id": event_id, "time_created": created}

    def _signed(self, event: dict[str, Any]) -> Body:
        body = json.dumps(event).encode()
        timestamp = int(time.time())
        return (
            event["id"],
            body,
            {
                "Content-Type": "application/json",
                "Flatpeak-Signature": self._key.sign(timestamp, body),
                "Flatpeak-Signature-Scheme": "v1",
                "Flatpeak-Timestamp": str(timestamp),
                "Flatpeak-Key-ID": self._key.kid,
                "Flatpeak-Version": "2025-09-14.anode",
            },
        )

    @staticmethod
    def _unsigned(event: dict[str, Any]) -> Body:
        return (
            event["id"],
            json.dumps(event).encode(),
            {
                "Content-Type": "application/json",
                "Flatpeak-Version": "2025-09-14.anode",
            },
        )

    def signed(self, location_id: str, count: int) -> list[Body]:
        """Signed deliveries (with account_id and live_mode: applied at once)."""
        return [self._signed(self._clone(location_id)) for _ in range(count)]

    def location_updates(self, location_id: str, count: int) -> list[Body]:
        """Signed location.update deliveries (each triggers a refresh request)."""
        return [
            self._signed(self._clone(location_id, "location.update"))
            for _ in range(count)
        ]

    def unsigned_unknown(self, locations: list[str]) -> list[Body]:
        """Unsigned deliveries of the same shape, of events Flatpeak does not list."""
        return [self._unsigned(self._clone(location)) for location in locations]

    async def unsigned_real(self, locations: list[str]) -> list[Body]:
        """Unsigned deliveries of events the simulator lists (they pass the read-back)."""
        bodies = []
        for location in locations:
            event = await self._simulator.control(
                "event", {"type": "tariff.expiring", "location_id": location}
            )
            bodies.append(self._unsigned(event))
        return bodies


class ReadBackBudget:
    """The integration's read-back budget as seen from outside (its constants)."""

    def __init__(self, locations: list[str]) -> None:
        """Start full, as the entry's limiter did (earlier, so it is at least as full)."""
        now = time.monotonic()
        self._total = (float(READ_BACKS_TOTAL), now)
        self._per_location = {
            location: (float(READ_BACKS_PER_LOCATION), now) for location in locations
        }

    @staticmethod
    def _level(
        bucket: tuple[float, float], capacity: int, refill: float, now: float
    ) -> float:
        tokens, at = bucket
        return min(capacity, tokens + (now - at) / refill)

    def pick(self, count: int) -> list[str]:
        """Return the `count` locations with the most budget left."""
        now = time.monotonic()
        return sorted(
            self._per_location,
            key=lambda location: (
                -self._level(
                    self._per_location[location],
                    READ_BACKS_PER_LOCATION,
                    READ_BACK_REFILL_PER_LOCATION,
                    now,
                )
            ),
        )[:count]

    async def wait_full(self) -> float:
        """Wait until the total budget has refilled; return seconds waited."""
        started = time.monotonic()
        while (
            self._level(
                self._total, READ_BACKS_TOTAL, READ_BACK_REFILL_TOTAL, time.monotonic()
            )
            < READ_BACKS_TOTAL
        ):
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    async def wait_for(self, locations: list[str]) -> float:
        """Wait until one read-back for each location fits; return seconds waited."""
        started = time.monotonic()
        while True:
            now = time.monotonic()
            total = self._level(
                self._total, READ_BACKS_TOTAL, READ_BACK_REFILL_TOTAL, now
            )
            levels = [
                self._level(
                    self._per_location[location],
                    READ_BACKS_PER_LOCATION,
                    READ_BACK_REFILL_PER_LOCATION,
                    now,
                )
                for location in locations
            ]
            # A margin of one token for the clocks' and the requests' skew.
            if total >= len(locations) + 1 and min(levels) >= 2:
                break
            await asyncio.sleep(0.5)
        self._total = (total - len(locations), now)
        for location, level in zip(locations, levels, strict=True):
            self._per_location[location] = (level - 1, now)
        return time.monotonic() - started


@dataclass
class Target:
    """A webhook under test and the bus event that shows a delivery was applied."""

    name: str
    url: str
    bus_event: str


async def _deliver(
    hass: HomeAssistant,
    session: aiohttp.ClientSession,
    target: Target,
    bodies: list[Body],
    concurrency: int,
) -> Leg:
    """POST every body with `concurrency` in flight; wait for the bus events of the 200s."""
    pid = hass.process.popen.pid  # type: ignore[union-attr]
    answered: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    applied: set[str] = set()
    arrived: set[str] = set()
    changed = asyncio.Event()
    async with hass.websocket() as ws:
        await ws.subscribe(target.bus_event)

        async def collect() -> None:
            while True:
                event = await ws.events.get()
                arrived.add(event["data"]["event_id"])
                changed.set()

        collector = asyncio.create_task(collect())
        semaphore = asyncio.Semaphore(concurrency)

        async def post(event_id: str, body: bytes, headers: dict[str, str]) -> None:
            async with semaphore:
                posted = time.perf_counter()
                async with session.post(
                    target.url, data=body, headers=headers
                ) as response:
                    answered[event_id] = time.perf_counter() - posted
                    statuses[response.status] += 1
                    text = await response.text()
                if response.status == 200 and (
                    not text or json.loads(text).get("message") == "applied"
                ):
                    applied.add(event_id)

        await _recorder_idle(ws)
        cpu_before = _thread_cpu(pid)
        started = time.perf_counter()
        await asyncio.gather(*(post(*item) for item in bodies))
        async with asyncio.timeout(60):
            while not applied <= arrived:
                changed.clear()
                await changed.wait()
        seconds = time.perf_counter() - started
        cpu_after = _thread_cpu(pid)
        # The recorder writes behind: its share is counted until it caught up.
        await _recorder_idle(ws)
        cpu = _cpu_by_group(pid, cpu_before, cpu_after)
        cpu["recorder"] = _cpu_by_group(pid, cpu_before, _thread_cpu(pid))["recorder"]
        collector.cancel()
        await ws.close()
    return Leg(
        webhook=target.name,
        concurrency=concurrency,
        events=len(bodies),
        seconds=seconds,
        answer_seconds=list(answered.values()),
        statuses=statuses,
        cpu=cpu,
        rss_mib=_rss_mib(pid),
    )


async def _recorder_idle(ws: WebSocket) -> None:
    """Wait until the recorder has written everything queued so far."""
    async with asyncio.timeout(120):
        while (await ws.command("recorder/info"))["backlog"]:
            await asyncio.sleep(0.05)


@dataclass
class Results:
    """Legs by (kind, concurrency, webhook), in round order."""

    legs: dict[tuple[str, int, str], list[Leg]] = field(default_factory=dict)

    def add(self, kind: str, leg: Leg) -> None:
        """Keep a leg."""
        self.legs.setdefault((kind, leg.concurrency, leg.webhook), []).append(leg)

    def ratios(self, kind: str, concurrency: int, baseline: str) -> list[float]:
        """Return Flatpeak's throughput over the baseline's, per round."""
        return [
            ours.throughput / base.throughput
            for ours, base in zip(
                self.legs[kind, concurrency, FLATPEAK],
                self.legs[kind, concurrency, baseline],
                strict=True,
            )
        ]


def _format_statuses(statuses: Counter[int]) -> str:
    return " ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))


def _statuses(legs: list[Leg]) -> str:
    total: Counter[int] = Counter()
    for leg in legs:
        total.update(leg.statuses)
    return _format_statuses(total)


def _print_table(results: Results, kind: str, levels: list[int]) -> None:
    print(
        "| concurrency | webhook | events/s (median) | answer p50 ms | answer p99 ms "
        "| answer max ms | statuses | CPU µs/delivery: loop / recorder / other "
        "| hass RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for concurrency in levels:
        for webhook in (FLATPEAK, REFERENCE, NOOP):
            legs = results.legs[kind, concurrency, webhook]
            answers = [1000 * s for leg in legs for s in leg.answer_seconds]
            cpu = " / ".join(
                f"{statistics.median(leg.cpu_us_per_delivery(group) for leg in legs):.0f}"
                for group in ("loop", "recorder", "other")
            )
            print(
                f"| {concurrency} | {webhook} "
                f"| {statistics.median(leg.throughput for leg in legs):.0f} "
                f"| {_percentile(answers, 0.5):.1f} | {_percentile(answers, 0.99):.1f} "
                f"| {max(answers):.1f} | {_statuses(legs)} | {cpu} "
                f"| {legs[-1].rss_mib:.0f} |"
            )


def _print_ratios(results: Results, kind: str, levels: list[int]) -> None:
    for baseline, target in ((NOOP, 0.6), (REFERENCE, 0.9)):
        per_level = {c: results.ratios(kind, c, baseline) for c in levels}
        medians = {c: statistics.median(r) for c, r in per_level.items()}
        everything = [r for rs in per_level.values() for r in rs]
        print(
            f"{kind}: throughput flatpeak / {baseline} (median of rounds) "
            + ", ".join(f"c={c}: {m:.2f}" for c, m in medians.items())
            + f"; all rounds {min(everything):.2f}-{max(everything):.2f}; "
            f"median {statistics.median(everything):.2f} (target >= {target})"
        )


async def _webhook_benchmark(
    hass: HomeAssistant,
    bodies: Bodies,
    *,
    targets: dict[str, Target],
    locations: list[str],
    levels: list[int],
    per_level: int,
    rounds: int,
) -> ReadBackBudget:
    budget = ReadBackBudget(locations)
    results = Results()
    signed_location = locations[0]
    order = [FLATPEAK, REFERENCE, NOOP]
    waited = 0.0
    async with aiohttp.ClientSession() as session:
        # Warm up every path (JWKS fetch, first-use imports, connections).
        for name in order:
            await _deliver(
                hass, session, targets[name], bodies.signed(signed_location, 20), 4
            )
        for round_number in range(rounds):
            rotation = order[round_number % 3 :] + order[: round_number % 3]
            for concurrency in levels:
                for name in rotation:
                    leg = await _deliver(
                        hass,
                        session,
                        targets[name],
                        bodies.signed(signed_location, per_level),
                        concurrency,
                    )
                    results.add("signed", leg)
            chosen = budget.pick(UNSIGNED_PER_ROUND)
            waited += await budget.wait_for(chosen)
            for name in rotation:
                batch = (
                    await bodies.unsigned_real(chosen)
                    if name == FLATPEAK
                    else bodies.unsigned_unknown(chosen)
                )
                leg = await _deliver(
                    hass, session, targets[name], batch, UNSIGNED_CONCURRENCY
                )
                results.add("unsigned", leg)
    print(
        f"\n## Signed deliveries ({rounds} rounds x {per_level} per webhook and level)"
    )
    print(
        "Signed, with account_id and live_mode: applied at once, no read-back. "
        "Throughput: POST of the first until every applied delivery's bus event "
        "arrived on the websocket. Answer: POST until the HTTP response."
    )
    _print_table(results, "signed", levels)
    print(
        f"\n## Unsigned deliveries ({rounds} rounds x {UNSIGNED_PER_ROUND} per webhook,"
        f" concurrency {UNSIGNED_CONCURRENCY})"
    )
    print(
        "Each unsigned Flatpeak delivery is read back from the simulator (its own "
        "process, loopback) before it applies. Kept within the read-back budget "
        f"({READ_BACKS_PER_LOCATION} per location then 1 per "
        f"{READ_BACK_REFILL_PER_LOCATION:g} s, {READ_BACKS_TOTAL} in total then 1 per "
        f"{READ_BACK_REFILL_TOTAL:g} s): one per location, {UNSIGNED_PER_ROUND} "
        f"locations a round, waiting for the budget to refill ({waited:.0f} s in all). "
        "The references get the same bodies, unsigned."
    )
    _print_table(results, "unsigned", [UNSIGNED_CONCURRENCY])
    print("\n## Ratios")
    _print_ratios(results, "signed", levels)
    _print_ratios(results, "unsigned", [UNSIGNED_CONCURRENCY])
    for kind, kind_levels in (("signed", levels), ("unsigned", [UNSIGNED_CONCURRENCY])):
        answers = [
            1000 * s
            for c in kind_levels
            for leg in results.legs[kind, c, FLATPEAK]
            for s in leg.answer_seconds
        ]
        print(
            f"{kind}: flatpeak HTTP answer time over every round and level: "
            f"p99 {_percentile(answers, 0.99):.1f} ms, max {max(answers):.1f} ms "
            "(Flatpeak's timeout: 10000 ms)"
        )
    return budget


PROFILED_DELIVERIES = 300


async def _profiled(
    hass: HomeAssistant,
    session: aiohttp.ClientSession,
    target: Target,
    bodies: list[Body],
) -> tuple[dict[str, list[float]], Leg]:
    """Deliver one at a time with the step timers on; return their figures."""
    control = f"{hass.url}/api/webhook/{PROFILE_WEBHOOK_ID}"
    async with session.post(control, json={"action": "start"}) as response:
        response.raise_for_status()
    leg = await _deliver(hass, session, target, bodies, 1)
    async with session.post(control, json={"action": "read"}) as response:
        response.raise_for_status()
        times: dict[str, list[float]] = await response.json()
    return times, leg


async def _profile(
    hass: HomeAssistant,
    bodies: Bodies,
    targets: dict[str, Target],
    budget: ReadBackBudget,
) -> None:
    """Where one delivery's time goes: its steps timed inside Home Assistant."""
    async with aiohttp.ClientSession() as session:
        chosen = budget.pick(UNSIGNED_PER_ROUND)
        await budget.wait_for(chosen)
        profiles = {
            "flatpeak, unsigned": await _profiled(
                hass, session, targets[FLATPEAK], await bodies.unsigned_real(chosen)
            )
        }
        location = budget.pick(1)[0]
        for name in (FLATPEAK, REFERENCE, NOOP):
            profiles[f"{name}, signed" if name == FLATPEAK else name] = await _profiled(
                hass,
                session,
                targets[name],
                bodies.signed(location, PROFILED_DELIVERIES),
            )
    print(
        "\n## Profile: one delivery at a time, steps timed inside Home Assistant "
        "(FLATPEAK_BENCH_PROFILE)"
    )
    print(
        "µs per delivery. CPU: the thread's CPU time in the step; wall: elapsed, for "
        "steps that wait on the executor or the network. Thread totals from the "
        "kernel's per-thread counters over the same deliveries."
    )
    for name, (times, leg) in profiles.items():
        print(
            f"\n### {name}: {leg.events} deliveries ({_statuses([leg])}); threads: "
            + ", ".join(
                f"{group} {leg.cpu_us_per_delivery(group):.0f}"
                for group in ("loop", "recorder", "other")
            )
            + " µs CPU per delivery"
        )
        print("| step | calls per delivery | CPU µs | wall µs |")
        print("|---|---|---|---|")
        for step, (calls, cpu, wall) in sorted(times.items()):
            # Across an await the thread's CPU includes other work done meanwhile.
            cpu_text = "-" if "(wall)" in step else f"{1e6 * cpu / leg.events:.0f}"
            print(
                f"| {step} | {calls / leg.events:.2f} | {cpu_text} "
                f"| {1e6 * wall / leg.events:.0f} |"
            )


async def _flood(
    hass: HomeAssistant,
    bodies: Bodies,
    target: Target,
    locations: list[str],
    budget: ReadBackBudget,
) -> None:
    """Unsigned deliveries far beyond the read-back budget, counted by status."""
    waited = await budget.wait_full()
    batch = await bodies.unsigned_real(
        [locations[i % len(locations)] for i in range(UNSIGNED_FLOOD)]
    )
    async with aiohttp.ClientSession() as session:
        leg = await _deliver(hass, session, target, batch, 16)
    answers = [1000 * s for s in leg.answer_seconds]
    print(
        f"\n## Unsigned flood: {UNSIGNED_FLOOD} at concurrency 16 over "
        f"{len(locations)} locations, after {waited:.0f} s for the total budget to refill"
    )
    print(
        f"statuses: {_statuses([leg])} (503 + Retry-After once the read-back budget "
        f"is spent); answer p99 {_percentile(answers, 0.99):.1f} ms, "
        f"max {max(answers):.1f} ms"
    )


async def _burst(
    bodies: Bodies, simulator: Simulator, webhook_url: str, location: str
) -> None:
    before = (await simulator.control("calls"))["locations"].get("prices", {})
    statuses: Counter[int] = Counter()
    batch = bodies.location_updates(location, 50)
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()

        async def post(body: bytes, headers: dict[str, str]) -> None:
            async with session.post(webhook_url, data=body, headers=headers) as answer:
                statuses[answer.status] += 1

        await asyncio.gather(*(post(body, headers) for _, body, headers in batch))
        burst_seconds = time.perf_counter() - started
    await asyncio.sleep(12)  # let the refresh the burst triggered finish
    after = (await simulator.control("calls"))["locations"].get("prices", {})
    fetches = after.get(location, 0) - before.get(location, 0)
    print("\n## Burst of 50 signed location.update events for one location")
    print(
        f"delivered in {burst_seconds * 1000:.0f} ms ({_format_statuses(statuses)}); "
        f"price fetches for the location within 12 s: {fetches} (one more may follow "
        f"at the end of the {EVENT_REFRESH_COOLDOWN.total_seconds() / 60:g}-minute "
        "cooldown; not waited for)"
    )


async def _setup_times(hass: HomeAssistant, simulator: Simulator) -> None:
    print("\n## Set-up time and memory per location")
    pid = hass.process.popen.pid  # type: ignore[union-attr]
    # 200 locations lift the memory a location costs above the process's RSS noise.
    for count in (1, 50, 200):
        account = f"acc_bench{count:04d}000000000000000000"
        key = f"sk_live_bench{count:04d}0000000000000000"
        await simulator.control(
            "account", {"account_id": account, "api_keys": [key], "count": count}
        )
        rss_before = _rss_mib(pid)
        started = time.perf_counter()
        result = await hass.add_flatpeak_entry(
            simulator.url, account_id=account, api_key=key
        )
        seconds = time.perf_counter() - started
        entries = await hass.request("GET", "/api/config/config_entries/entry")
        loaded = next(
            e["state"] for e in entries if e["entry_id"] == result["result"]["entry_id"]
        )
        await asyncio.sleep(2)  # let start-up work (catch-up, first writes) settle
        rss_delta = _rss_mib(pid) - rss_before
        print(
            f"{count} location(s): set-up {seconds * 1000:.0f} ms ({loaded}), "
            f"RSS +{rss_delta:.1f} MiB = {1024 * rss_delta / count:.0f} KiB per location"
        )


def _steady_state() -> None:
    print("\n## Steady state (two simulated days, in-process Home Assistant)")
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--no-cov",
            "-q",
            "-s",
            "tests/test_steady_state.py",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    for line in output.splitlines():
        if line.startswith("steady state:"):
            print(line + " (slot rollovers: 0 fetches)")
            return
    print("steady-state run failed:\n" + output[-2000:])


async def _wait_for_references(hass: HomeAssistant) -> None:
    """Wait until Home Assistant has set both reference integrations up."""
    wanted = {NOOP_WEBHOOK_ID, REFERENCE_WEBHOOK_ID}
    async with hass.websocket() as ws:
        async with asyncio.timeout(120):
            while not wanted <= {
                hook["webhook_id"] for hook in await ws.command("webhook/list")
            }:
                await asyncio.sleep(0.5)
        await ws.close()
    await hass.wait_for_state(REFERENCE_ENTITY, lambda _state: True, timeout=120)


def _start_simulator(work: Path, key: SigningKey) -> Simulator:
    key_file = work / "signing-key.pem"
    key_file.write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    simulator = Simulator(work)
    simulator.process = Process(
        [
            sys.executable,
            str(BENCHMARKS / "simulator_process.py"),
            "--port",
            str(simulator.port),
            "--key-file",
            str(key_file),
            "--kid",
            key.kid,
        ],
        work / "simulator.log",
    )
    return simulator


def _install_references(config: Path) -> None:
    for name in ("bench_noop", "bench_reference"):
        shutil.copytree(
            REFERENCES / name,
            config / "custom_components" / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )


async def main(quick: bool) -> None:
    """Run every benchmark and print the figures."""
    levels = [1, 16] if quick else [1, 4, 16, 64]
    per_level = 100 if quick else 400
    rounds = 2 if quick else 5
    key = SigningKey.generate()
    with tempfile.TemporaryDirectory(prefix="flatpeak-bench-") as work_dir:
        work = Path(work_dir)
        config = work / "config"
        simulator = _start_simulator(work, key)
        await simulator.start()
        hass = HomeAssistant(config, extra_config="\nbench_noop:\nbench_reference:\n")
        hass.prepare()
        _install_references(config)
        try:
            started = time.perf_counter()
            await hass.start()
            await hass.onboard()
            print(f"# Flatpeak webhook benchmark ({os.cpu_count()} CPUs)")
            print(
                f"Home Assistant up and onboarded in {time.perf_counter() - started:.1f} s"
            )
            await _wait_for_references(hass)
            seeded = await simulator.control(
                "account",
                {
                    "account_id": BENCH_ACCOUNT,
                    "api_keys": [BENCH_KEY],
                    "count": BENCH_LOCATIONS,
                },
            )
            locations: list[str] = seeded["location_ids"]
            entry = await hass.add_flatpeak_entry(
                simulator.url, account_id=BENCH_ACCOUNT, api_key=BENCH_KEY
            )
            webhook_url = entry["description_placeholders"]["webhook_url"]
            templates = {
                (kind, location): await simulator.control(
                    "event", {"type": kind, "location_id": location}
                )
                for location in locations
                for kind in ("tariff.expiring", "location.update")
            }
            bodies = Bodies(key, templates, simulator)
            targets = {
                FLATPEAK: Target(FLATPEAK, webhook_url, "flatpeak_event"),
                REFERENCE: Target(
                    REFERENCE,
                    f"{hass.url}/api/webhook/{REFERENCE_WEBHOOK_ID}",
                    "flatpeak_event",
                ),
                NOOP: Target(
                    NOOP,
                    f"{hass.url}/api/webhook/{NOOP_WEBHOOK_ID}",
                    "bench_noop_event",
                ),
            }
            budget = await _webhook_benchmark(
                hass,
                bodies,
                targets=targets,
                locations=locations,
                levels=levels,
                per_level=per_level,
                rounds=rounds,
            )
            await _burst(bodies, simulator, webhook_url, locations[-1])
            if PROFILE:
                await _profile(hass, bodies, targets, budget)
            await _flood(hass, bodies, targets[FLATPEAK], locations, budget)
            await _setup_times(hass, simulator)
        finally:
            await hass.close()
            await simulator.stop()
    _steady_state()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and events")
    asyncio.run(main(parser.parse_args().quick))
