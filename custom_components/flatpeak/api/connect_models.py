"""Typed, immutable views of Flatpeak Connect: connect tokens and the pages of a session.

Connect pages are read leniently: a field of the wrong type or an unknown field is left
out, list items that cannot be used are skipped, and a route this package does not know
becomes an `UnknownPageData` page holding the raw data. Only a reply that is not a page
at all (not an object, no route) is refused with `FlatpeakResponseError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
import math
from typing import Any, Self

from .exceptions import FlatpeakResponseError
from .models import JsonObject, PostalAddress, parse_datetime


class ConnectRoute(StrEnum):
    """The Connect routes (page names) of the Anode release, connect.md §2."""

    SESSION_START = "session_start"
    POSTAL_ADDRESS_CAPTURE = "postal_address_capture"
    PROVIDER_SELECT = "provider_select"
    PROVIDER_NAME_CAPTURE = "provider_name_capture"
    TARIFF_SELECT = "tariff_select"
    TARIFF_NAME_CAPTURE = "tariff_name_capture"
    TARIFF_STRUCTURE_SELECT = "tariff_structure_select"
    RATE_FIXED_CAPTURE = "rate_fixed_capture"
    RATE_TOD_CAPTURE = "rate_tod_capture"
    RATE_ADVANCED_CAPTURE = "rate_advanced_capture"
    SURCHARGE_CAPTURE = "surcharge_capture"
    REGION_SELECT = "region_select"
    CONTRACT_TERM_CAPTURE = "contract_term_capture"
    TARIFF_SUMMARY = "tariff_summary"
    TARIFF_CONNECTION_PENDING = "tariff_connection_pending"
    TARIFF_CONNECTION_FAILED = "tariff_connection_failed"
    SESSION_REDIRECT = "session_redirect"
    SESSION_COMPLETE = "session_complete"
    COMPLETE_TARIFF = "complete_tariff"
    ERROR = "error"


class ConnectAction(StrEnum):
    """Actions Connect lists on its pages, connect.md §2; pages may list others."""

    BACK = "BACK"
    CLOSE = "CLOSE"
    ADDRESS_CHANGE = "ADDRESS_CHANGE"
    PROVIDER_MISSING = "PROVIDER_MISSING"
    TARIFF_MISSING = "TARIFF_MISSING"
    EDIT = "EDIT"
    DISCONNECT = "DISCONNECT"
    WRONG_TARIFF = "WRONG_TARIFF"
    DISMISS_DIRECT = "DISMISS_DIRECT"
    RECONNECT = "RECONNECT"


class TariffStructure(StrEnum):
    """Options of the tariff structure page, connect.md §2 `tariff_structure_select`."""

    FIXED = "FIXED"
    TIME_OF_DAY = "TIME_OF_DAY"
    MARKET = "MARKET"
    ADVANCED = "ADVANCED"


# connect.md §2: the summary, pending and failed pages end the data capture; the tariff
# is saved when one of them is reached.
OUTCOME_ROUTES: frozenset[str] = frozenset(
    {
        ConnectRoute.TARIFF_SUMMARY,
        ConnectRoute.TARIFF_CONNECTION_PENDING,
        ConnectRoute.TARIFF_CONNECTION_FAILED,
    }
)


def _text(obj: JsonObject, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _bool(obj: JsonObject, key: str) -> bool | None:
    value = obj.get(key)
    return value if isinstance(value, bool) else None


def _float(obj: JsonObject, key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _object(obj: JsonObject, key: str) -> JsonObject:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _objects(obj: JsonObject, key: str) -> list[JsonObject]:
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _texts(obj: JsonObject, key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


def _datetime(obj: JsonObject, key: str) -> datetime | None:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value, key)
    except FlatpeakResponseError:
        return None


def parse_time_of_day(value: Any) -> time | None:
    """Parse "HH:MM:SS" or "HH:MM" as Connect writes times of day; "24:00" is midnight."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        return None
    if value.strip() in {"24:00", "24:00:00"}:
        return time(0)
    try:
        parsed = time.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None


def format_time_of_day(value: time) -> str:
    """Format a time of day as Connect expects it: "HH:MM:SS" (connect.md §2)."""
    return value.strftime("%H:%M:%S")


