"""Command line: `python -m tests.simulator [serve|send] …`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING

import aiohttp

from .demo import seed_demo
from .sender import FLATPEAK_RETRY_SCHEDULE
from .server import start_simulator
from .state import SimulatorState

if TYPE_CHECKING:
    from collections.abc import Sequence

_COMMANDS = ("serve", "send")


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.simulator",
        description="Local Flatpeak API simulator and webhook sender.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (the default command)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--connect-port",
        type=int,
        default=None,
        help="port of the Connect API (default: the next port; any free one with --port 0)",
    )
    serve.add_argument(
        "--no-demo", action="store_true", help="start empty, without the demo account"
    )
    send = commands.add_parser(
        "send", help="create an event in a running simulator and deliver it"
    )
    send.add_argument("type", help="event type, e.g. tariff.expired or location.update")
    send.add_argument("--url", required=True, help="the webhook URL to deliver to")
    send.add_argument("--location", required=True, help="the location id (loc_…)")
    send.add_argument("--simulator", default="http://127.0.0.1:8765")
    send.add_argument(
        "--unsigned", action="store_true", help="send `Flatpeak-Signature: none`"
    )
    send.add_argument(
        "--no-resign-retries",
        action="store_true",
        help="send every retry with the signature and timestamp of the first attempt",
    )
    send.add_argument(
        "--time-scale",
        type=float,
        default=1 / 3600,
        help="multiplier for Flatpeak's retry delays (default: one hour takes a second)",
    )
    send.add_argument(
        "--attempts", type=int, default=6, help="attempts before giving up (1-6)"
    )
    send.add_argument(
        "--keep-status",
        action="store_true",
        help="leave the location's status as it is (by default a tariff.* event also "
        "shows in it, as Flatpeak's status does)",
    )
    return parser


async def _serve(args: argparse.Namespace) -> int:
    """Run the simulator until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    state = SimulatorState()
    demo = None if args.no_demo else seed_demo(state)
    connect_port = args.connect_port
    if connect_port is None:
        connect_port = args.port + 1 if args.port else 0
    simulator = await start_simulator(
        state, args.host, args.port, connect_port=connect_port, access_log=True
    )
    print(f"Flatpeak simulator listening on {simulator.url}")
    print(f"Flatpeak Connect API listening on {simulator.connect_url}")
    if demo is not None:
        print(f"  account id     {demo.account_id}")
        print(f"  live API key   {demo.live_key}")
        print(f"  test API key   {demo.test_key}")
        print(f"  locations      {demo.home_location_id} (Home, import)")
        print(
            f"                 {demo.workshop_location_id} (Workshop, import + export)"
        )
        print(f"                 {demo.test_location_id} (Test Home, test mode)")
        print(
            f"  Connect        {demo.connect.direct_id} (Octopus Energy, DIRECT: "
            f"{demo.connect.direct_username} / {demo.connect.direct_password})"
        )
        print(f"                 {demo.connect.library_id} (British Gas, library)")
        print(f"                 {demo.connect.manual_id} (EDF Energy, by hand)")
    print("Press Ctrl+C to stop.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows; Ctrl+C then ends asyncio.run instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.close()
    return 0


async def _send(args: argparse.Namespace) -> int:
    """Ask a running simulator to create an event and deliver it."""
    attempts = max(1, min(args.attempts, len(FLATPEAK_RETRY_SCHEDULE)))
    payload = {
        "type": args.type,
        "location_id": args.location,
        "url": args.url,
        "signed": not args.unsigned,
        "resign_retries": not args.no_resign_retries,
        "time_scale": args.time_scale,
        "schedule": list(FLATPEAK_RETRY_SCHEDULE[:attempts]),
        "reflect_status": not args.keep_status,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{args.simulator.rstrip('/')}/_sim/send",
            json=payload,
            timeout=aiohttp.ClientTimeout(total=None),
        ) as response,
    ):
        answer = await response.json()
    print(json.dumps(answer, indent=2))
    if response.status != 200:
        return 2
    return 0 if answer["result"]["delivered"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; `serve` when none is given."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in (*_COMMANDS, "-h", "--help"):
        arguments.insert(0, "serve")
    args = _parser().parse_args(arguments)
    runner = _send if args.command == "send" else _serve
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(runner(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
