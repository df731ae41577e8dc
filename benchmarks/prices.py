"""Benchmark what the price series cost: memory per location and attribute size.

Run: `scripts/run python benchmarks/prices.py` (add `--locations N`, default 200).

For each tariff shape (30-minute and 15-minute slots, today's and tomorrow's prices known)
a fresh `hass` is started against the Flatpeak simulator and one entry with N such
locations is added. Printed per shape: the process's RSS growth per location once set-up
has settled, and the serialized size of one current-price state's attributes (compact
JSON, as Home Assistant sends a state to a dashboard) with the share of each attribute.
The options are the defaults, so the series are on the default grid. Then
`benchmarks/memory_probe.py` breaks one location's memory down by who holds it, in an
in-process Home Assistant (RSS also counts allocator overhead and set-up peaks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
import re
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import HomeAssistant
from tests.simulator import SimulatorState, start_simulator

if TYPE_CHECKING:
    from datetime import datetime

ACCOUNT = "acc_bench00000000000000000000"
KEY = "sk_live_bench000000000000000000"
SETTLE_SECONDS = 5.0


def _rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def _price(start: datetime) -> tuple[float, float]:
    """Return a day-ahead-like price: four decimals, different in every slot."""
    minute = int(start.timestamp()) // 60
    return round(0.12 + (minute * 7919 % 2311) / 10000, 4), 1.0


def _compact(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


async def _measure(slot_minutes: int, locations: int) -> None:
    state = SimulatorState()
    state.add_account(ACCOUNT, [KEY])
    for index in range(locations):
        location = state.add_location(ACCOUNT, reference_id=f"Bench {index}")
        state.set_status(location["id"])
        state.set_price_pattern(location["id"], _price, slot_minutes=slot_minutes)
    with tempfile.TemporaryDirectory(prefix="flatpeak-bench-") as work:
        async with await start_simulator(state) as simulator:
            hass = HomeAssistant(Path(work) / "config")
            try:
                await hass.start()
                await hass.onboard()
                pid = hass.process.popen.pid  # type: ignore[union-attr]
                await asyncio.sleep(SETTLE_SECONDS)
                before = _rss_kib(pid)
                started = time.perf_counter()
                await hass.add_flatpeak_entry(
                    simulator.url, account_id=ACCOUNT, api_key=KEY
                )
                seconds = time.perf_counter() - started
                await asyncio.sleep(SETTLE_SECONDS)
                grown = _rss_kib(pid) - before
                current = await hass.state("sensor.bench_0_current_price")
            finally:
                await hass.close()
    assert current is not None
    attributes = current["attributes"]
    parts = ", ".join(
        f"{name} {_compact(value) / 1024:.1f}"
        for name, value in attributes.items()
        if isinstance(value, list)
    )
    print(
        f"| {slot_minutes}-minute | {locations} | {seconds:.1f} s | "
        f"{grown / locations:.0f} KiB | {_compact(attributes) / 1024:.1f} KiB "
        f"({parts}) |"
    )


def _breakdown(slot_minutes: int) -> None:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:logging",
            "--no-cov",
            "-q",
            "-s",
            "benchmarks/memory_probe.py",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "FLATPEAK_PROBE_SLOT_MINUTES": str(slot_minutes)},
    ).stdout
    lines = [line for line in output.splitlines() if line.startswith("memory probe:")]
    print("\n".join(lines) if lines else "memory probe failed:\n" + output[-2000:])


async def main(locations: int) -> None:
    """Measure both tariff shapes and print one table."""
    print("# Price series: memory per location and current-price attribute size")
    print(
        "| tariff slots | locations | set-up | RSS per location "
        "| attributes of one current-price state (KiB per series) |"
    )
    print("|---|---|---|---|---|")
    for slot_minutes in (30, 15):
        await _measure(slot_minutes, locations)
    print("targets: <= 100 KiB per location, <= 24 KiB of attributes per state")
    print("\n## Python heap per location, by holder")
    for slot_minutes in (30, 15):
        _breakdown(slot_minutes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=200)
    asyncio.run(main(parser.parse_args().locations))
