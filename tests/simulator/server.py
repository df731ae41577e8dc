"""Run the simulator on a real socket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from .app import create_app
from .state import SimulatorState

if TYPE_CHECKING:
    from types import TracebackType

# Short, so closing never waits long for a request stuck in an injected delay.
_SHUTDOWN_TIMEOUT = 0.5


@dataclass(slots=True)
class RunningSimulator:
    """A simulator listening on `url`; close it (or use `async with`) when done."""

    url: str
    state: SimulatorState
    runner: web.AppRunner

    async def close(self) -> None:
        """Stop listening and release the application."""
        await self.runner.cleanup()

    async def __aenter__(self) -> Self:
        """Return the running simulator."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close on leaving the block."""
        await self.close()


async def start_simulator(
    state: SimulatorState | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    access_log: bool = False,
) -> RunningSimulator:
    """Start serving a state (a fresh one if None); port 0 picks a free port."""
    state = state or SimulatorState()
    # Cancelling handlers on disconnect lets a client that timed out end a delay fault.
    options: dict[str, Any] = {} if access_log else {"access_log": None}
    runner = web.AppRunner(
        create_app(state),
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
        **options,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    url_host = f"[{host}]" if ":" in host else host
    return RunningSimulator(f"http://{url_host}:{bound_port}", state, runner)
