"""The one place the client package talks HTTP and turns transport failures into its own."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from .exceptions import FlatpeakConnectionError, FlatpeakTimeoutError

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What came back, before anything is read from it."""

    status: int
    body: bytes
    headers: Mapping[str, str]


async def send_request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout: float,  # noqa: ASYNC109 - bounds the whole exchange, body included
    label: str,
    service: str = "Flatpeak",
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> RawResponse:
    """Send one request within `timeout`; `label` names it in the errors raised."""
    try:
        async with (
            asyncio.timeout(timeout),
            session.request(
                method, url, params=params, json=json_body, headers=headers
            ) as response,
        ):
            return RawResponse(response.status, await response.read(), response.headers)
    except TimeoutError as err:
        raise FlatpeakTimeoutError(
            f"{service} did not answer {label} within {timeout:g} s"
        ) from err
    except aiohttp.ClientError as err:
        raise FlatpeakConnectionError(
            f"Cannot reach {service} for {label}: {err}"
        ) from err
