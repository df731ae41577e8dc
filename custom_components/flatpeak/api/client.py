"""Async client for the Flatpeak REST API (release 2025-09-14.anode)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
import json
import logging
import time
from typing import Any, Final

import aiohttp

from .connect_models import ConnectRouteOptions, ConnectToken, postal_address_json
from .exceptions import (
    FlatpeakAccountDisabledError,
    FlatpeakApiError,
    FlatpeakApiVersionError,
    FlatpeakAuthenticationError,
    FlatpeakError,
    FlatpeakNoPriceDataError,
    FlatpeakNoTariffError,
    FlatpeakNotFoundError,
    FlatpeakPendingConnectError,
    FlatpeakRateLimitError,
    FlatpeakResponseError,
    FlatpeakServerError,
)
from .models import (
    Event,
    EventPage,
    JsonWebKey,
    Location,
    LocationStatus,
    LoginToken,
    PostalAddress,
    Prices,
    TariffDirection,
    parse_list,
)
from .transport import send_request

_LOGGER = logging.getLogger(__name__)

API_VERSION: Final = "2025-09-14.anode"
DEFAULT_API_URL: Final = "https://api.flatpeak.com"
DEFAULT_TIMEOUT: Final = 15.0
MAX_PAGE_SIZE: Final = 100
TEST_KEY_PREFIX: Final = "sk_test_"
# Renew the bearer this long before Flatpeak says it expires, so no request races expiry.
TOKEN_RENEWAL_MARGIN: Final = 60.0
# connect.md §1: Anode creates connect tokens at the first path; older copies of the
# docs, and every Zero doc, at the second, where tokens are also retrieved (§4).
CONNECT_TOKEN_PATH: Final = "/connect/token"  # noqa: S105 - a path, not a secret
LEGACY_CONNECT_TOKEN_PATH: Final = "/connect/tariff/token"  # noqa: S105 - a path

_ERRORS_BY_CODE: Final[dict[str, type[FlatpeakApiError]]] = {
    "account_disabled": FlatpeakAccountDisabledError,
    # Any request, /login included, when the account's default release is newer.
    "api_version_not_supported": FlatpeakApiVersionError,
    "no_tariff_connected": FlatpeakNoTariffError,
    "pending_connect": FlatpeakPendingConnectError,
    "no_price_data": FlatpeakNoPriceDataError,
}


def _monotonic_clock() -> float:
    return time.monotonic()


def is_test_key(api_key: str) -> bool:
    """Whether an API key works on Flatpeak's test data rather than live data."""
    return api_key.startswith(TEST_KEY_PREFIX)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339, keeping its offset."""
    if moment.tzinfo is None:
        msg = "timestamps sent to Flatpeak must be timezone-aware"
        raise ValueError(msg)
    return moment.isoformat(timespec="seconds")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except TypeError, ValueError:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _error_fields(body: bytes) -> tuple[str | None, str]:
    """Read `code` and `message` from an error body, whatever shape it has."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, body.decode(errors="replace").strip()[:200]
    if not isinstance(payload, Mapping):
        return None, ""
    code = payload.get("code")
    message = payload.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else "",
    )


def _raise_for_status(status: int, body: bytes, headers: Mapping[str, str]) -> None:
    if status < HTTPStatus.BAD_REQUEST:
        return
    code, message = _error_fields(body)
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
        raise FlatpeakAuthenticationError(message, code=code, status=status)
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        raise FlatpeakRateLimitError(
            message,
            code=code,
            retry_after=_retry_after_seconds(headers.get("Retry-After")),
        )
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise FlatpeakServerError(message, code=code, status=status)
    if status == HTTPStatus.NOT_FOUND:
        raise FlatpeakNotFoundError(message, code=code, status=status)
    error_class = _ERRORS_BY_CODE.get(code or "", FlatpeakApiError)
    raise error_class(message, code=code, status=status)


