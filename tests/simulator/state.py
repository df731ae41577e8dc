"""Seedable in-memory state behind the Flatpeak API simulator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
import secrets
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .connect_model import ConnectState
from .keys import SigningKey

API_VERSION = "2025-09-14.anode"

#: Route names used by fault injection and the call counters.
ROUTES = frozenset(
    {
        "login",
        "locations",
        "location",
        "location_status",
        "prices",
        "events",
        "event",
        "jwks",
        # Connect tokens on the API (§1, §4 of connect.md): the Anode and older paths.
        "connect_token_create",
        "connect_tariff_token_create",
        "connect_token_retrieve",
        "connect_tariff_token_retrieve",
        # The Connect API: the conversation, a provider's login page, the auth hop.
        "connect",
        "connect_login",
        "connect_auth",
    }
)
#: The fault route that matches every request but the control API's (an outage).
ANY_ROUTE = "*"
PRICE_ERROR_CODES = frozenset(
    {"pending_connect", "no_tariff_connected", "no_price_data"}
)
TARIFF_DIRECTIONS = ("IMPORT", "EXPORT", "LOCAL")
TARIFF_SLOTS = (
    "commodity_import",
    "commodity_export",
    "non_commodity_import",
    "non_commodity_export",
    "local",
)
_SLOT_ALIASES = {
    "import": "commodity_import",
    "export": "commodity_export",
    "local": "local",
}
_DEFAULT_SLOT_STATUS = {
    "commodity_import": "NOT_CONNECTED",
    "commodity_export": "NOT_CONNECTED",
    "non_commodity_import": "NOT_CONNECTED",
    "non_commodity_export": "NOT_SUPPORTED",
    "local": "NOT_SUPPORTED",
}
# Slots with these statuses carry no provider or tariff details.
_BARE_STATUSES = frozenset({"NOT_CONNECTED", "NOT_SUPPORTED"})

#: `fn(slot_start_utc)` returns `(value, confidence)` or just a value (confidence 1).
PricePattern = Callable[[datetime], tuple[float, float] | float]
PriceRowShape = Literal["price", "tariff"]


def utcnow() -> datetime:
    """Return the current time in UTC (looked up at call time, so freezers apply)."""
    return datetime.now(UTC)


def iso_z(value: datetime) -> str:
    """Format a system timestamp the way Flatpeak does: UTC with `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_live_mode(api_key: str) -> bool:
    """Tell live keys from test keys by their prefix."""
    return not api_key.startswith("sk_test_")


def tariff_slot(direction: str) -> str:
    """Map `import`/`EXPORT`/`commodity_import`… to a location-status slot name."""
    name = direction.lower()
    name = _SLOT_ALIASES.get(name, name)
    if name not in TARIFF_SLOTS:
        raise ValueError(f"Unknown tariff direction or slot: {direction!r}")
    return name


def _direction(direction: str) -> str:
    """Normalise a price direction to `IMPORT`/`EXPORT`/`LOCAL`."""
    upper = direction.upper()
    if upper not in TARIFF_DIRECTIONS:
        raise ValueError(f"Unknown tariff direction: {direction!r}")
    return upper


@dataclass(frozen=True, slots=True)
class PriceSlot:
    """One price interval of any length."""

    start: datetime
    end: datetime
    value: float
    confidence: float = 1.0


@dataclass(slots=True)
class Fault:
    """A canned misbehaviour for one route."""

    status: int | None = None
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1


@dataclass(slots=True)
class Account:
    """A Flatpeak account with its API keys."""

    account_id: str
    api_keys: set[str]
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Token:
    """An issued bearer token."""

    value: str
    account_id: str
    api_key: str
    live_mode: bool
    expires_at: datetime


@dataclass(slots=True)
class PriceFeed:
    """Where one location's prices for one direction come from."""

    slots: list[PriceSlot] | None = None
    pattern: PricePattern | None = None
    slot_minutes: int = 30
    next_update: datetime | None = None
    last_updated: datetime | None = None
    error: str | None = None


@dataclass(slots=True)
class WebhookConfig:
    """Where events the simulator creates by itself (Connect's) are delivered."""

    url: str
    sign: bool = True
    #: Delays before each attempt; None is Flatpeak's schedule.
    schedule: tuple[float, ...] | None = None
    time_scale: float = 1.0
    timeout: float | None = None
    resign_retries: bool = True


@dataclass(slots=True)
class _EventMeta:
    """Ownership of a stored event (not part of the event object)."""

    account_id: str
    live_mode: bool


class SimulatorState:
    """Everything the simulated Flatpeak API knows; tests seed and inspect it."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        """Start empty, with the process-wide signing key."""
        self.clock: Callable[[], datetime] = clock or utcnow
        self.accounts: dict[str, Account] = {}
        self.revoked_keys: set[str] = set()
        self.tokens: dict[str, Token] = {}
        self.token_lifetime: int = 3600
        self.locations: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, dict[str, Any]]] = {}
        self.prices: dict[tuple[str, str], PriceFeed] = {}
        self.price_row_shape: PriceRowShape = "price"
        self.events: list[dict[str, Any]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.calls: Counter[str] = Counter()
        self.location_calls: Counter[tuple[str, str]] = Counter()
        self.missing_version_header: int = 0
        self.signing_keys: list[SigningKey] = [SigningKey.default()]
        self.connect = ConnectState()
        #: Set to deliver Connect's events as they happen; results land in deliveries.
        self.webhook: WebhookConfig | None = None
        self.deliveries: list[dict[str, Any]] = []
        self._event_meta: dict[str, _EventMeta] = {}
        self._seq: dict[str, int] = {}
        self._id_counter = 0
        self._last_id_time = 0
        self._providers: dict[str, str] = {}

    # -- clock and ids ---------------------------------------------------------------

    def now(self) -> datetime:
        """Return the simulator's current time (aware)."""
        return self.clock()

    def new_id(self, prefix: str) -> str:
        """Return an ObjectId-like id: 8 hex of unix time, 16 hex of a counter."""
        # Never let the time part go backwards, so ids keep sorting by creation.
        self._last_id_time = max(int(self.now().timestamp()), self._last_id_time)
        self._id_counter += 1
        return f"{prefix}_{self._last_id_time:08x}{self._id_counter:016x}"

    def _register(self, object_id: str) -> None:
        """Remember the creation order of a listed object (the pagination cursor)."""
        self._seq[object_id] = len(self._seq)

    def sequence(self, object_id: str) -> int | None:
        """Return the creation position of a listed object, if known."""
        return self._seq.get(object_id)

    # -- accounts and tokens ---------------------------------------------------------

    def add_account(
        self, account_id: str, api_keys: Iterable[str], *, disabled: bool = False
    ) -> Account:
        """Create an account whose keys' prefixes decide live or test mode."""
        account = Account(account_id, set(api_keys), disabled)
        self.accounts[account_id] = account
        return account

    def add_api_key(self, account_id: str, api_key: str) -> None:
        """Add another key to an account (key rotation)."""
        self.accounts[account_id].api_keys.add(api_key)
        self.revoked_keys.discard(api_key)

    def revoke_key(self, api_key: str) -> None:
        """Delete a key: logins with it fail and its tokens stop working."""
        for account in self.accounts.values():
            account.api_keys.discard(api_key)
        self.revoked_keys.add(api_key)

    def set_account_disabled(self, account_id: str, disabled: bool = True) -> None:
        """Disable or re-enable an account (every endpoint then answers 422)."""
        self.accounts[account_id].disabled = disabled

    def issue_token(self, account_id: str, api_key: str) -> Token:
        """Create a bearer token for a key that was checked already."""
        token = Token(
            value=secrets.token_urlsafe(32),
            account_id=account_id,
            api_key=api_key,
            live_mode=key_live_mode(api_key),
            expires_at=self.now() + timedelta(seconds=self.token_lifetime),
        )
        self.tokens[token.value] = token
        return token

    def token_info(self, value: str) -> Token | None:
        """Return a token that is known, unexpired and whose key still exists."""
        token = self.tokens.get(value)
        if token is None or self.now() >= token.expires_at:
            return None
        account = self.accounts.get(token.account_id)
        if account is None or token.api_key not in account.api_keys:
            return None
        return token

    def expire_tokens(self) -> None:
        """Invalidate every issued bearer token."""
        self.tokens.clear()

    # -- locations and statuses ------------------------------------------------------

    def add_location(
        self,
        account_id: str,
        location_id: str | None = None,
        *,
        live_mode: bool = True,
        reference_id: str | None = None,
        customer_id: str | None = None,
        timezone: str = "Europe/London",
        currency_code: str = "GBP",
        postal_address: dict[str, Any] | None = None,
        geo_location: dict[str, float] | None = None,
        flex_allowed: bool = False,
        time_created: datetime | None = None,
    ) -> dict[str, Any]:
        """Store and return an Anode location object."""
        if account_id not in self.accounts:
            raise ValueError(f"Unknown account {account_id!r}")
        ZoneInfo(timezone)  # fail early on a typo rather than in a request
        location_id = location_id or self.new_id("loc")
        location: dict[str, Any] = {
            "id": location_id,
            "object": "location",
            "live_mode": live_mode,
            "time_created": iso_z(time_created or self.now()),
            "account_id": account_id,
            "reference_id": reference_id,
            "customer_id": customer_id,
            "timezone": timezone,
            "currency_code": currency_code,
            "flex_allowed": flex_allowed,
            "postal_address": postal_address
            or {
                "address_line1": "1 High Street",
                "address_line2": "",
                "city": "London",
                "state": "",
                "post_code": "SW1A 1AA",
                "country_code": "GB",
            },
            "geo_location": geo_location or {"lat": 51.50101, "lng": -0.14156},
            "market_sources": {"import": self.new_id("mrs")},
            "tariff_status": dict(_DEFAULT_SLOT_STATUS),
            "tariff_elements": [],
        }
        self.locations[location_id] = location
        self.statuses[location_id] = {
            slot: {"status": status} for slot, status in _DEFAULT_SLOT_STATUS.items()
        }
        self._register(location_id)
        return location

    def remove_location(self, location_id: str) -> None:
        """Delete a location: the API answers 404 for it from now on."""
        self.locations.pop(location_id, None)
        self.statuses.pop(location_id, None)

    def location(self, location_id: str) -> dict[str, Any]:
        """Return a stored location object (KeyError if unknown)."""
        return self.locations[location_id]

    def set_status(
        self,
        location_id: str,
        direction: str = "import",
        *,
        status: str = "CONNECTED",
        connection_type: str = "DIRECT",
        provider_name: str = "Octopus Energy",
        provider_id: str | None = None,
        tariff_name: str = "Agile Octopus",
        structure_type: str = "TIME_OF_DAY",
        contract_end_date: datetime | None = None,
        tariff_id: str | None = None,
    ) -> dict[str, Any]:
        """Set one tariff slot's status (CONNECTED, ERROR, NOT_CONNECTED, NOT_SUPPORTED)."""
        slot = tariff_slot(direction)
        location = self.locations[location_id]
        slots = self.statuses[location_id]
        entry: dict[str, Any]
        if status in _BARE_STATUSES:
            entry = {"status": status}
        else:
            # Keep the tariff id across status changes: it is the same tariff going bad.
            tariff_id = tariff_id or slots[slot].get("tariff", {}).get("id")
            entry = {
                "status": status,
                "connection_type": connection_type,
                "provider": {
                    "id": provider_id or self._provider_id(provider_name),
                    "display_name": provider_name,
                    "logo_url": f"https://s.flatpeak.com/{provider_name.lower().replace(' ', '_')}.png",
                },
                "tariff": {
                    "id": tariff_id or self.new_id("trf"),
                    "display_name": tariff_name,
                    "structure_type": structure_type,
                    "contract_end_date": iso_z(contract_end_date)
                    if contract_end_date
                    else None,
                },
            }
        slots[slot] = entry
        location["tariff_status"][slot] = status
        location["tariff_elements"] = [
            value["tariff"]["id"] for value in slots.values() if "tariff" in value
        ]
        return entry

    def reflect_in_status(self, event_type: str, location_id: str) -> None:
        """Show what a tariff.* event reports in the import tariff's status.

        Flatpeak's status does the same; other event types leave it alone.
        """
        entry = self.statuses[location_id][tariff_slot("import")]
        tariff = entry.get("tariff")
        if tariff is None:
            return
        now = self.now()
        if event_type == "tariff.expired":
            tariff["contract_end_date"] = iso_z(now - timedelta(days=1))
        elif event_type == "tariff.expiring":
            tariff["contract_end_date"] = iso_z(now + timedelta(days=8))
        elif event_type == "tariff.fetch.failed":
            entry["status"] = "ERROR"
            self.locations[location_id]["tariff_status"][tariff_slot("import")] = (
                "ERROR"
            )
        elif event_type == "tariff.connection.upgrade":
            entry["connection_type"] = "LIBRARY"

    def _provider_id(self, name: str) -> str:
        """Return a stable provider id per provider name."""
        if name not in self._providers:
            self._providers[name] = self.new_id("prv")
        return self._providers[name]

    def location_status(self, location_id: str) -> dict[str, Any]:
        """Return the `location_status` object of GET /locations/{id}/status."""
        location = self.locations[location_id]
        return {
            "id": location_id,
            "object": "location_status",
            "live_mode": location["live_mode"],
            "time_created": location["time_created"],
            "account_id": location["account_id"],
            "tariff_status": copy.deepcopy(self.statuses[location_id]),
        }

    def tariff_id(self, location_id: str, direction: str = "import") -> str | None:
        """Return the id of the tariff connected in a slot, if any."""
        tariff = self.statuses[location_id][tariff_slot(direction)].get("tariff")
        return tariff["id"] if tariff else None

    # -- prices ----------------------------------------------------------------------

    def _feed(self, location_id: str, direction: str) -> PriceFeed:
        """Return (creating) the price feed for a location and direction."""
        if location_id not in self.locations:
            raise ValueError(f"Unknown location {location_id!r}")
        return self.prices.setdefault((location_id, _direction(direction)), PriceFeed())

    def set_prices(
        self,
        location_id: str,
        slots: Iterable[PriceSlot],
        *,
        direction: str = "IMPORT",
        next_update: datetime | None = None,
        last_updated: datetime | None = None,
    ) -> None:
        """Serve exactly these slots (any length, gaps allowed) for a direction."""
        ordered = sorted(slots, key=lambda slot: slot.start)
        for slot in ordered:
            if slot.start.tzinfo is None or slot.end <= slot.start:
                raise ValueError(f"Slots need aware datetimes and start < end: {slot}")
        feed = self._feed(location_id, direction)
        feed.slots, feed.pattern = ordered, None
        feed.next_update = next_update
        feed.last_updated = last_updated or self.now()

    def set_price_pattern(
        self,
        location_id: str,
        fn: PricePattern,
        *,
        slot_minutes: int = 30,
        direction: str = "IMPORT",
        next_update: datetime | None = None,
        last_updated: datetime | None = None,
    ) -> None:
        """Serve slots generated on demand by `fn(start_utc)` for any window."""
        if not 1 <= slot_minutes <= 1440:
            raise ValueError("slot_minutes must be between 1 and 1440")
        feed = self._feed(location_id, direction)
        feed.slots, feed.pattern, feed.slot_minutes = None, fn, slot_minutes
        feed.next_update = next_update
        feed.last_updated = last_updated or self.now()

    def set_prices_error(
        self, location_id: str, code: str | None, *, direction: str = "IMPORT"
    ) -> None:
        """Make POST /prices answer 422 with this code (None clears it)."""
        if code is not None and code not in PRICE_ERROR_CODES:
            raise ValueError(f"Unknown price error code {code!r}")
        self._feed(location_id, direction).error = code

    def clear_prices(self, location_id: str, *, direction: str = "IMPORT") -> None:
        """Forget a direction's prices (the API then answers `no_tariff_connected`)."""
        self.prices.pop((location_id, _direction(direction)), None)

    def price_feed(self, location_id: str, direction: str) -> PriceFeed | None:
        """Return the price feed for a location and direction, if any."""
        return self.prices.get((location_id, _direction(direction)))

    def price_slots(
        self, location_id: str, direction: str, start: datetime, end: datetime
    ) -> list[PriceSlot]:
        """Return the slots overlapping [start, end), clipped to it."""
        feed = self.price_feed(location_id, direction)
        if feed is None:
            return []
        if feed.pattern is not None:
            timezone = ZoneInfo(self.locations[location_id]["timezone"])
            source = _pattern_slots(
                feed.pattern, feed.slot_minutes, timezone, start, end
            )
        else:
            source = feed.slots or []
        clipped: list[PriceSlot] = []
        for slot in source:
            slot_start, slot_end = max(slot.start, start), min(slot.end, end)
            if slot_start < slot_end:
                clipped.append(replace(slot, start=slot_start, end=slot_end))
        return clipped

    # -- events ----------------------------------------------------------------------

    def add_event(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        account_id: str,
        live_mode: bool = True,
        time_created: datetime | None = None,
    ) -> dict[str, Any]:
        """Store and return an Anode event object."""
        event_id = self.new_id("evt")
        event: dict[str, Any] = {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "time_created": iso_z(time_created or self.now()),
            "data": data,
        }
        self.events.append(event)
        self._event_meta[event_id] = _EventMeta(account_id, live_mode)
        self._register(event_id)
        return event

    def store_event(
        self, event: dict[str, Any], *, account_id: str, live_mode: bool = True
    ) -> None:
        """Keep an event made elsewhere (with its own id) as one of the API's events."""
        if event["id"] in self._event_meta:
            return
        self.events.append(copy.deepcopy(event))
        self._event_meta[event["id"]] = _EventMeta(account_id, live_mode)

    def event_owner(self, event_id: str) -> tuple[str, bool] | None:
        """Return `(account_id, live_mode)` of a stored event."""
        meta = self._event_meta.get(event_id)
        return (meta.account_id, meta.live_mode) if meta else None

    def make_tariff_event(
        self, event_type: str, location_id: str, tariff_id: str | None = None
    ) -> dict[str, Any]:
        """Store a `tariff.*` event, whose data is a small reference object."""
        location = self.locations[location_id]
        data = {
            "live_mode": location["live_mode"],
            "location_id": location_id,
            "tariff_id": tariff_id or self.tariff_id(location_id) or self.new_id("trf"),
            "account_id": location["account_id"],
        }
        return self._location_event(event_type, location, data)

    def make_location_update(
        self, location_id: str, event_type: str = "location.update"
    ) -> dict[str, Any]:
        """Store a `location.*` event carrying the full location object."""
        location = self.locations[location_id]
        return self._location_event(event_type, location, copy.deepcopy(location))

    def make_connect_session_complete(
        self, location_id: str, connect_token: str | None = None
    ) -> dict[str, Any]:
        """Store a `connect_session.complete` event (its payload is not documented)."""
        location = self.locations[location_id]
        data = {
            "id": connect_token or self.new_id("cot"),
            "object": "connect_session",
            "live_mode": location["live_mode"],
            "location_id": location_id,
            "account_id": location["account_id"],
        }
        return self._location_event("connect_session.complete", location, data)

    def make_event(self, event_type: str, location_id: str) -> dict[str, Any]:
        """Store an event of any type about a location, with the matching data shape."""
        if event_type == "connect_session.complete":
            return self.make_connect_session_complete(location_id)
        if event_type.startswith("location."):
            return self.make_location_update(location_id, event_type)
        if event_type.startswith("tariff."):
            return self.make_tariff_event(event_type, location_id)
        # Unknown types (Flatpeak adds some at any time) get a tariff-like reference.
        location = self.locations[location_id]
        data = {
            "live_mode": location["live_mode"],
            "location_id": location_id,
            "account_id": location["account_id"],
        }
        return self._location_event(event_type, location, data)

    def _location_event(
        self, event_type: str, location: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Store an event owned by a location's account and mode."""
        return self.add_event(
            event_type,
            data,
            account_id=location["account_id"],
            live_mode=location["live_mode"],
        )

    # -- faults and counters ---------------------------------------------------------

    def inject_fault(
        self,
        route: str,
        *,
        status: int | None = None,
        body: dict[str, Any] | list[Any] | str | bytes | None = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Make the next `times` requests to a route misbehave (None: until cleared).

        The route `*` (ANY_ROUTE) matches every request, unknown paths included, after
        the faults of the request's own route: `status=503, times=None` is an outage.
        """
        if route not in ROUTES and route != ANY_ROUTE:
            raise ValueError(f"Unknown route {route!r}; one of {sorted(ROUTES)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None)")
        fault = Fault(status, body, delay, dict(headers or {}), times)
        self.faults.setdefault(route, []).append(fault)
        return fault

    def clear_faults(self, route: str | None = None) -> None:
        """Remove all faults, or those of one route."""
        if route is None:
            self.faults.clear()
        else:
            self.faults.pop(route, None)

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the oldest fault queued for a route (or for any route)."""
        queue = self.faults.get(route) or self.faults.get(ANY_ROUTE)
        if not queue:
            return None
        fault = queue[0]
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
        return fault

    def record_call(self, route: str, location_id: str | None = None) -> None:
        """Count a request to a route (and per location where the route has one)."""
        self.calls[route] += 1
        if location_id is not None:
            self.location_calls[route, location_id] += 1

    def calls_for(self, route: str, location_id: str) -> int:
        """Return how many requests a route got for one location."""
        return self.location_calls[route, location_id]

    def reset_calls(self) -> None:
        """Zero every counter."""
        self.calls.clear()
        self.location_calls.clear()
        self.missing_version_header = 0

    # -- signing keys ----------------------------------------------------------------

    @property
    def signing_key(self) -> SigningKey:
        """Return the key webhooks are signed with now (the newest)."""
        return self.signing_keys[-1]

    def rotate_key(self, key: SigningKey | None = None) -> SigningKey:
        """Add a key (generated if not given) and sign with it from now on."""
        key = key or SigningKey.generate()
        self.signing_keys.append(key)
        return key


def _pattern_slots(
    fn: PricePattern,
    slot_minutes: int,
    timezone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[PriceSlot]:
    """Generate slots covering [start, end), aligned to local midnight of each day."""
    # Each local day is cut from its own midnight so that 23- and 25-hour DST days
    # still start at 00:00 local; a slot that would cross midnight is shortened.
    step = timedelta(minutes=slot_minutes)
    day = start.astimezone(timezone).date()
    slots: list[PriceSlot] = []
    while True:
        day_start = datetime.combine(day, time(), tzinfo=timezone).astimezone(UTC)
        if day_start >= end:
            break
        day = day + timedelta(days=1)
        day_end = datetime.combine(day, time(), tzinfo=timezone).astimezone(UTC)
        skip = max(0, (start - day_start) // step)
        slot_start = day_start + skip * step
        while slot_start < day_end and slot_start < end:
            slot_end = min(slot_start + step, day_end)
            if slot_end > start:
                result = fn(slot_start)
                value, confidence = (
                    result if isinstance(result, tuple) else (result, 1.0)
                )
                slots.append(
                    PriceSlot(slot_start, slot_end, float(value), float(confidence))
                )
            slot_start = slot_end
    return slots
