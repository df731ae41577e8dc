"""The Flatpeak simulator as its own process, signing with a key the benchmark gave it.

Run by `benchmarks/webhook.py`: `python benchmarks/simulator_process.py --port N
--key-file KEY.pem --kid KID`. A separate process, so that the read-backs of unsigned
deliveries cross loopback to a server that does not share the load generator's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
import signal
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.simulator import SimulatorState, seed_demo, start_simulator
from tests.simulator.keys import SigningKey


async def _serve(port: int, key_pem: bytes, kid: str) -> None:
    private_key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    state = SimulatorState()
    seed_demo(state)
    state.signing_keys = [SigningKey(private_key, kid)]
    simulator = await start_simulator(state, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    print(f"simulator at {simulator.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key-file", type=Path, required=True)
    parser.add_argument("--kid", required=True)
    arguments = parser.parse_args()
    asyncio.run(_serve(arguments.port, arguments.key_file.read_bytes(), arguments.kid))