class FlatpeakClient:
    """A Flatpeak account, reached with its account id and one of its API keys."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        account_id: str,
        api_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        request_timeout: float = DEFAULT_TIMEOUT,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        """Use the caller's session; nothing is sent until the first call."""
        self._session = session
        self.account_id = account_id
        self._api_key = api_key
        self.api_url = api_url.rstrip("/")
        self.request_timeout = request_timeout
        # Looked up at call time, so a patched time module (frozen clocks) is honoured.
        self._monotonic = monotonic or _monotonic_clock
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._connect_token_path = CONNECT_TOKEN_PATH

    @property
    def live_mode(self) -> bool:
        """Whether the key works on live data (`sk_live_…`) rather than test data."""
        return not is_test_key(self._api_key)

    async def login(self) -> LoginToken:
        """Exchange the account id and API key for a bearer token, and keep it."""
        body = await self._send(
            "GET",
            "/login",
            headers={
                "Authorization": aiohttp.encode_basic_auth(
                    self.account_id, self._api_key
                )
            },
        )
        token = LoginToken.from_dict(body)
        self._token = token.bearer_token
        margin = min(TOKEN_RENEWAL_MARGIN, token.expires_in / 10)
        self._token_renew_at = self._monotonic() + token.expires_in - margin
        return token

    async def _bearer(self) -> str:
        async with self._token_lock:
            if self._token is None or self._monotonic() >= self._token_renew_at:
                await self.login()
            assert self._token is not None  # noqa: S101 - login sets it or raises
            return self._token

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send an authenticated request; a refused bearer is renewed once."""

        async def send(token: str) -> Any:
            return await self._send(
                method,
                path,
                params=params,
                json_body=json_body,
                headers={"Authorization": f"Bearer {token}"},
            )

        token = await self._bearer()
        try:
            return await send(token)
        except FlatpeakAuthenticationError:
            async with self._token_lock:
                # Another request may have renewed it while this one waited.
                if self._token == token:
                    self._token = None
        return await send(await self._bearer())

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request to the API and read its JSON answer or its error."""
        response = await send_request(
            self._session,
            method,
            f"{self.api_url}{path}",
            timeout=self.request_timeout,
            label=f"{method} {path}",
            params=params,
            json_body=json_body,
            headers={
                "Accept": "application/json",
                "Flatpeak-Version": API_VERSION,
                **headers,
            },
        )
        body, status = response.body, response.status
        _raise_for_status(status, body, response.headers)
        try:
            return json.loads(body)
        except ValueError as err:
            raise FlatpeakResponseError(
                f"Flatpeak answered {method} {path} with a body that is not JSON",
                status=status,
            ) from err

    async def list_locations(
        self,
        *,
        reference_id: str | None = None,
        customer_id: str | None = None,
    ) -> list[Location]:
        """Return every location of the account, following the cursor through all pages."""
        params: dict[str, str] = {"limit": str(MAX_PAGE_SIZE)}
        if reference_id:
            params["reference_id"] = reference_id
        if customer_id:
            params["customer_id"] = customer_id
        locations: list[Location] = []
        seen: set[str] = set()
        while True:
            items, has_more = parse_list(
                await self._request("GET", "/locations", params=params), "locations"
            )
            page = [Location.from_dict(item) for item in items]
            new = [location for location in page if location.id not in seen]
            locations.extend(new)
            seen.update(location.id for location in new)
            # A cursor that yields nothing new would loop forever.
            if not has_more or not new:
                return locations
            params["starting_after"] = page[-1].id

    async def get_location(self, location_id: str) -> Location:
        """Return one location."""
        return Location.from_dict(
            await self._request("GET", f"/locations/{location_id}")
        )

    async def get_location_status(self, location_id: str) -> LocationStatus:
        """Return the state of each tariff slot of a location."""
        return LocationStatus.from_dict(
            await self._request("GET", f"/locations/{location_id}/status")
        )

    async def get_prices(
        self,
        location_id: str,
        *,
        start: datetime,
        end: datetime,
        direction: TariffDirection | str = TariffDirection.IMPORT,
    ) -> Prices:
        """Return the price slots between two instants (at most 90 days apart)."""
        return Prices.from_dict(
            await self._request(
                "POST",
                f"/prices/{location_id}",
                json_body={
                    "start_time": format_timestamp(start),
                    "end_time": format_timestamp(end),
                    "tariff_direction": str(direction),
                },
            )
        )

    async def list_events(
        self,
        *,
        event_type: str | None = None,
        object_id: str | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> EventPage:
        """Return one page of events, newest first."""
        if starting_after and ending_before:
            msg = "starting_after and ending_before are mutually exclusive"
            raise ValueError(msg)
        filters = {
            "event_type": event_type,
            "object_id": object_id,
            "starting_after": starting_after,
            "ending_before": ending_before,
        }
        params = {"limit": str(limit)} | {k: v for k, v in filters.items() if v}
        items, has_more = parse_list(
            await self._request("GET", "/events", params=params), "events"
        )
        events: list[Event] = []
        for item in items:
            try:
                events.append(Event.from_dict(item))
            except FlatpeakError as err:
                # One event of a shape we do not know must not hide all the others.
                _LOGGER.warning("Skipping an event Flatpeak listed: %s", err)
        last = items[-1] if items else None
        last_id = last.get("id") if isinstance(last, Mapping) else None
        return EventPage(
            events=tuple(events),
            has_more=has_more,
            last_id=last_id if isinstance(last_id, str) else None,
        )

    async def list_recent_events(
        self,
        *,
        after_id: str | None = None,
        created_since: datetime | None = None,
        floor_id: str | None = None,
        max_events: int = 1000,
    ) -> list[Event]:
        """Return, oldest first, the events newer than `after_id` or created since then.

        Nothing at or before `floor_id` is returned. Pages are read newest first (with
        `starting_after`) until an event is older than the bounds; Flatpeak's ids start
        with their creation time, so the order of ids is the order of creation. At most
        `max_events` newest events are kept.
        """

        def wanted(event: Event) -> bool:
            if floor_id is not None and event.id <= floor_id:
                return False
            if after_id is None or event.id > after_id:
                return True
            return (
                created_since is not None
                and event.time_created is not None
                and event.time_created >= created_since
            )

        found: dict[str, Event] = {}
        cursors: set[str] = set()
        cursor: str | None = None
        while len(found) < max_events:
            page = await self.list_events(starting_after=cursor)
            new = False
            for event in page.events:
                if not wanted(event):
                    return list(reversed(found.values()))
                if event.id not in found:
                    found[event.id] = event
                    new = True
            # A page that repeats what was read, or a cursor seen before, would loop.
            cursor = page.last_id
            if not page.has_more or not new or cursor is None or cursor in cursors:
                break
            cursors.add(cursor)
        return list(reversed(found.values()))[-max_events:]

    async def get_event(self, event_id: str) -> Event:
        """Return one event."""
        return Event.from_dict(await self._request("GET", f"/events/{event_id}"))

    async def get_jwks(self) -> list[JsonWebKey]:
        """Return the public keys Flatpeak signs webhooks with (no authentication)."""
        body = await self._send("GET", "/jwks.json", headers={})
        if not isinstance(body, Mapping) or not isinstance(body.get("keys"), list):
            raise FlatpeakResponseError("jwks.keys is missing or not a list")
        keys: list[JsonWebKey] = []
        for item in body["keys"]:
            try:
                key = JsonWebKey.from_dict(item)
            except FlatpeakError:
                # Keys of other types may be published alongside; they sign nothing of ours.
                continue
            keys.append(key)
        return keys

    async def create_connect_token(
        self,
        *,
        connect_url: str,
        callback_url: str,
        location_id: str | None = None,
        location_reference_id: str | None = None,
        customer_id: str | None = None,
        customer_reference_id: str | None = None,
        tariff_id: str | None = None,
        direction: TariffDirection | str = TariffDirection.IMPORT,
        tariff_type: str | None = None,
        edit_tariff: bool = False,
        disconnect_tariff: bool = False,
        route_options: ConnectRouteOptions | None = None,
        postal_address: PostalAddress | None = None,
        postal_address_type: str | None = None,
    ) -> ConnectToken:
        """Create a single-use connect token that opens a Connect session (connect.md §1)."""
        if location_id and location_reference_id:
            # connect.md §1: "either location_id or location_reference but not both".
            msg = "location_id and location_reference_id are mutually exclusive"
            raise ValueError(msg)
        body: dict[str, Any] = {
            "connect_url": connect_url,
            "callback_url": callback_url,
        }
        optional = {
            "location_id": location_id,
            "location_reference_id": location_reference_id,
            "customer_id": customer_id,
            "customer_reference_id": customer_reference_id,
            "tariff_id": tariff_id,
            "postal_address_type": postal_address_type,
        }
        body |= {key: value for key, value in optional.items() if value}
        # connect.md §1 (conflict, NOT VERIFIED): the Anode example names these keys
        # tariff_direction and tariff_type, the API spec direction and type. The defaults
        # (IMPORT, COMMODITY) are sent as nothing at all; any other value is sent under
        # both names, so a server reading either one gets it rather than its default.
        if str(direction) != TariffDirection.IMPORT:
            body["tariff_direction"] = body["direction"] = str(direction)
        if tariff_type and tariff_type != "COMMODITY":
            body["tariff_type"] = body["type"] = tariff_type
        actions = {
            name: True
            for name, wanted in (
                ("edit_tariff", edit_tariff),
                ("disconnect_tariff", disconnect_tariff),
            )
            if wanted
        }
        if actions:
            body["actions"] = actions
        if route_options is not None and (options := route_options.as_json()):
            body["route_options"] = options
        if postal_address is not None and (
            address := postal_address_json(postal_address)
        ):
            body["postal_address"] = address
        return ConnectToken.from_dict(await self._post_connect_token(body))

    async def _post_connect_token(self, body: Mapping[str, Any]) -> Any:
        """Post to the Anode path, and to the older one where the API does not know it."""
        path = self._connect_token_path
        try:
            return await self._request("POST", path, json_body=body)
        except FlatpeakNotFoundError as first:
            if path == LEGACY_CONNECT_TOKEN_PATH:
                raise
            try:
                answer = await self._request(
                    "POST", LEGACY_CONNECT_TOKEN_PATH, json_body=body
                )
            except FlatpeakNotFoundError:
                # Neither path exists, or the 404 was about the request (an unknown
                # location, say): the first answer is the one that says so.
                raise first from None
            self._connect_token_path = LEGACY_CONNECT_TOKEN_PATH
            return answer

    async def get_connect_token(self, connect_token: str) -> ConnectToken:
        """Return a connect token's details; `location_id` is set once the session saved a tariff."""
        # connect.md §4: retrieval is documented only at the older path, also in Anode.
        return ConnectToken.from_dict(
            await self._request(
                "GET",
                LEGACY_CONNECT_TOKEN_PATH,
                params={"connect_token": connect_token},
            )
        )
