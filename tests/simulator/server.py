"""Run the simulator on real sockets: the API and, on a second port, Connect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from .app import DISPATCHER_KEY, create_app
from .connect_app import create_connect_app
from .state import SimulatorState

if TYPE_CHECKING:
    from types import TracebackType

    from .sender import Dispatcher

# Short, so closing never waits long for a request stuck in an injected delay.
_SHUTDOWN_TIMEOUT = 0.5


@dataclass(slots=True)
class RunningSimulator:
    """A simulator: the API at `url`, Connect at `connect_url`; close it when done."""

    url: str
    state: SimulatorState
    runner: web.AppRunner
    connect_url: str
    connect_runner: web.AppRunner
    dispatcher: Dispatcher

    async def close(self) -> None:
        """Stop listening and release the applications."""
        await self.connect_runner.cleanup()
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


async def _serve(
    app: web.Application, host: str, port: int, *, access_log: bool
) -> tuple[web.AppRunner, str]:
    """Serve an application; return its runner and URL."""
    # Cancelling handlers on disconnect lets a client that timed out end a delay fault.
    options: dict[str, Any] = {} if access_log else {"access_log": None}
    runner = web.AppRunner(
        app,
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
    return runner, f"http://{url_host}:{bound_port}"


async def start_simulator(
    state: SimulatorState | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    connect_port: int = 0,
    access_log: bool = False,
) -> RunningSimulator:
    """Start serving a state (a fresh one if None); port 0 picks a free port."""
    state = state or SimulatorState()
    api = create_app(state)
    dispatcher = api[DISPATCHER_KEY]
    runner, url = await _serve(api, host, port, access_log=access_log)
    try:
        connect_runner, connect_url = await _serve(
            create_connect_app(state, dispatcher),
            host,
            connect_port,
            access_log=access_log,
        )
    except BaseException:
        await runner.cleanup()
        raise
    # The login pages' redirect_url points at this server.
    state.connect.base_url = connect_url
    return RunningSimulator(url, state, runner, connect_url, connect_runner, dispatcher)
