"""What the tests share besides fixtures: the account, the clock, events, deliveries."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import aiohttp
from pytest_homeassistant_custom_component.common import async_fire_time_changed

if TYPE_CHECKING:
    from aiohttp import ClientResponse
    from aiohttp.test_utils import TestClient
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.simulator import SimulatorState

ACCOUNT_ID = "acc_661677911f2197045e6cf1b1"
LIVE_KEY = "sk_live_65e88ad8b13031c26a39c06c"
TEST_KEY = "sk_test_687b8977879fd796a86faa03"
HOME_ID = "loc_641b90b758fb8e6293716e40"
WEBHOOK_ID = "0123456789abcdef" * 4
LONDON = ZoneInfo("Europe/London")
# A Wednesday in winter, when Europe/London is UTC: slot times read the same in both.
NOW = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)


def half_hourly_price(start: datetime) -> tuple[float, float]:
    """Price 0.10 at local midnight rising 0.01 per half hour; tomorrow is a forecast."""
    local = start.astimezone(LONDON)
    index = local.hour * 2 + local.minute // 30
    return round(0.10 + index / 100, 4), 1.0 if local.date() <= NOW.date() else 0.8


WEBHOOK_PATH = f"/api/webhook/{WEBHOOK_ID}"


def make_event(
    event_type: str,
    *,
    event_id: str,
    location_id: str = HOME_ID,
    tariff_id: str | None = "trf_69665bd289b104fb993db999",
    live_mode: bool = True,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """Build an event as Flatpeak delivers it (tariff.* data shape unless location.*)."""
    if event_type.startswith("location."):
        data: dict[str, Any] = {
            "id": location_id,
            "object": "location",
            "live_mode": live_mode,
            "account_id": account_id,
        }
    else:
        data = {
            "live_mode": live_mode,
            "location_id": location_id,
            "tariff_id": tariff_id,
            "account_id": account_id,
        }
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "time_created": NOW.isoformat(),
        "data": data,
    }


class FlatpeakDeliveries:
    """Posts events to the webhook the way Flatpeak delivers them, unsigned.

    Flatpeak delivers only events it has: each event posted is first kept in the
    simulator's event list (owned as its data says), so that reading it back finds it.
    Junk that Flatpeak never sent is posted with `hass_client_no_auth` instead.
    """

    def __init__(self, client: TestClient, state: SimulatorState) -> None:
        """Post through `client`; keep the events in `state`."""
        self._client = client
        self._state = state

    async def post(self, path: str, **kwargs: Any) -> ClientResponse:
        """POST a delivery; an event object in `json` is also one of Flatpeak's events."""
        event = kwargs.get("json")
        if isinstance(raw := kwargs.get("data"), str | bytes):
            with contextlib.suppress(ValueError):
                event = json.loads(raw)
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            self._state.store_event(
                event,
                account_id=data.get("account_id", ACCOUNT_ID),
                live_mode=data.get("live_mode", True),
            )
        return await self._client.post(path, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """Everything else is the test client's."""
        return getattr(self._client, name)


async def advance_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Move the frozen clock on and let the timers and refreshes it starts finish."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    # Coordinators refresh in background tasks.
    await hass.async_block_till_done(wait_background_tasks=True)


async def move_time_to(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> None:
    """Move the frozen clock to `moment`, as `advance_time` does."""
    freezer.move_to(moment)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def setup_entry(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    **options: Any,
) -> None:
    """Set an entry up at NOW in London, with these options changed first."""
    freezer.move_to(NOW)
    await hass.config.async_set_time_zone("Europe/London")
    entry.add_to_hass(hass)
    if options:
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, **options}
        )
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def follow_provider_login(
    login_url: str, username: str | None, password: str | None, *, decline: bool = False
) -> str:
    """Log in on a DIRECT provider's page as a browser would; return where it lands.

    The simulator's page logs in on a GET that carries the credentials, then sends the
    browser through Flatpeak's auth host to the token's `connect_url` (connect.md §3.4);
    the URL returned is that last one, with `fp_cot` and the parameters added.
    """
    parts = urlsplit(login_url)
    extra = {"decision": "decline"} if decline else {}
    if username is not None:
        extra |= {"username": username, "password": password or ""}
    url = urlunsplit(
        parts._replace(query="&".join(filter(None, (parts.query, urlencode(extra)))))
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(url, allow_redirects=False) as response:
                assert response.status == HTTPStatus.FOUND, await response.text()
                location = response.headers["Location"]
            url = urljoin(url, location)
            if not url.startswith(f"{parts.scheme}://{parts.netloc}"):
                return url
    raise AssertionError("the login did not leave the provider's site")