def _postal_address(obj: JsonObject) -> PostalAddress | None:
    value = obj.get("postal_address")
    if not isinstance(value, Mapping):
        return None
    # Connect sends "" for what it does not know; wrong types are left out, not refused.
    return PostalAddress(
        **{
            name: _text(value, name)
            for name in (
                "address_line1",
                "address_line2",
                "city",
                "state",
                "post_code",
                "country_code",
            )
        }
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRouteOptions:
    """Optional Connect pages to switch on (`route_options`, connect.md §1); None sends nothing."""

    advanced_tariff_capture: bool | None = None
    tariff_name_capture: bool | None = None
    contract_term_capture: bool | None = None

    def as_json(self) -> dict[str, bool]:
        """Return the options that were set, as the token request takes them."""
        return {
            name: value
            for name, value in (
                ("advanced_tariff_capture", self.advanced_tariff_capture),
                ("tariff_name_capture", self.tariff_name_capture),
                ("contract_term_capture", self.contract_term_capture),
            )
            if value is not None
        }


def postal_address_json(address: PostalAddress) -> dict[str, str]:
    """Return the known parts of an address, as Connect and the token request take them."""
    return {
        name: value
        for name, value in (
            ("address_line1", address.address_line1),
            ("address_line2", address.address_line2),
            ("city", address.city),
            ("state", address.state),
            ("post_code", address.post_code),
            ("country_code", address.country_code),
        )
        if value
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectToken:
    """A connect token (`cot_…`), as created or as retrieved later, connect.md §1 and §4."""

    connect_token: str
    live_mode: bool | None = None
    expires_in: float | None = None
    time_created: datetime | None = None
    time_expiry: datetime | None = None
    customer_id: str | None = None
    customer_reference_id: str | None = None
    location_id: str | None = None
    location_reference_id: str | None = None
    # connect.md §4: "SAVE" when a tariff was connected, "DISCONNECT" when the user
    # disconnected it, absent for historic sessions.
    complete_action: str | None = None
    is_tariff_processed: bool | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse the reply of `POST /connect/token` or `GET /connect/tariff/token`."""
        if not isinstance(obj, Mapping):
            raise FlatpeakResponseError("connect token is not a JSON object")
        # connect.md §1 and §4: creation answers `connect_token`; retrieval answers `id`.
        token = _text(obj, "connect_token") or _text(obj, "id")
        if token is None:
            raise FlatpeakResponseError("connect_token is missing or not a string")
        expires_in: float | None = _float(obj, "expires_in")
        raw_expires = obj.get("expires_in")
        # connect.md §1: one documented example gives expires_in as the string "86400".
        if expires_in is None and isinstance(raw_expires, str):
            try:
                expires_in = float(raw_expires)
            except ValueError:
                expires_in = None
        processed = _bool(obj, "is_tariff_processed")
        return cls(
            connect_token=token,
            live_mode=_bool(obj, "live_mode"),
            expires_in=expires_in
            if expires_in is not None and math.isfinite(expires_in)
            else None,
            time_created=_datetime(obj, "time_created"),
            time_expiry=_datetime(obj, "time_expiry"),
            customer_id=_text(obj, "customer_id"),
            customer_reference_id=_text(obj, "customer_reference_id"),
            location_id=_text(obj, "location_id"),
            location_reference_id=_text(obj, "location_reference_id"),
            complete_action=_text(obj, "complete_action"),
            # connect.md §4: an older copy of the docs names this field tariff_available.
            is_tariff_processed=processed
            if processed is not None
            else _bool(obj, "tariff_available"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectProvider:
    """An energy provider as Connect lists it."""

    id: str | None = None
    display_name: str | None = None
    logo_url: str | None = None
    # connect.md §2 lists only id, display_name and logo_url; a provider's integration
    # type (DIRECT, …) is kept if Connect ever sends it, otherwise it shows only as the
    # `session_redirect` that follows choosing a DIRECT provider.
    integration_type: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse a provider reference."""
        return cls(
            id=_text(obj, "id"),
            display_name=_text(obj, "display_name") or _text(obj, "name"),
            logo_url=_text(obj, "logo_url"),
            integration_type=_text(obj, "integration_type"),
        )


def _provider(obj: JsonObject) -> ConnectProvider | None:
    value = obj.get("provider")
    return ConnectProvider.from_dict(value) if isinstance(value, Mapping) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PostalAddressCaptureData:
    """`postal_address_capture`: the address as far as Connect knows it."""

    postal_address: PostalAddress | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(postal_address=_postal_address(obj))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSelectData:
    """`provider_select`: the providers serving the address."""

    postal_address: PostalAddress | None = None
    providers: tuple[ConnectProvider, ...] = ()

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data; providers without an id cannot be chosen and are left out."""
        providers = (
            ConnectProvider.from_dict(item) for item in _objects(obj, "providers")
        )
        return cls(
            postal_address=_postal_address(obj),
            providers=tuple(provider for provider in providers if provider.id),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderNameCaptureData:
    """`provider_name_capture`: the name of a provider Connect does not list."""

    postal_address: PostalAddress | None = None
    provider_name: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(
            postal_address=_postal_address(obj),
            provider_name=_text(_object(obj, "provider"), "name"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryTariff:
    """A tariff of Flatpeak's library (`trt_…`)."""

    id: str
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffSelectData:
    """`tariff_select`: the provider's tariffs in Flatpeak's library."""

    provider: ConnectProvider | None = None
    postal_address: PostalAddress | None = None
    tariffs: tuple[LibraryTariff, ...] = ()

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data; tariffs without an id cannot be chosen and are left out."""
        return cls(
            provider=_provider(obj),
            postal_address=_postal_address(obj),
            tariffs=tuple(
                LibraryTariff(
                    id=tariff_id,
                    name=_text(item, "name"),
                    description=_text(item, "description"),
                )
                for item in _objects(obj, "tariffs")
                if (tariff_id := _text(item, "id"))
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffNameCaptureData:
    """`tariff_name_capture`: the name of the tariff."""

    provider: ConnectProvider | None = None
    tariff_name: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(
            provider=_provider(obj),
            tariff_name=_text(_object(obj, "tariff"), "name"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StructureSelectData:
    """`tariff_structure_select`: how the tariff's prices are built."""

    provider: ConnectProvider | None = None
    # Strings, not `TariffStructure`: connect.md §2 says the reference client knows a
    # DYNAMIC option too, and an option this package does not know must stay choosable.
    options: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(provider=_provider(obj), options=_texts(obj, "options"))


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedRateCaptureData:
    """`rate_fixed_capture`: one price per kWh, in major currency units."""

    provider: ConnectProvider | None = None
    currency_code: str | None = None
    cost: float | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(
            provider=_provider(obj),
            currency_code=_text(obj, "currency_code"),
            cost=_float(obj, "cost"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeOfDayRate:
    """A price per kWh (major units) from `valid_from` to `valid_to`; may wrap midnight."""

    cost: float
    valid_from: time
    valid_to: time

    def as_json(self) -> dict[str, Any]:
        """Return the period as Connect takes it, connect.md §2 `rate_tod_capture`."""
        return {
            "cost": self.cost,
            "valid_from": format_time_of_day(self.valid_from),
            "valid_to": format_time_of_day(self.valid_to),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeOfDayCaptureData:
    """`rate_tod_capture`: prices by time of day."""

    provider: ConnectProvider | None = None
    currency_code: str | None = None
    hours: tuple[TimeOfDayRate, ...] = ()

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data; periods with an unreadable time or cost are left out."""
        hours: list[TimeOfDayRate] = []
        for item in _objects(obj, "hours"):
            cost = _float(item, "cost")
            start = parse_time_of_day(item.get("valid_from"))
            end = parse_time_of_day(item.get("valid_to"))
            if cost is not None and start is not None and end is not None:
                hours.append(TimeOfDayRate(cost=cost, valid_from=start, valid_to=end))
        return cls(
            provider=_provider(obj),
            currency_code=_text(obj, "currency_code"),
            hours=tuple(hours),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SurchargeCaptureData:
    """`surcharge_capture`: what is added to market prices (fixed, then a percentage)."""

    provider: ConnectProvider | None = None
    currency_code: str | None = None
    fixed: float | None = None
    percentage: float | None = None
    regions: tuple[str, ...] = ()
    region: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        surcharge = _object(obj, "surcharge")
        return cls(
            provider=_provider(obj),
            currency_code=_text(obj, "currency_code"),
            fixed=_float(surcharge, "fixed"),
            percentage=_float(surcharge, "percentage"),
            regions=_texts(obj, "regions"),
            region=_text(obj, "region"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionSelectData:
    """`region_select`: the market region of a geo-fenced tariff."""

    provider: ConnectProvider | None = None
    regions: tuple[str, ...] = ()
    region: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(
            provider=_provider(obj),
            regions=_texts(obj, "regions"),
            region=_text(obj, "region"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractTermCaptureData:
    """`contract_term_capture`: when the contract started and ends."""

    provider: ConnectProvider | None = None
    contract_start_date: datetime | None = None
    contract_end_date: datetime | None = None
    contract_term_type: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(
            provider=_provider(obj),
            contract_start_date=_datetime(obj, "contract_start_date"),
            contract_end_date=_datetime(obj, "contract_end_date"),
            contract_term_type=_text(obj, "contract_term_type"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvancedRateCaptureData:
    """`rate_advanced_capture`: a free-form tariff, kept as Connect sent it."""

    provider: ConnectProvider | None = None
    currency_code: str | None = None
    tariff: JsonObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(
            provider=_provider(obj),
            currency_code=_text(obj, "currency_code"),
            tariff=_object(obj, "tariff"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRate:
    """A price per kWh (major units) Connect shows on the summary page."""

    valid_from: datetime
    valid_to: datetime
    cost: float
    confidence: float | None = None


def _rates(obj: JsonObject, key: str) -> tuple[ConnectRate, ...]:
    rates: list[ConnectRate] = []
    for item in _objects(obj, key):
        tariff = _object(item, "tariff")
        start = _datetime(item, "valid_from")
        end = _datetime(item, "valid_to")
        cost = _float(tariff, "cost")
        if start is not None and end is not None and cost is not None:
            rates.append(
                ConnectRate(
                    valid_from=start,
                    valid_to=end,
                    cost=cost,
                    confidence=_float(tariff, "confidence"),
                )
            )
    return tuple(sorted(rates, key=lambda rate: rate.valid_from))


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryTariff:
    """The tariff a summary page describes."""

    status: str | None = None
    name: str | None = None
    structure_type: str | None = None
    contract_start_date: datetime | None = None
    contract_end_date: datetime | None = None
    contract_term_type: str | None = None
    tiered: bool | None = None
    reconnect_required: bool | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the summary's tariff object."""
        return cls(
            status=_text(obj, "status"),
            name=_text(obj, "name") or _text(obj, "display_name"),
            structure_type=_text(obj, "structure_type"),
            contract_start_date=_datetime(obj, "contract_start_date"),
            contract_end_date=_datetime(obj, "contract_end_date"),
            contract_term_type=_text(obj, "contract_term_type"),
            tiered=_bool(obj, "tiered"),
            reconnect_required=_bool(obj, "reconnect_required"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffSummaryData:
    """`tariff_summary`, `tariff_connection_pending`, `tariff_connection_failed`.

    The three outcome pages share one shape: pending and failed carry only the
    connection type and the provider (connect.md §2).
    """

    connection_type: str | None = None
    provider: ConnectProvider | None = None
    currency_code: str | None = None
    market_rates_source: bool | None = None
    tariff: SummaryTariff | None = None
    yesterday: tuple[ConnectRate, ...] = ()
    today: tuple[ConnectRate, ...] = ()
    tomorrow: tuple[ConnectRate, ...] = ()

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        tariff = obj.get("tariff")
        rates = _object(obj, "rates")
        return cls(
            connection_type=_text(obj, "connection_type"),
            provider=_provider(obj),
            currency_code=_text(obj, "currency_code"),
            market_rates_source=_bool(obj, "market_rates_source"),
            tariff=SummaryTariff.from_dict(tariff)
            if isinstance(tariff, Mapping)
            else None,
            yesterday=_rates(rates, "yesterday"),
            today=_rates(rates, "today"),
            tomorrow=_rates(rates, "tomorrow"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRedirectData:
    """`session_redirect`: the browser is to go to `redirect_url` (connect.md §3, §4)."""

    redirect_url: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        return cls(redirect_url=_text(obj, "redirect_url"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCompleteData:
    """`session_complete` (Zero) or `complete_tariff` (legacy): the session has ended."""

    callback_url: str | None = None

    @classmethod
    def from_dict(cls, obj: JsonObject) -> Self:
        """Parse the page data."""
        # connect.md §2: the docs spell it callback_uri, the reference client callback_url.
        return cls(
            callback_url=_text(obj, "callback_uri") or _text(obj, "callback_url")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownPageData:
    """A route this package does not know: its data, untouched."""

    raw: JsonObject = field(default_factory=dict)


type ConnectPageData = (
    PostalAddressCaptureData
    | ProviderSelectData
    | ProviderNameCaptureData
    | TariffSelectData
    | TariffNameCaptureData
    | StructureSelectData
    | FixedRateCaptureData
    | TimeOfDayCaptureData
    | SurchargeCaptureData
    | RegionSelectData
    | ContractTermCaptureData
    | AdvancedRateCaptureData
    | TariffSummaryData
    | SessionRedirectData
    | SessionCompleteData
    | UnknownPageData
)

_PARSERS: Mapping[str, Callable[[JsonObject], ConnectPageData]] = {
    ConnectRoute.POSTAL_ADDRESS_CAPTURE: PostalAddressCaptureData.from_dict,
    ConnectRoute.PROVIDER_SELECT: ProviderSelectData.from_dict,
    ConnectRoute.PROVIDER_NAME_CAPTURE: ProviderNameCaptureData.from_dict,
    ConnectRoute.TARIFF_SELECT: TariffSelectData.from_dict,
    ConnectRoute.TARIFF_NAME_CAPTURE: TariffNameCaptureData.from_dict,
    ConnectRoute.TARIFF_STRUCTURE_SELECT: StructureSelectData.from_dict,
    ConnectRoute.RATE_FIXED_CAPTURE: FixedRateCaptureData.from_dict,
    ConnectRoute.RATE_TOD_CAPTURE: TimeOfDayCaptureData.from_dict,
    ConnectRoute.RATE_ADVANCED_CAPTURE: AdvancedRateCaptureData.from_dict,
    ConnectRoute.SURCHARGE_CAPTURE: SurchargeCaptureData.from_dict,
    ConnectRoute.REGION_SELECT: RegionSelectData.from_dict,
    ConnectRoute.CONTRACT_TERM_CAPTURE: ContractTermCaptureData.from_dict,
    ConnectRoute.TARIFF_SUMMARY: TariffSummaryData.from_dict,
    ConnectRoute.TARIFF_CONNECTION_PENDING: TariffSummaryData.from_dict,
    ConnectRoute.TARIFF_CONNECTION_FAILED: TariffSummaryData.from_dict,
    ConnectRoute.SESSION_REDIRECT: SessionRedirectData.from_dict,
    ConnectRoute.SESSION_COMPLETE: SessionCompleteData.from_dict,
    ConnectRoute.COMPLETE_TARIFF: SessionCompleteData.from_dict,
    # connect.md §2 and §7: names of the older Zero release, read as their Anode pages.
    "market_surcharge_capture": SurchargeCaptureData.from_dict,
    "summary_fixed_confirm": TariffSummaryData.from_dict,
    "summary_tou_confirm": TariffSummaryData.from_dict,
    "summary_tariff_failed": TariffSummaryData.from_dict,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectPage:
    """One page of a Connect session: where it is, what may be done, and its data."""

    route: str
    data: ConnectPageData
    # Kept as strings: an action this package does not know is still one to offer.
    actions: tuple[str, ...] = ()
    connect_token: str | None = None
    live_mode: bool | None = None
    direction: str | None = None
    raw: JsonObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a page object; an unknown route keeps its raw data."""
        if not isinstance(obj, Mapping):
            raise FlatpeakResponseError("Connect page is not a JSON object")
        route = _text(obj, "route")
        if route is None:
            raise FlatpeakResponseError("Connect page has no route")
        data = _object(obj, "data")
        parser = _PARSERS.get(route)
        return cls(
            route=route,
            data=parser(data) if parser is not None else UnknownPageData(raw=data),
            actions=_texts(obj, "actions"),
            connect_token=_text(obj, "connect_token"),
            live_mode=_bool(obj, "live_mode"),
            direction=_text(obj, "direction"),
            raw=obj,
        )

    def allows(self, action: str) -> bool:
        """Whether the page lists an action."""
        return action in self.actions

    @property
    def is_outcome(self) -> bool:
        """Whether this is the summary, pending or failed page (the tariff is saved)."""
        return isinstance(self.data, TariffSummaryData)

    @property
    def redirect_url(self) -> str | None:
        """Where a `session_redirect` page sends the browser, if this is one."""
        if isinstance(self.data, SessionRedirectData):
            return self.data.redirect_url
        return None
