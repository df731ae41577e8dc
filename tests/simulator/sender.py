"""Deliver events to a webhook URL the way Flatpeak does: signed, with retries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import json
from typing import TYPE_CHECKING, Any

import aiohttp

from .state import API_VERSION, SimulatorState, WebhookConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from .keys import SigningKey

#: Flatpeak's documented delays before each attempt: now, 30 s, 1 h, 6 h, 12 h, 24 h.
FLATPEAK_RETRY_SCHEDULE: tuple[float, ...] = (0, 30, 3600, 21600, 43200, 86400)
#: Flatpeak counts an attempt as failed after waiting this long for an answer.
FLATPEAK_TIMEOUT = 10.0


@dataclass(slots=True)
class DeliveryResult:
    """What happened to one event: each attempt's status (or error name)."""

    attempts: list[int | str] = field(default_factory=list)
    delivered: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {"attempts": list(self.attempts), "delivered": self.delivered}


class WebhookSender:
    """POST events to a URL with Flatpeak's headers, signature and retry schedule."""

    def __init__(
        self,
        state: SimulatorState,
        session: aiohttp.ClientSession,
        *,
        schedule: Sequence[float] = FLATPEAK_RETRY_SCHEDULE,
        time_scale: float = 1.0,
        timeout: float = FLATPEAK_TIMEOUT,
        sign: bool = True,
        resign_retries: bool = True,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Set up delivery; `time_scale` compresses the retry delays.

        With `resign_retries` False every attempt repeats the signature and
        `Flatpeak-Timestamp` of the first one, so a receiver's replay window can be
        tested against retries that arrive hours later with an old timestamp.
        """
        if not schedule:
            raise ValueError("schedule needs at least one delay")
        self.state = state
        self.session = session
        self.schedule = tuple(schedule)
        self.time_scale = time_scale
        self.timeout = timeout
        self.sign = sign
        self.resign_retries = resign_retries
        self._sleep = sleep

    def headers(
        self,
        body: bytes,
        *,
        sign: bool | None = None,
        key: SigningKey | None = None,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        """Return the headers for one attempt (signed now unless told otherwise)."""
        headers = {
            "Content-Type": "application/json",
            "Flatpeak-Version": API_VERSION,
            "Flatpeak-Signature-Scheme": "v1",
        }
        if not (self.sign if sign is None else sign):
            # What Flatpeak sends when signing is unavailable.
            headers["Flatpeak-Signature"] = "none"
            return headers
        key = key or self.state.signing_key
        when = int(self.state.now().timestamp()) if timestamp is None else timestamp
        headers["Flatpeak-Signature"] = key.sign(when, body)
        headers["Flatpeak-Timestamp"] = str(when)
        headers["Flatpeak-Key-ID"] = key.kid
        return headers

    async def deliver(
        self,
        url: str,
        event: dict[str, Any],
        *,
        sign: bool | None = None,
        key: SigningKey | None = None,
        timestamp: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> DeliveryResult:
        """Deliver one event, retrying on non-2xx, timeouts and connection errors."""
        # Serialised once: the signature covers these exact bytes on every attempt.
        body = json.dumps(event).encode()
        result = DeliveryResult()
        client_timeout = aiohttp.ClientTimeout(total=self.timeout)
        first_headers: dict[str, str] | None = None
        for delay in self.schedule:
            if delay:
                await self._sleep(delay * self.time_scale)
            if first_headers is None or self.resign_retries:
                # Re-signed per attempt by default: a retry hours later needs a fresh
                # timestamp.
                first_headers = self.headers(
                    body, sign=sign, key=key, timestamp=timestamp
                )
            headers = dict(first_headers)
            headers.update(extra_headers or {})
            try:
                async with self.session.post(
                    url, data=body, headers=headers, timeout=client_timeout
                ) as response:
                    await response.read()
                    status = response.status
            except TimeoutError:
                result.attempts.append("timeout")
                continue
            except aiohttp.ClientError as err:
                result.attempts.append(type(err).__name__)
                continue
            result.attempts.append(status)
            if 200 <= status < 300:
                result.delivered = True
                break
        return result

    async def deliver_many(
        self, url: str, events: Iterable[dict[str, Any]], **kwargs: Any
    ) -> list[DeliveryResult]:
        """Deliver several events concurrently, as a burst from Flatpeak would arrive."""
        return list(
            await asyncio.gather(
                *(self.deliver(url, event, **kwargs) for event in events)
            )
        )


class Dispatcher:
    """Deliver the events the simulator creates by itself to the configured webhook.

    Connect's `connect_session.complete` is made by a session, not by a test; when
    `state.webhook` is set it goes out in the background like Flatpeak's would, and
    each result is appended to `state.deliveries`.
    """

    def __init__(self, state: SimulatorState) -> None:
        """Serve one state; the HTTP session is made on first delivery."""
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def publish(self, events: Iterable[dict[str, Any]]) -> None:
        """Start delivering events (no-op without a configured webhook)."""
        config = self.state.webhook
        if config is None:
            return
        for event in events:
            task = asyncio.get_running_loop().create_task(self._deliver(config, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, config: WebhookConfig, event: dict[str, Any]) -> None:
        """Deliver one event and record the outcome."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        sender = WebhookSender(
            self.state,
            self._session,
            schedule=config.schedule or FLATPEAK_RETRY_SCHEDULE,
            time_scale=config.time_scale,
            timeout=config.timeout or FLATPEAK_TIMEOUT,
            sign=config.sign,
            resign_retries=config.resign_retries,
        )
        result = await sender.deliver(config.url, event)
        self.state.deliveries.append(
            {"event_id": event["id"], "type": event["type"], **result.as_dict()}
        )

    async def idle(self) -> None:
        """Wait until every started delivery has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self, _app: object = None) -> None:
        """Stop deliveries in flight and close the HTTP session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
