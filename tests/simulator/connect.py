"""Flatpeak Connect (Anode): connect tokens and the tariff-linking conversation.

Written from the Connect spec (connect.md; §n below are its sections). Where the spec
says NOT FOUND or INFERRED, every variant it lists is accepted and the choice made
for answers is named in a comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
import itertools
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from .connect_model import (
    Capture,
    ConnectToken,
    DirectLogin,
    DirectOutcome,
    LaterPage,
    LibraryTariff,
    Provider,
    TodPeriod,
)
from .prices import agile_price
from .state import iso_z

if TYPE_CHECKING:
    from .state import PricePattern, SimulatorState

#: Where an address's country puts a new location: time zone and currency.
COUNTRIES: dict[str, tuple[str, str]] = {
    "GB": ("Europe/London", "GBP"),
    "IE": ("Europe/Dublin", "EUR"),
    "FR": ("Europe/Paris", "EUR"),
    "DE": ("Europe/Berlin", "EUR"),
    "ES": ("Europe/Madrid", "EUR"),
    "NL": ("Europe/Amsterdam", "EUR"),
    "DK": ("Europe/Copenhagen", "DKK"),
    "SE": ("Europe/Stockholm", "SEK"),
    "US": ("America/New_York", "USD"),
    "AU": ("Australia/Sydney", "AUD"),
}
#: Countries whose market tariffs are geo-fenced by region: an address there cannot be
#: mapped to one, so MARKET asks with `region_select` (§2 region_select).
MARKET_REGIONS: dict[str, tuple[str, ...]] = {
    "DK": ("DK1", "DK2"),
    "SE": ("SE1", "SE2", "SE3", "SE4"),
}
STRUCTURE_OPTIONS = ("FIXED", "TIME_OF_DAY", "MARKET")
ADVANCED = "ADVANCED"
START_ROUTES = frozenset({"session_start", "session_restore"})
#: Older (Zero) page names a client may still post (§2, §7).
ROUTE_ALIASES = {
    "summary_fixed_confirm": "tariff_summary",
    "summary_tou_confirm": "tariff_summary",
    "summary_tariff_failed": "tariff_connection_failed",
    "market_surcharge_capture": "surcharge_capture",
}
NAVIGATION = ("BACK", "CLOSE")
#: The actions each page advertises besides BACK and CLOSE (§2 per-route lists).
PAGE_ACTIONS: dict[str, tuple[str, ...]] = {
    "postal_address_capture": (),
    "provider_select": ("ADDRESS_CHANGE", "PROVIDER_MISSING"),
    "provider_name_capture": ("ADDRESS_CHANGE",),
    "tariff_select": ("TARIFF_MISSING",),
    "tariff_name_capture": (),
    "tariff_structure_select": (),
    "rate_fixed_capture": (),
    "rate_tod_capture": (),
    "rate_advanced_capture": (),
    "surcharge_capture": (),
    "region_select": (),
    "contract_term_capture": (),
    "tariff_summary": ("WRONG_TARIFF", "EDIT", "DISCONNECT"),
    "tariff_connection_pending": ("EDIT", "DISCONNECT"),
    "tariff_connection_failed": ("EDIT", "DISCONNECT"),
    "session_redirect": (),
    "session_complete": (),
    "complete_tariff": (),
}
#: Pages without actions: the client navigates instead (§3.1, §4).
REDIRECT_ROUTES = frozenset({"session_redirect", "session_complete", "complete_tariff"})
#: Accepted although not advertised: the WEB client's types list them (§2).
EXTRA_ACTIONS: dict[str, tuple[str, ...]] = {
    "tariff_select": ("ADDRESS_CHANGE",),
    "tariff_connection_pending": ("DISMISS_DIRECT",),
    "tariff_connection_failed": ("RECONNECT",),
}
#: Listed too with `ConnectState.web_actions`, for a DIRECT provider (§2: the WEB
#: client's types list DISMISS_DIRECT on the pending page, RECONNECT on the failed one).
WEB_ACTIONS: dict[str, str] = {
    "tariff_connection_pending": "DISMISS_DIRECT",
    "tariff_connection_failed": "RECONNECT",
}
#: Pages answered with an action only.
ACTION_PAGES = frozenset(
    {
        "tariff_summary",
        "tariff_connection_pending",
        "tariff_connection_failed",
        "session_redirect",
        "session_complete",
        "complete_tariff",
    }
)
_ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "city",
    "state",
    "post_code",
    "country_code",
)
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_DAY = 1440
_DIRECTIONS = ("IMPORT", "EXPORT")
_TARIFF_TYPES = ("COMMODITY", "NON_COMMODITY")
_POSTAL_ADDRESS_TYPES = ("RESIDENTIAL", "COMMERCIAL")
_TERM_TYPES = ("", "FIXED", "UNTIL_TERMINATED")


class ConnectError(Exception):
    """An error object of the token endpoints or of the conversation (§2 Errors)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        error_type: str = "invalid_request",
        context: str = "connect",
    ) -> None:
        """Describe the error; Anode answers validation errors with 400 (§1)."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.error_type = error_type
        self.context = context


@dataclass(slots=True)
class Reply:
    """A page to answer with, and the events the step created."""

    page: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


# -- providers -------------------------------------------------------------------------


def add_provider(
    state: SimulatorState,
    display_name: str,
    *,
    provider_id: str | None = None,
    country_codes: tuple[str, ...] = ("GB",),
    tariffs: list[LibraryTariff] | None = None,
    direct: DirectLogin | None = None,
) -> Provider:
    """Offer a provider at addresses in some countries."""
    provider = Provider(
        id=provider_id or state.new_id("prv"),
        display_name=display_name,
        country_codes=tuple(code.upper() for code in country_codes),
        tariffs=list(tariffs or []),
        direct=direct,
    )
    state.connect.providers[provider.id] = provider
    return provider


@dataclass(frozen=True, slots=True)
class ConnectProviders:
    """The ids of the seeded providers and what a test needs to use them."""

    direct_id: str
    library_id: str
    manual_id: str
    standard_tariff_id: str
    economy7_tariff_id: str
    direct_username: str
    direct_password: str


#: Fixed ids so a demo's pages look the same after a restart.
DIRECT_PROVIDER_ID = "prv_650000000000000000000001"
LIBRARY_PROVIDER_ID = "prv_650000000000000000000002"
MANUAL_PROVIDER_ID = "prv_650000000000000000000003"
STANDARD_TARIFF_ID = "trt_650000000000000000000001"
ECONOMY7_TARIFF_ID = "trt_650000000000000000000002"
OCTOPUS_GO_TARIFF_ID = "trt_650000000000000000000003"
DIRECT_USERNAME = "customer@example.com"
DIRECT_PASSWORD = "letmein"


def seed_connect_providers(state: SimulatorState) -> ConnectProviders:
    """Seed a DIRECT provider (login), a library provider and one without either."""
    economy7 = (
        TodPeriod(30, 450, 0.12),  # 00:30-07:30
        TodPeriod(450, 30, 0.30),  # 07:30-00:30, past midnight
    )
    add_provider(
        state,
        "Octopus Energy",
        provider_id=DIRECT_PROVIDER_ID,
        direct=DirectLogin(DIRECT_USERNAME, DIRECT_PASSWORD),
        # Declining the login falls back to the library (§2 flow order).
        tariffs=[
            LibraryTariff(
                OCTOPUS_GO_TARIFF_ID,
                "Octopus Go",
                "Cheap nights from 00:30 to 05:30",
                "TIME_OF_DAY",
                periods=(TodPeriod(30, 330, 0.085), TodPeriod(330, 30, 0.27)),
            )
        ],
    )
    add_provider(
        state,
        "British Gas",
        provider_id=LIBRARY_PROVIDER_ID,
        tariffs=[
            LibraryTariff(
                STANDARD_TARIFF_ID, "Standard Variable", "Price cap rate", cost=0.245
            ),
            LibraryTariff(
                ECONOMY7_TARIFF_ID,
                "Economy 7",
                "Seven cheaper hours each night",
                "TIME_OF_DAY",
                periods=economy7,
            ),
        ],
    )
    add_provider(state, "EDF Energy", provider_id=MANUAL_PROVIDER_ID)
    return ConnectProviders(
        direct_id=DIRECT_PROVIDER_ID,
        library_id=LIBRARY_PROVIDER_ID,
        manual_id=MANUAL_PROVIDER_ID,
        standard_tariff_id=STANDARD_TARIFF_ID,
        economy7_tariff_id=ECONOMY7_TARIFF_ID,
        direct_username=DIRECT_USERNAME,
        direct_password=DIRECT_PASSWORD,
    )


# -- tokens (API side) ----------------------------------------------------------------


def _token_error(code: str, message: str, status: int = 400) -> ConnectError:
    """Build an error of the create-token endpoint."""
    return ConnectError(code, message, status=status, context="api.connect_token")


def _one_of(
    body: dict[str, Any], keys: tuple[str, str], allowed: tuple[str, ...], name: str
) -> str:
    """Read a field Anode and Zero spell differently; both keys are accepted (§1)."""
    values = {body[key] for key in keys if body.get(key) is not None}
    if len(values) > 1:
        raise _token_error(f"{name}_conflict", f"{keys[0]} and {keys[1]} disagree")
    value = values.pop() if values else allowed[0]
    if value not in allowed:
        raise _token_error(
            f"{name}_invalid", f"{keys[0]} must be one of {', '.join(allowed)}"
        )
    return str(value)


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    """Return a string field, or None; anything else is invalid."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _token_error(f"{key}_invalid", f"{key} must be a string")
    return value


