"""What the simulated Flatpeak Connect knows: providers, connect tokens, settings.

Plain data only; the conversation that changes it is in `connect.py`. Section numbers
(§n) refer to connect.md, the Connect spec the simulator follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from datetime import datetime

#: What a DIRECT provider's login leads to (§3.6).
DirectOutcome = Literal["CONNECTED", "PENDING", "FAILED"]
#: How a session ends: Anode's inferred `session_redirect`, Zero's `session_complete`, or
#: the legacy `complete_tariff` the reference client still handles (§2, §4).
EndRoute = Literal["session_redirect", "session_complete", "complete_tariff"]
END_ROUTES: tuple[str, ...] = get_args(EndRoute)
#: Connect tokens live 24 h in every documented example (§1, §4).
CONNECT_TOKEN_LIFETIME = 86400


@dataclass(frozen=True, slots=True)
class TodPeriod:
    """One time-of-day period: a cost from `valid_from` until `valid_to` (minutes)."""

    start: int
    end: int
    cost: float


@dataclass(slots=True)
class LibraryTariff:
    """A tariff of a provider's library (`tariff_select`, §2)."""

    id: str
    name: str
    description: str = ""
    structure_type: str = "FIXED"
    #: A flat cost, or time-of-day periods covering the day.
    cost: float = 0.25
    periods: tuple[TodPeriod, ...] = ()


@dataclass(slots=True)
class DirectLogin:
    """A DIRECT provider's login page: the credentials it takes and the outcome."""

    username: str
    password: str
    outcome: DirectOutcome = "CONNECTED"
    tariff_name: str = "Agile Octopus"
    structure_type: str = "TIME_OF_DAY"


@dataclass(slots=True)
class Provider:
    """An energy provider Connect offers at some countries' addresses."""

    id: str
    display_name: str
    country_codes: tuple[str, ...] = ("GB",)
    tariffs: list[LibraryTariff] = field(default_factory=list)
    direct: DirectLogin | None = None

    @property
    def logo_url(self) -> str:
        """Return a logo URL shaped like Flatpeak's."""
        return (
            f"https://s.flatpeak.com/{self.display_name.lower().replace(' ', '_')}.png"
        )

    def reference(self) -> dict[str, Any]:
        """Return the provider object pages carry (§2: id, display_name, logo_url)."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "logo_url": self.logo_url,
        }


#: What a later page lists unless told otherwise: an action Anode does not have, and
#: Anode's navigation.
LATER_PAGE_ACTIONS = ("CONTINUE", "BACK", "CLOSE")


@dataclass(frozen=True, slots=True)
class LaterPage:
    """A page of a later Connect release, shown before one of Anode's (§2, §7).

    Connect adds pages as it goes (Busbar's `connection_failed`, VPP pages): a client
    must get through one it does not know. `actions` are what the page lists; any of
    them that is not Anode's (CONTINUE, say) goes on to the page it was shown before.
    """

    route: str
    actions: tuple[str, ...] = LATER_PAGE_ACTIONS
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Capture:
    """The tariff being captured in a session, filled in page by page."""

    postal_address: dict[str, Any] | None = None
    provider: dict[str, Any] | None = None
    provider_id: str | None = None
    connection_type: str = "MANUAL"
    structure_type: str | None = None
    tariff_name: str | None = None
    library_tariff_id: str | None = None
    cost: float | None = None
    periods: tuple[TodPeriod, ...] = ()
    advanced: dict[str, Any] | None = None
    surcharge: dict[str, float] | None = None
    region: str | None = None
    contract_start_date: str | None = None
    contract_end_date: str | None = None
    contract_term_type: str | None = None


@dataclass(slots=True)
class ConnectToken:
    """A connect token (`cot_…`) and the session run with it."""

    id: str
    account_id: str
    live_mode: bool
    connect_url: str
    callback_url: str
    direction: str
    tariff_type: str
    time_created: datetime
    expires_at: datetime
    customer_id: str | None = None
    customer_reference_id: str | None = None
    location_id: str | None = None
    location_reference_id: str | None = None
    tariff_id: str | None = None
    edit_tariff: bool = False
    route_options: dict[str, bool] = field(default_factory=dict)
    postal_address: dict[str, Any] | None = None
    postal_address_type: str | None = None
    #: The page the session is on (None: not started) and the pages before it.
    route: str | None = None
    history: list[str] = field(default_factory=list)
    capture: Capture = field(default_factory=Capture)
    #: `SAVE` once a tariff was saved, `DISCONNECT` once disconnected (§4).
    complete_action: str | None = None
    is_tariff_processed: bool = False
    #: Set when the session ended (CLOSE, DISCONNECT, disconnect_tariff): used up.
    ended: bool = False
    wrong_tariff_reported: bool = False
    #: The Anode page a later page (`LaterPage`) stands before, while it is shown.
    later_before: str | None = None
    later_seen: set[str] = field(default_factory=set)
    completion_event_id: str | None = None

    @property
    def slot(self) -> str:
        """Return the location-status slot this token's tariff goes in."""
        return f"{self.tariff_type.lower()}_{self.direction.lower()}"


@dataclass(slots=True)
class ConnectState:
    """Connect's providers, tokens and behaviour switches."""

    providers: dict[str, Provider] = field(default_factory=dict)
    tokens: dict[str, ConnectToken] = field(default_factory=dict)
    #: Customer ids by (account, customer_reference_id).
    customers: dict[tuple[str, str], str] = field(default_factory=dict)
    token_lifetime: int = CONNECT_TOKEN_LIFETIME
    #: "single-use token" (§1): the conversation refuses a token whose session ended.
    single_use: bool = True
    end_route: EndRoute = "session_redirect"
    #: WEB navigates to `redirect_url` as is, so it may already carry fp_cot (§3.2).
    redirect_url_has_token: bool = False
    #: The base URL of the Connect app, for the login pages' redirect_url.
    base_url: str = "http://127.0.0.1"
    wrong_tariff_reports: list[str] = field(default_factory=list)
    #: WRONG_TARIFF is "Not available if already reported" (§2): reported tariffs by
    #: (location id, status slot), whichever session reported them.
    reported_tariffs: set[tuple[str, str]] = field(default_factory=set)
    #: List DISMISS_DIRECT on the pending page and RECONNECT on the failed page of a
    #: DIRECT provider, as the reference client's types do (§2); the docs list neither.
    web_actions: bool = False
    #: Answer refused input with the `error` render route (`{error_code,
    #: error_message}`, the reference client's types, §2) instead of an error object.
    error_route: bool = False
    #: Pages of a later release, by the Anode route each is shown before.
    later_pages: dict[str, LaterPage] = field(default_factory=dict)