def _bool_options(body: dict[str, Any], key: str) -> dict[str, bool]:
    """Return an object of booleans (`actions`, `route_options`)."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(item, bool) for item in value.values()
    ):
        raise _token_error(f"{key}_invalid", f"{key} must be an object of booleans")
    return value


def _validated_address(value: Any) -> dict[str, Any] | None:
    """Check a token's postal_address object."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(item, str) for item in value.values() if item is not None
    ):
        raise _token_error("postal_address_invalid", "postal_address must be an object")
    country = value.get("country_code")
    if country and not _country_ok(country):
        raise _token_error(
            "country_code_invalid", "country_code must be ISO 3166-1 alpha-2"
        )
    return _address(value)


def _required_url(body: dict[str, Any], key: str) -> str:
    """Return connect_url or callback_url: any scheme, no allow-list (§1, NOT FOUND)."""
    value = _optional_str(body, key)
    if not value:
        raise _token_error(f"{key}_missing", f"{key} is required")
    return value


def _token_location(
    state: SimulatorState, account_id: str, live_mode: bool, body: dict[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Return the token's location_id, location_reference_id and tariff_id."""
    location_id = _optional_str(body, "location_id")
    reference_id = _optional_str(body, "location_reference_id")
    if location_id and reference_id:
        # "You can only supply either location_id or location_reference but not both."
        raise _token_error(
            "location_parameters_conflict",
            "Supply either location_id or location_reference_id, not both",
        )
    if location_id is not None:
        location = state.locations.get(location_id)
        if location is None or (location["account_id"], location["live_mode"]) != (
            account_id,
            live_mode,
        ):
            raise _token_error(
                "location_id_invalid", f"No such location: {location_id}"
            )
    tariff_id = _optional_str(body, "tariff_id")
    if tariff_id is not None:
        owner = _tariff_location(state, account_id, live_mode, tariff_id)
        if owner is None or (location_id and owner != location_id):
            raise _token_error("tariff_id_invalid", f"No such tariff: {tariff_id}")
        location_id = owner
    return location_id, reference_id, tariff_id


def _token_customer(
    state: SimulatorState, account_id: str, body: dict[str, Any]
) -> tuple[str | None, str | None]:
    """Return the token's customer_id and customer_reference_id."""
    customer_id = _optional_str(body, "customer_id")
    if customer_id is not None and not customer_id.startswith("cus_"):
        raise _token_error("customer_id_invalid", f"No such customer: {customer_id}")
    reference_id = _optional_str(body, "customer_reference_id")
    if customer_id is None and reference_id:
        # "A customer is created with this reference" (§1).
        key = (account_id, reference_id)
        if key not in state.connect.customers:
            state.connect.customers[key] = state.new_id("cus")
        customer_id = state.connect.customers[key]
    return customer_id, reference_id


def _token_actions(body: dict[str, Any], location_id: str | None) -> dict[str, bool]:
    """Return the token's `actions` (§1: disconnect_tariff, edit_tariff)."""
    actions = _bool_options(body, "actions")
    if actions.get("disconnect_tariff") and actions.get("edit_tariff"):
        raise _token_error(
            "actions_invalid", "disconnect_tariff and edit_tariff exclude each other"
        )
    if actions.get("disconnect_tariff") and location_id is None:
        raise _token_error(
            "location_id_missing", "disconnect_tariff needs location_id or tariff_id"
        )
    return actions


def create_token(
    state: SimulatorState, account_id: str, live_mode: bool, body: Any
) -> ConnectToken:
    """POST /connect/token (and /connect/tariff/token): validate and store (§1)."""
    if not isinstance(body, dict):
        raise _token_error("body_invalid", "The request body must be a JSON object")
    connect_url = _required_url(body, "connect_url")
    callback_url = _required_url(body, "callback_url")
    direction = _one_of(
        body, ("tariff_direction", "direction"), _DIRECTIONS, "tariff_direction"
    )
    tariff_type = _one_of(body, ("tariff_type", "type"), _TARIFF_TYPES, "tariff_type")
    location_id, reference_id, tariff_id = _token_location(
        state, account_id, live_mode, body
    )
    actions = _token_actions(body, location_id)
    route_options = _bool_options(body, "route_options")
    address_type = _optional_str(body, "postal_address_type")
    if address_type is not None and address_type not in _POSTAL_ADDRESS_TYPES:
        raise _token_error(
            "postal_address_type_invalid",
            "postal_address_type must be RESIDENTIAL or COMMERCIAL",
        )
    postal_address = _validated_address(body.get("postal_address"))
    customer_id, customer_reference_id = _token_customer(state, account_id, body)
    now = state.now()
    token = ConnectToken(
        id=state.new_id("cot"),
        account_id=account_id,
        live_mode=live_mode,
        connect_url=connect_url,
        callback_url=callback_url,
        direction=direction,
        tariff_type=tariff_type,
        time_created=now,
        expires_at=now + timedelta(seconds=state.connect.token_lifetime),
        customer_id=customer_id,
        customer_reference_id=customer_reference_id,
        location_id=location_id,
        location_reference_id=reference_id,
        tariff_id=tariff_id,
        edit_tariff=bool(actions.get("edit_tariff")),
        route_options=route_options,
        postal_address=postal_address,
        postal_address_type=address_type,
    )
    state.connect.tokens[token.id] = token
    if actions.get("disconnect_tariff"):
        # "disconnect a tariff without launching Connect" (§1): done, token used up.
        _Session(state, token).disconnect()
    return token


def _tariff_location(
    state: SimulatorState, account_id: str, live_mode: bool, tariff_id: str
) -> str | None:
    """Return the location of the account whose status holds a tariff id."""
    for location_id, slots in state.statuses.items():
        location = state.locations[location_id]
        if (location["account_id"], location["live_mode"]) != (account_id, live_mode):
            continue
        if any(
            slot.get("tariff", {}).get("id") == tariff_id for slot in slots.values()
        ):
            return location_id
    return None


def retrieve_token(
    state: SimulatorState, account_id: str, live_mode: bool, value: str | None
) -> dict[str, Any]:
    """GET /connect/tariff/token?connect_token=: the session's outcome (§4)."""
    context = "api.connect_token_retrieve"
    if not value:
        raise ConnectError(
            "connect_token_missing", "connect_token is required", context=context
        )
    token = state.connect.tokens.get(value)
    if token is None or (token.account_id, token.live_mode) != (account_id, live_mode):
        raise ConnectError("not_found", "Not Found", status=404, context=context)
    if state.now() >= token.expires_at:
        # "Expired tokens cannot be claimed" (§4); the code is not documented.
        raise ConnectError(
            "connect_token_expired",
            "The connect token has expired",
            status=404,
            context=context,
        )
    return {
        "id": token.id,
        "object": "connect_token",
        "live_mode": token.live_mode,
        "customer_id": token.customer_id,
        "customer_reference_id": token.customer_reference_id,
        "location_id": token.location_id if token.complete_action else None,
        "location_reference_id": token.location_reference_id,
        "is_tariff_processed": token.is_tariff_processed,
        # The DZ copy of the docs names the same flag tariff_available (§4).
        "tariff_available": token.is_tariff_processed,
        "complete_action": token.complete_action,
        "time_created": iso_z(token.time_created),
        "time_expiry": iso_z(token.expires_at),
    }


# -- the conversation (Connect side) --------------------------------------------------


def session_token(state: SimulatorState, value: Any) -> ConnectToken:
    """Return a token the conversation may use, or raise the error for it."""
    if not isinstance(value, str) or not value:
        raise ConnectError(
            "connect_token_missing",
            "connect_token is required",
            error_type="connect_error",
        )
    token = state.connect.tokens.get(value)
    # The codes for unknown, expired and used tokens are NOT FOUND in the docs (§4).
    if token is None:
        raise ConnectError(
            "connect_token_invalid", "Unknown connect token", error_type="connect_error"
        )
    if state.now() >= token.expires_at:
        raise ConnectError(
            "connect_token_expired",
            "The connect token has expired; create a new one",
            error_type="connect_error",
        )
    if token.ended and state.connect.single_use:
        raise ConnectError(
            "connect_token_used",
            "The connect token was used; create a new one for each session",
            error_type="connect_error",
        )
    return token


def converse(state: SimulatorState, body: Any) -> Reply:
    """Answer one POST to the Connect API with the next page (§2)."""
    if not isinstance(body, dict):
        raise ConnectError("data_json_invalid", "The body must be a JSON object")
    token = session_token(state, body.get("connect_token"))
    session = _Session(state, token)
    route = body.get("route")
    if token.route is None:
        session.start()
    if route in START_ROUTES:
        # session_start also resumes: it answers the current page (§2, INFERRED).
        return session.reply()
    current = token.route
    # The docs' BACK example has no route: it applies to the current page (§2).
    route = ROUTE_ALIASES.get(route, route) if route is not None else current
    if route != current:
        raise ConnectError(
            "route_invalid",
            f"The session is on {current}, not {route}",
            error_type="connect_error",
            context=f"connect.{current}",
        )
    action, data = body.get("action"), body.get("data")
    # The WEB client sends `type: submit` too; it means nothing here (§2).
    try:
        if action is not None:
            session.act(action)
        else:
            session.submit(data)
    except ConnectError as err:
        if not state.connect.error_route:
            raise
        # The `error` render route of the reference client's types (§2): a page,
        # not an error object; the session stays on the page that was answered.
        return Reply(session.error_page(err))
    return session.reply()


def direct_login(
    state: SimulatorState,
    value: Any,
    provider_id: str,
    *,
    username: str | None,
    password: str | None,
    decline: bool = False,
) -> Reply:
    """The provider login page's answer: log in or decline, then back to Connect (§3)."""
    token = session_token(state, value)
    provider = state.connect.providers.get(provider_id)
    if (
        provider is None
        or provider.direct is None
        or token.route != "session_redirect"
        or token.capture.provider_id != provider_id
    ):
        raise ConnectError(
            "provider_login_invalid",
            "This session is not waiting for this provider's login",
            error_type="connect_error",
        )
    session = _Session(state, token)
    if decline:
        # A declined DIRECT login falls back to library / manual pages (§3.6).
        session.fall_back(provider)
        return session.reply()
    login = provider.direct
    if username != login.username or password != login.password:
        raise ConnectError(
            "login_failed", "Wrong username or password", error_type="connect_error"
        )
    session.direct_outcome(provider, login)
    return session.reply()


def finish_pending(
    state: SimulatorState, value: str, outcome: DirectOutcome = "CONNECTED"
) -> Reply:
    """Let a pending tariff become available (or fail), as Flatpeak would later (§2)."""
    token = state.connect.tokens[value]
    if token.complete_action != "SAVE" or token.is_tariff_processed:
        raise ValueError(f"{value} has no pending tariff")
    session = _Session(state, token)
    session.finish_pending(outcome)
    return session.reply()


def _country_ok(value: Any) -> bool:
    """Tell whether a value looks like an ISO 3166-1 alpha-2 code."""
    return (
        isinstance(value, str)
        and len(value) == 2
        and value.isascii()
        and value.isalpha()
    )


def _address(value: dict[str, Any] | None) -> dict[str, Any]:
    """Return all six address fields (empty strings where unknown)."""
    value = value or {}
    address = {name: value.get(name) or "" for name in _ADDRESS_FIELDS}
    address["country_code"] = address["country_code"].upper()
    return address


def _number(value: Any) -> float | None:
    """Return a JSON number as a float (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _minutes(value: Any) -> int | None:
    """Parse `HH:MM:SS` (or `HH:MM`) to minutes after midnight."""
    if not isinstance(value, str) or not (match := _TIME.fullmatch(value)):
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def _cost(value: Any, context: str) -> float:
    """Validate a cost in major units (§2 units)."""
    cost = _number(value)
    if cost is None:
        raise ConnectError(
            "data_json_invalid", "cost must be a number", context=context
        )
    if cost == 0:
        raise ConnectError("cost_value_zero", "cost cannot be zero", context=context)
    if cost < 0:
        raise ConnectError(
            "cost_value_negative", "cost cannot be negative", context=context
        )
    return cost


def check_day_cover(periods: list[TodPeriod], context: str) -> None:
    """The periods must cover 24 h without a gap or overlap (§2 rate_tod_capture).

    `00:00:00` as an end is midnight and a period may wrap past it; a period that
    ends where it starts covers the whole day.
    """
    ordered = sorted(periods, key=lambda period: period.start)
    total = sum((period.end - period.start) % _DAY or _DAY for period in ordered)
    for before, after in itertools.pairwise(ordered):
        if before.end != after.start:
            raise ConnectError(
                "gap_in_time_period",
                f"A period ends at {_hhmm(before.end)} but the next starts at "
                f"{_hhmm(after.start)}",
                context=context,
            )
    if total > _DAY:
        raise ConnectError("gap_in_time_period", "The periods overlap", context=context)
    if ordered[-1].end != ordered[0].start or total < _DAY:
        raise ConnectError(
            "incomplete_time_period",
            "The periods must cover the full 24 hours",
            context=context,
        )


def _hhmm(minutes: int) -> str:
    """Format minutes after midnight as HH:MM:SS."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _with_query(url: str, **params: str) -> str:
    """Append query parameters to a URL (custom schemes included)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode(params))))
    return urlunsplit(parts._replace(query=query))


class _Session:
    """One step of a token's conversation: moves between pages and saves tariffs."""

    def __init__(self, state: SimulatorState, token: ConnectToken) -> None:
        """Work on a token's session."""
        self.state = state
        self.token = token
        self.capture = token.capture
        self.events: list[dict[str, Any]] = []

    # -- navigation ------------------------------------------------------------------

    @property
    def context(self) -> str:
        """Return the error context of the current page."""
        return f"connect.{self.token.route}"

    def error(self, code: str, message: str) -> ConnectError:
        """Build a validation error of the current page."""
        return ConnectError(code, message, context=self.context)

    def go(self, route: str) -> None:
        """Show another page; BACK returns to this one."""
        later = self.state.connect.later_pages.get(route)
        if later is not None and route not in self.token.later_seen:
            # A page of a later release comes first, once per session.
            self.token.later_seen.add(route)
            self.token.later_before = route
            route = later.route
        if self.token.route is not None and self.token.route != route:
            self.token.history.append(self.token.route)
        self.token.route = route

    def start(self) -> None:
        """Pick the first page (§2 session_start)."""
        token = self.token
        if token.location_id and not token.edit_tariff:
            # Opening on an existing location shows its tariff first (§2).
            entry = self.state.statuses[token.location_id][token.slot]
            if entry["status"] == "CONNECTED":
                token.route = (
                    "tariff_connection_pending"
                    if self._pending(token.location_id)
                    else "tariff_summary"
                )
            elif entry["status"] == "ERROR":
                token.route = "tariff_connection_failed"
            if token.route is not None:
                return
        address = token.postal_address
        if address is None and token.location_id:
            address = self.state.locations[token.location_id]["postal_address"]
        self.capture.postal_address = _address(address)
        # A country and a city skip the address page (§1 postal_address).
        complete = bool(
            self.capture.postal_address["country_code"]
            and self.capture.postal_address["city"]
        )
        token.route = "provider_select" if complete else "postal_address_capture"

    def end(self) -> None:
        """Leave the session: to callback_url with fp_cot (§4, INFERRED)."""
        self.token.ended = True
        self.token.history.clear()
        self.token.route = self.state.connect.end_route

    def later_page(self) -> LaterPage | None:
        """Return the page of a later release being shown, if one is."""
        before = self.token.later_before
        later = self.state.connect.later_pages.get(before) if before else None
        return later if later is not None and later.route == self.token.route else None

    def error_page(self, err: ConnectError) -> dict[str, Any]:
        """Render a refusal as the `error` route (§2, the reference client's types)."""
        return {
            "connect_token": self.token.id,
            "route": "error",
            "live_mode": self.token.live_mode,
            "direction": self.token.direction,
            "type": self.token.tariff_type,
            "data": {"error_code": err.code, "error_message": err.message},
        }

    def act(self, action: Any) -> None:
        """Apply a page's action."""
        route = self.token.route
        assert route is not None
        if (later := self.later_page()) is not None:
            self.act_later(later, action)
            return
        allowed = (*PAGE_ACTIONS[route], *EXTRA_ACTIONS.get(route, ()), *NAVIGATION)
        if not isinstance(action, str) or action not in allowed:
            raise self.error(
                "action_invalid", f"{action!r} is not an action of {route}"
            )
        if action == "WRONG_TARIFF" and self.wrong_tariff_reported():
            # "Not available if already reported" (§2 tariff_summary).
            raise self.error("action_invalid", "The tariff was reported already")
        handler = getattr(self, f"action_{action.lower()}")
        handler()

    def act_later(self, later: LaterPage, action: Any) -> None:
        """Apply an action of a later page: Anode's as anywhere; others go on."""
        if not isinstance(action, str) or action not in later.actions:
            raise self.error(
                "action_invalid", f"{action!r} is not an action of {later.route}"
            )
        before = self.token.later_before
        assert before is not None
        self.token.later_before = None
        handler = getattr(self, f"action_{action.lower()}", None)
        if handler is None:
            self.token.route = before
        else:
            handler()

    def wrong_tariff_reported(self) -> bool:
        """Whether this session's tariff was reported wrong, by any session."""
        location_id = self.token.location_id
        return self.token.wrong_tariff_reported or (
            location_id is not None
            and (location_id, self.token.slot) in self.state.connect.reported_tariffs
        )

    def action_back(self) -> None:
        """BACK: the previous page; on the first, leave (Busbar's wording, §2)."""
        if self.token.history:
            self.token.route = self.token.history.pop()
        else:
            self.end()

    def action_close(self) -> None:
        """CLOSE: "Returns callback_url" (§2 navigation actions)."""
        self.end()

    def action_address_change(self) -> None:
        """ADDRESS_CHANGE: back to the address page."""
        self.go("postal_address_capture")

    def action_provider_missing(self) -> None:
        """PROVIDER_MISSING: ask for the provider's name."""
        self.go("provider_name_capture")

    def action_tariff_missing(self) -> None:
        """TARIFF_MISSING: capture the tariff by hand (§2 flow order)."""
        self.capture.connection_type = "MANUAL"
        self.go("tariff_structure_select")

    def action_edit(self) -> None:
        """EDIT: restart at provider selection; the tariff stays connected."""
        address = self.capture.postal_address
        if not (address or {}).get("country_code"):
            address = _address(self._location_address())
        self.token.capture = self.capture = Capture(postal_address=address)
        complete = bool(address and address["country_code"] and address["city"])
        self.go("provider_select" if complete else "postal_address_capture")

    def action_disconnect(self) -> None:
        """DISCONNECT: "disconnects the tariff and completes the session"."""
        self.disconnect()

    def action_wrong_tariff(self) -> None:
        """WRONG_TARIFF: reported to Flatpeak; the summary stays."""
        self.token.wrong_tariff_reported = True
        self.state.connect.wrong_tariff_reports.append(self.token.id)
        if self.token.location_id is not None:
            self.state.connect.reported_tariffs.add(
                (self.token.location_id, self.token.slot)
            )

    def action_dismiss_direct(self) -> None:
        """DISMISS_DIRECT (WEB types): give up waiting for the DIRECT tariff."""
        provider = self.state.connect.providers.get(self.capture.provider_id or "")
        if provider is None:
            # Opened on a location: no provider pages to fall back to, choose again.
            self.action_edit()
        else:
            self.fall_back(provider)

    def action_reconnect(self) -> None:
        """RECONNECT (WEB types): log in to the DIRECT provider again."""
        provider = self.state.connect.providers.get(self.capture.provider_id or "")
        if provider is None or provider.direct is None:
            raise self.error("action_invalid", "No DIRECT provider to reconnect")
        self.go("session_redirect")

    def disconnect(self) -> None:
        """Disconnect the token's tariff and end the session."""
        location_id = self.token.location_id
        if location_id is not None:
            self.state.set_status(location_id, self.token.slot, status="NOT_CONNECTED")
            if self.token.tariff_type == "COMMODITY":
                self.state.clear_prices(location_id, direction=self.token.direction)
        self.token.complete_action = "DISCONNECT"
        self.token.is_tariff_processed = False
        self.end()

    # -- forms -----------------------------------------------------------------------

    def submit(self, data: Any) -> None:
        """Apply a page's form answer."""
        route = self.token.route
        assert route is not None
        if route in ACTION_PAGES or self.later_page() is not None:
            raise self.error("action_missing", f"{route} takes an action")
        if route == "contract_term_capture" and data is None:
            # The WEB client's "Until terminated" posts no data at all (§2).
            self.contract_term({})
            return
        if not isinstance(data, dict):
            raise self.error("data_json_invalid", "data must be an object")
        getattr(self, route)(data)

    def postal_address_capture(self, data: dict[str, Any]) -> None:
        """Take the address; address_line1 and post_code are optional (Anode, §2)."""
        address = data.get("postal_address")
        if not isinstance(address, dict) or not all(
            isinstance(value, str) for value in address.values() if value is not None
        ):
            raise self.error("data_json_invalid", "postal_address must be an object")
        country = address.get("country_code")
        if not country:
            raise self.error("country_code_missing", "country_code is required")
        if not _country_ok(country):
            raise self.error("country_code_invalid", "country_code must be ISO alpha-2")
        if not address.get("city"):
            raise self.error("city_missing", "city is required")
        if country.upper() not in COUNTRIES:
            raise self.error(
                "timezone_not_found", "No time zone is known for this address"
            )
        self.capture.postal_address = _address(address)
        self.go("provider_select")

    def provider_select(self, data: dict[str, Any]) -> None:
        """Take a provider; a DIRECT one sends the browser to its login (§3)."""
        chosen = data.get("provider")
        if chosen is not None and not isinstance(chosen, dict):
            raise self.error("data_json_invalid", "provider must be an object")
        provider_id = (chosen or {}).get("id")
        if not provider_id:
            raise self.error("provider_id_missing", "provider.id is required")
        if not isinstance(provider_id, str):
            raise self.error("data_json_invalid", "provider.id must be a string")
        provider = self.state.connect.providers.get(provider_id)
        if provider is None:
            raise self.error("provider_not_found", f"No such provider: {provider_id}")
        if provider not in self._providers():
            raise self.error(
                "provider_id_invalid", "The provider is not available at this address"
            )
        self.capture.provider = provider.reference()
        self.capture.provider_id = provider.id
        if provider.direct is not None:
            self.capture.connection_type = "DIRECT"
            self.go("session_redirect")
        else:
            self.fall_back(provider)

    def fall_back(self, provider: Provider) -> None:
        """Without a DIRECT login: the library if there is one, else by hand."""
        self.capture.connection_type = "LIBRARY" if provider.tariffs else "MANUAL"
        if self.token.route == "session_redirect":
            # The redirect page is not one to come back to.
            self.token.route = self.token.history.pop() if self.token.history else None
        self.go("tariff_select" if provider.tariffs else "tariff_structure_select")

    def provider_name_capture(self, data: dict[str, Any]) -> None:
        """Take the name of a provider Connect does not list."""
        provider = data.get("provider")
        if provider is not None and not isinstance(provider, dict):
            raise self.error("data_json_invalid", "provider must be an object")
        name = (provider or {}).get("name")
        if name is not None and not isinstance(name, str):
            raise self.error("data_json_invalid", "provider.name must be a string")
        if not name or not name.strip():
            raise self.error("provider_name_missing", "provider.name is required")
        provider_id = self.state._provider_id(name.strip())
        self.capture.provider = Provider(provider_id, name.strip()).reference()
        self.capture.provider_id = None
        self.capture.connection_type = "MANUAL"
        self.go("tariff_structure_select")

    def tariff_select(self, data: dict[str, Any]) -> None:
        """Take a library tariff."""
        chosen = data.get("tariff")
        if chosen is not None and not isinstance(chosen, dict):
            raise self.error("data_json_invalid", "tariff must be an object")
        tariff_id = (chosen or {}).get("id")
        if not tariff_id:
            raise self.error("tariff_id_missing", "tariff.id is required")
        if not isinstance(tariff_id, str):
            raise self.error("data_json_invalid", "tariff.id must be a string")
        owner = next(
            (
                (provider, tariff)
                for provider in self.state.connect.providers.values()
                for tariff in provider.tariffs
                if tariff.id == tariff_id
            ),
            None,
        )
        if owner is None:
            raise self.error("tariff_not_found", f"No such tariff: {tariff_id}")
        provider, tariff = owner
        if provider.id != self.capture.provider_id:
            raise self.error(
                "tariff_id_invalid", "The tariff is not one of this provider's"
            )
        self.capture.connection_type = "LIBRARY"
        self.capture.library_tariff_id = tariff.id
        self.capture.tariff_name = tariff.name
        self.capture.structure_type = tariff.structure_type
        self.capture.cost = tariff.cost
        self.capture.periods = tariff.periods
        self.after_rates()

    def tariff_structure_select(self, data: dict[str, Any]) -> None:
        """Take exactly one structure option."""
        options = data.get("options")
        if not isinstance(options, list) or not all(
            isinstance(item, str) for item in options
        ):
            raise self.error("data_json_invalid", "options must be a list of strings")
        if len(options) != 1:
            raise self.error("option_invalid", "Choose exactly one option")
        (option,) = options
        if option not in self._structure_options():
            raise self.error("option_not_supported", f"{option} is not offered")
        self.capture.structure_type = option
        if option == "MARKET":
            self.capture.connection_type = "MARKET"
            self.go("surcharge_capture")
            return
        self.capture.connection_type = "MANUAL"
        self.go(
            {
                "FIXED": "rate_fixed_capture",
                "TIME_OF_DAY": "rate_tod_capture",
                ADVANCED: "rate_advanced_capture",
            }[option]
        )

    def rate_fixed_capture(self, data: dict[str, Any]) -> None:
        """Take one cost for all hours."""
        self.capture.cost = _cost(data.get("cost"), self.context)
        self.capture.periods = ()
        self.after_rates()

    def rate_tod_capture(self, data: dict[str, Any]) -> None:
        """Take time-of-day periods that cover the day."""
        hours = data.get("hours")
        if not isinstance(hours, list) or not hours:
            raise self.error("data_json_invalid", "hours must be a non-empty list")
        periods = []
        for entry in hours:
            if not isinstance(entry, dict):
                raise self.error("data_json_invalid", "each hours entry is an object")
            cost = _cost(entry.get("cost"), self.context)
            start = _minutes(entry.get("valid_from"))
            if start is None:
                raise self.error("valid_from_invalid", "valid_from must be HH:MM:SS")
            end = _minutes(entry.get("valid_to"))
            if end is None:
                raise self.error("valid_to_invalid", "valid_to must be HH:MM:SS")
            periods.append(TodPeriod(start, end, cost))
        check_day_cover(periods, self.context)
        self.capture.periods = tuple(periods)
        self.capture.cost = None
        self.after_rates()

    def rate_advanced_capture(self, data: dict[str, Any]) -> None:
        """Take an advanced tariff; only its shape is checked."""
        tariff = data.get("tariff")
        schedule = tariff.get("schedule") if isinstance(tariff, dict) else None
        if not isinstance(schedule, list) or not schedule:
            raise self.error("data_json_invalid", "tariff.schedule must be a list")
        assert isinstance(tariff, dict)
        self.capture.advanced = tariff
        self.capture.cost = _first_fixed_rate(tariff) or 0.25
        self.after_rates()

    def surcharge_capture(self, data: dict[str, Any]) -> None:
        """Take the market surcharge: a fixed fee, then a percentage on top."""
        surcharge = data.get("surcharge")
        if not isinstance(surcharge, dict):
            raise self.error("data_json_invalid", "surcharge must be an object")
        fixed = _number(surcharge.get("fixed", 0))
        percentage = _number(surcharge.get("percentage", 0))
        if fixed is None or percentage is None:
            raise self.error("data_json_invalid", "fixed and percentage are numbers")
        if not 0 <= percentage <= 100:
            raise self.error(
                "surcharge_percentage_invalid", "percentage must be 0 to 100"
            )
        regions = self._regions()
        region = data.get("region")
        if region is not None:
            # Zero's market_surcharge_capture posted the region here (§2).
            if region not in regions:
                raise self.error("market_region_invalid", f"{region!r} is no region")
            self.capture.region = region
        self.capture.surcharge = {"fixed": fixed, "percentage": percentage}
        if regions and self.capture.region is None:
            self.go("region_select")
        else:
            self.after_rates()

    def region_select(self, data: dict[str, Any]) -> None:
        """Take the market region the address could not be mapped to."""
        region = data.get("region")
        if region not in self._regions():
            raise self.error("data_json_invalid", "region must be one of regions")
        self.capture.region = region
        self.after_rates()

    def tariff_name_capture(self, data: dict[str, Any]) -> None:
        """Take the tariff's name."""
        tariff = data.get("tariff")
        if tariff is not None and not isinstance(tariff, dict):
            raise self.error("data_json_invalid", "tariff must be an object")
        name = (tariff or {}).get("name")
        if name is not None and not isinstance(name, str):
            raise self.error("data_json_invalid", "tariff.name must be a string")
        if not name or not name.strip():
            raise self.error("tariff_name_missing", "tariff.name is required")
        self.capture.tariff_name = name.strip()
        self.after_name()

    def contract_term_capture(self, data: dict[str, Any]) -> None:
        """Take the contract term in the docs' or in the WEB client's shape (§2)."""
        self.contract_term(data)

    def contract_term(self, data: dict[str, Any]) -> None:
        """Store the contract dates; null or absent means unknown."""
        dates = {}
        for name in ("contract_start_date", "contract_end_date"):
            value = data.get(name)
            if value is not None and (
                not isinstance(value, str) or not _RFC3339.fullmatch(value)
            ):
                raise self.error("date_format_invalid", f"{name} must be RFC 3339")
            dates[name] = value
        term_type = data.get("contract_term_type")
        if term_type is not None and term_type not in _TERM_TYPES:
            raise self.error("data_json_invalid", "contract_term_type is not valid")
        self.capture.contract_start_date = dates["contract_start_date"]
        self.capture.contract_end_date = dates["contract_end_date"]
        self.capture.contract_term_type = term_type or (
            "FIXED" if dates["contract_end_date"] else "UNTIL_TERMINATED"
        )
        self.save(processed=True)

    # -- after the rates: optional pages, then save -----------------------------------

    def after_rates(self) -> None:
        """Ask for the tariff's name if enabled (not for library tariffs)."""
        if (
            self.token.route_options.get("tariff_name_capture")
            and self.capture.connection_type != "LIBRARY"
        ):
            self.go("tariff_name_capture")
        else:
            self.after_name()

    def after_name(self) -> None:
        """Ask for the contract term if enabled, else save."""
        if self.token.route_options.get("contract_term_capture"):
            self.go("contract_term_capture")
        else:
            self.save(processed=True)

    def direct_outcome(self, provider: Provider, login: DirectLogin) -> None:
        """After a DIRECT login: summary, pending or failed (§3.6)."""
        self.token.route = self.token.history.pop() if self.token.history else None
        self.capture.connection_type = "DIRECT"
        self.capture.tariff_name = login.tariff_name
        self.capture.structure_type = login.structure_type
        self.capture.provider = provider.reference()
        if login.outcome == "FAILED":
            self.go("tariff_connection_failed")
        else:
            self.save(processed=login.outcome == "CONNECTED")

    def finish_pending(self, outcome: DirectOutcome) -> None:
        """A pending tariff is reached (rates available) or fails."""
        location_id = self.token.location_id
        assert location_id is not None
        if outcome == "FAILED":
            self.state.set_status(location_id, self.token.slot, status="ERROR")
            # "After 48 h without access a tariff.fetch.failed webhook is sent" (§2).
            self.events.append(
                self.state.make_tariff_event("tariff.fetch.failed", location_id)
            )
            if self.token.route == "tariff_connection_pending":
                self.token.route = "tariff_connection_failed"
            return
        if self.token.tariff_type == "COMMODITY":
            self.state.set_prices_error(
                location_id, None, direction=self.token.direction
            )
        self.token.is_tariff_processed = True
        self.completed(location_id)
        if self.token.route == "tariff_connection_pending":
            self.token.route = "tariff_summary"

    def save(self, *, processed: bool) -> None:
        """Connect the captured tariff: "saved as soon as the summary … is reached"."""
        token, capture = self.token, self.capture
        location_id = token.location_id or self._new_location()
        token.location_id = location_id
        provider = capture.provider or {"display_name": "Unknown provider"}
        end = capture.contract_end_date
        self.state.set_status(
            location_id,
            token.slot,
            status="CONNECTED",
            connection_type=capture.connection_type,
            provider_name=provider["display_name"],
            provider_id=provider.get("id"),
            tariff_name=capture.tariff_name or self._default_tariff_name(),
            structure_type=capture.structure_type or "FIXED",
            contract_end_date=datetime.fromisoformat(end) if end else None,
            tariff_id=token.tariff_id,
        )
        if token.tariff_type == "COMMODITY":
            self.state.set_price_pattern(
                location_id, self._pattern(location_id), direction=token.direction
            )
            self.state.set_prices_error(
                location_id,
                None if processed else "pending_connect",
                direction=token.direction,
            )
        token.complete_action = "SAVE"
        token.is_tariff_processed = processed
        if processed:
            self.completed(location_id)
        self.go("tariff_summary" if processed else "tariff_connection_pending")

    def completed(self, location_id: str) -> None:
        """Announce the session once its rates are available (§4 Webhook)."""
        if self.token.completion_event_id is not None:
            return
        event = self.state.make_connect_session_complete(
            location_id, connect_token=self.token.id
        )
        self.token.completion_event_id = event["id"]
        self.events.append(event)

    def _new_location(self) -> str:
        """Create the location a session without location_id saves into."""
        address = self.capture.postal_address or _address(None)
        timezone, currency = COUNTRIES.get(
            address["country_code"], ("Europe/London", "GBP")
        )
        location = self.state.add_location(
            self.token.account_id,
            live_mode=self.token.live_mode,
            reference_id=self.token.location_reference_id,
            customer_id=self.token.customer_id,
            timezone=timezone,
            currency_code=currency,
            postal_address=address,
        )
        return str(location["id"])

    def _default_tariff_name(self) -> str:
        """Name a tariff captured by hand without a name page."""
        structure = self.capture.structure_type or "FIXED"
        return {
            "FIXED": "Fixed rate",
            "TIME_OF_DAY": "Time of day",
            "MARKET": "Market rate",
        }.get(structure, "Advanced tariff")

    def _pattern(self, location_id: str) -> PricePattern:
        """Return the captured tariff's prices as a pattern."""
        zone = ZoneInfo(self.state.locations[location_id]["timezone"])
        capture = self.capture
        if capture.periods:
            periods = capture.periods
            return lambda start: _period_cost(periods, start.astimezone(zone))
        if capture.connection_type == "DIRECT" or capture.structure_type == "MARKET":
            surcharge = capture.surcharge or {"fixed": 0.0, "percentage": 0.0}

            def market(start: datetime) -> float:
                base = agile_price(start.astimezone(zone)) + surcharge["fixed"]
                return round(base * (1 + surcharge["percentage"] / 100), 5)

            return market
        cost = capture.cost or 0.25
        return lambda _start: cost

    # -- pages -----------------------------------------------------------------------

    def reply(self) -> Reply:
        """Render the current page."""
        route = self.token.route
        assert route is not None
        page: dict[str, Any] = {
            "connect_token": self.token.id,
            "route": route,
            "live_mode": self.token.live_mode,
            "direction": self.token.direction,
            # Doc examples carry the tariff type here (§2); clients treat it as info.
            "type": self.token.tariff_type,
        }
        if (later := self.later_page()) is not None:
            page["actions"] = list(later.actions)
            page["data"] = dict(later.data)
            return Reply(page, self.events)
        if route in PAGE_ACTIONS:
            actions = [*PAGE_ACTIONS[route], *self._web_actions(route), *NAVIGATION]
            if route in REDIRECT_ROUTES:
                actions = []  # "It carries no actions" (§3.1)
            elif self.wrong_tariff_reported():
                actions = [action for action in actions if action != "WRONG_TARIFF"]
            if actions:
                page["actions"] = actions
        page["data"] = getattr(self, f"data_{route}")()
        return Reply(page, self.events)

    def _web_actions(self, route: str) -> tuple[str, ...]:
        """DISMISS_DIRECT or RECONNECT, where the switch lists them for a DIRECT login."""
        action = WEB_ACTIONS.get(route)
        provider = self.state.connect.providers.get(self.capture.provider_id or "")
        if (
            action is None
            or not self.state.connect.web_actions
            or provider is None
            or provider.direct is None
        ):
            return ()
        return (action,)

    def _address_view(self) -> dict[str, Any]:
        """Return the address the pages show."""
        return _address(self.capture.postal_address)

    def _provider_view(self) -> dict[str, Any] | None:
        """Return the provider being connected (or the location's)."""
        if self.capture.provider is not None:
            return self.capture.provider
        entry = self._status_entry()
        return entry.get("provider") if entry else None

    def _currency(self) -> str:
        """Return the currency the rate pages ask in."""
        if self.token.location_id:
            return str(self.state.locations[self.token.location_id]["currency_code"])
        country = self._address_view()["country_code"]
        return COUNTRIES.get(country, ("", "GBP"))[1]

    def data_postal_address_capture(self) -> dict[str, Any]:
        """Data of postal_address_capture."""
        return {"postal_address": self._address_view()}

    def data_provider_select(self) -> dict[str, Any]:
        """Data of provider_select: the providers at this address."""
        return {
            "postal_address": self._address_view(),
            "providers": [provider.reference() for provider in self._providers()],
        }

    def data_provider_name_capture(self) -> dict[str, Any]:
        """Data of provider_name_capture."""
        return {"postal_address": self._address_view(), "provider": {"name": ""}}

    def data_tariff_select(self) -> dict[str, Any]:
        """Data of tariff_select: the provider's library."""
        provider = self.state.connect.providers[self.capture.provider_id or ""]
        return {
            "postal_address": self._address_view(),
            "provider": provider.reference(),
            "tariffs": [
                {
                    "id": tariff.id,
                    "name": tariff.name,
                    "description": tariff.description,
                }
                for tariff in provider.tariffs
            ],
        }

    def data_tariff_name_capture(self) -> dict[str, Any]:
        """Data of tariff_name_capture."""
        return {
            "provider": self._provider_view(),
            "tariff": {"name": self.capture.tariff_name or ""},
        }

    def data_tariff_structure_select(self) -> dict[str, Any]:
        """Data of tariff_structure_select."""
        return {
            "provider": self._provider_view(),
            "options": list(self._structure_options()),
        }

    def data_rate_fixed_capture(self) -> dict[str, Any]:
        """Data of rate_fixed_capture."""
        return {
            "currency_code": self._currency(),
            "provider": self._provider_view(),
            "cost": self.capture.cost or 0,
        }

    def data_rate_tod_capture(self) -> dict[str, Any]:
        """Data of rate_tod_capture (one empty all-day period by default)."""
        periods = self.capture.periods or (TodPeriod(0, 0, 0),)
        return {
            "currency_code": self._currency(),
            "provider": self._provider_view(),
            "hours": [
                {
                    "cost": period.cost,
                    "valid_from": _hhmm(period.start),
                    "valid_to": _hhmm(period.end),
                }
                for period in periods
            ],
        }

    def data_rate_advanced_capture(self) -> dict[str, Any]:
        """Data of rate_advanced_capture."""
        return {
            "currency_code": self._currency(),
            "provider": self._provider_view(),
            "tariff": self.capture.advanced
            or {
                "market_rates": False,
                "contract_start_date": None,
                "contract_end_date": None,
                "schedule": [],
            },
        }

    def data_surcharge_capture(self) -> dict[str, Any]:
        """Data of surcharge_capture."""
        return {
            "currency_code": self._currency(),
            "provider": self._provider_view(),
            "surcharge": self.capture.surcharge or {"fixed": 0, "percentage": 0},
        }

    def data_region_select(self) -> dict[str, Any]:
        """Data of region_select."""
        return {
            "provider": self._provider_view(),
            "regions": list(self._regions()),
            "region": self.capture.region,
        }

    def data_contract_term_capture(self) -> dict[str, Any]:
        """Data of contract_term_capture, in the docs' shape."""
        return {
            "provider": self._provider_view(),
            "contract_start_date": self.capture.contract_start_date,
            "contract_end_date": self.capture.contract_end_date,
            "contract_term_type": self.capture.contract_term_type or "",
        }

    def data_tariff_summary(self) -> dict[str, Any]:
        """Data of tariff_summary: the connected tariff and its rates."""
        entry = self._status_entry() or {}
        tariff = entry.get("tariff", {})
        location_id = self.token.location_id
        assert location_id is not None
        return {
            "connection_type": entry.get("connection_type"),
            "currency_code": self._currency(),
            "market_rates_source": tariff.get("structure_type") == "MARKET",
            "provider": entry.get("provider"),
            "tariff": {
                "status": entry.get("status"),
                "name": tariff.get("display_name"),
                "structure_type": tariff.get("structure_type"),
                "contract_start_date": self.capture.contract_start_date,
                "contract_end_date": tariff.get("contract_end_date"),
                "contract_term_type": self.capture.contract_term_type
                or ("FIXED" if tariff.get("contract_end_date") else "UNTIL_TERMINATED"),
                "tiered": False,
            },
            "rates": self._rates(location_id),
        }

    def data_tariff_connection_pending(self) -> dict[str, Any]:
        """Data of tariff_connection_pending."""
        return self._connection_view()

    def data_tariff_connection_failed(self) -> dict[str, Any]:
        """Data of tariff_connection_failed."""
        return self._connection_view()

    def data_session_redirect(self) -> dict[str, Any]:
        """Data of session_redirect: a provider's login, or the way out (§3, §4)."""
        if self.token.ended:
            return {
                "redirect_url": _with_query(
                    self.token.callback_url, fp_cot=self.token.id
                )
            }
        url = (
            f"{self.state.connect.base_url}/providers/{self.capture.provider_id}/login"
        )
        if self.state.connect.redirect_url_has_token:
            url = _with_query(url, fp_cot=self.token.id)
        return {"redirect_url": url}

    def data_session_complete(self) -> dict[str, Any]:
        """Data of Zero's session_complete (§2)."""
        return {
            "callback_uri": _with_query(self.token.callback_url, fp_cot=self.token.id)
        }

    def data_complete_tariff(self) -> dict[str, Any]:
        """Data of the legacy complete_tariff: the original callback (§2, NOT FOUND).

        Its data is in no doc; the reference client redirects to the original
        callback URL, so it is given here as Zero's session_complete gave it.
        """
        return self.data_session_complete()

    def _connection_view(self) -> dict[str, Any]:
        """The data of the pending and failed pages."""
        entry = self._status_entry() if self.capture.provider is None else None
        return {
            "connection_type": (entry or {}).get(
                "connection_type", self.capture.connection_type
            ),
            "provider": self._provider_view(),
        }

    def _status_entry(self) -> dict[str, Any] | None:
        """Return the location's status entry for the token's tariff slot."""
        if self.token.location_id is None:
            return None
        return self.state.statuses[self.token.location_id][self.token.slot]

    def _location_address(self) -> dict[str, Any] | None:
        """Return the location's address, if the token has a location."""
        if self.token.location_id is None:
            return None
        return self.state.locations[self.token.location_id]["postal_address"]

    def _pending(self, location_id: str) -> bool:
        """Tell whether a location's tariff is still being fetched."""
        feed = self.state.price_feed(location_id, self.token.direction)
        return feed is not None and feed.error == "pending_connect"

    def _providers(self) -> list[Provider]:
        """Return the providers offered at the captured address's country."""
        country = self._address_view()["country_code"]
        return [
            provider
            for provider in self.state.connect.providers.values()
            if country in provider.country_codes
        ]

    def _structure_options(self) -> tuple[str, ...]:
        """Return the structures offered; ADVANCED only when enabled (§1)."""
        if self.token.route_options.get("advanced_tariff_capture"):
            return (*STRUCTURE_OPTIONS, ADVANCED)
        return STRUCTURE_OPTIONS

    def _regions(self) -> tuple[str, ...]:
        """Return the market regions of the address's country."""
        return MARKET_REGIONS.get(self._address_view()["country_code"], ())

    def _rates(self, location_id: str) -> dict[str, list[dict[str, Any]]]:
        """Return yesterday's, today's and tomorrow's rates in local time."""
        rates: dict[str, list[dict[str, Any]]] = {
            "yesterday": [],
            "today": [],
            "tomorrow": [],
        }
        if self.token.tariff_type != "COMMODITY" or self._pending(location_id):
            return rates
        zone = ZoneInfo(self.state.locations[location_id]["timezone"])
        today = self.state.now().astimezone(zone).date()
        for offset, name in enumerate(rates, start=-1):
            day = today + timedelta(days=offset)
            start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
            end = datetime.combine(
                day + timedelta(days=1), time(), tzinfo=zone
            ).astimezone(UTC)
            rates[name] = [
                {
                    "valid_from": slot.start.astimezone(zone).isoformat(),
                    "valid_to": slot.end.astimezone(zone).isoformat(),
                    "tariff": {"cost": slot.value, "confidence": slot.confidence},
                }
                for slot in self.state.price_slots(
                    location_id, self.token.direction, start, end
                )
            ]
        return rates


def _period_cost(periods: tuple[TodPeriod, ...], local: datetime) -> float:
    """Return the cost of the period a local time falls in."""
    minute = local.hour * 60 + local.minute
    for period in periods:
        length = (period.end - period.start) % _DAY or _DAY
        if (minute - period.start) % _DAY < length:
            return period.cost
    return periods[0].cost


def _first_fixed_rate(tariff: dict[str, Any]) -> float | None:
    """Return the first `fixed` rate of an advanced tariff's schedule."""
    for entry in tariff.get("schedule", []):
        for days in entry.get("days_and_hours", []) if isinstance(entry, dict) else []:
            for hours in days.get("hours", []) if isinstance(days, dict) else []:
                for rate in hours.get("rate", []) if isinstance(hours, dict) else []:
                    value = (
                        _number(rate.get("fixed")) if isinstance(rate, dict) else None
                    )
                    if value:
                        return value
    return None
