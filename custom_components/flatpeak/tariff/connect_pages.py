"""Connect pages as Home Assistant forms: the schema each shows, what it sends, its text.

Field keys are Connect's data keys (contract): `provider`, `tariff`, `cost`, `post_code`,
`city`, `country_code`, …; prices are typed in the currency's major unit per kWh, as the
price sensors show them, and sent as Connect takes them (connect.md §2 "Units").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.selector import (
    CountrySelector,
    CountrySelectorConfig,
    DateSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    ObjectSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import probatio

from ..api.connect import (
    UNTIL_TERMINATED,
    check_time_of_day_cover,
    price_from_connect,
    price_to_connect,
    time_of_day_rate,
)
from ..api.connect_models import (
    AdvancedRateCaptureData,
    ConnectAction,
    ConnectPage,
    ConnectRate,
    ConnectRoute,
    ContractTermCaptureData,
    FixedRateCaptureData,
    PostalAddressCaptureData,
    ProviderNameCaptureData,
    ProviderSelectData,
    RegionSelectData,
    StructureSelectData,
    SurchargeCaptureData,
    TariffNameCaptureData,
    TariffSelectData,
    TariffSummaryData,
    TimeOfDayCaptureData,
    format_time_of_day,
)
from ..api.exceptions import FlatpeakTimeOfDayCoverError
from ..api.models import PostalAddress

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

# The actions a menu may offer: the step of each is the action in lower case (contract).
KNOWN_ACTIONS: Final = tuple(action.value for action in ConnectAction)
# Leaving is offered on every menu, answered by Connect where the page lists it.
NAVIGATION: Final = frozenset({ConnectAction.BACK, ConnectAction.CLOSE})
# Routes shown as a form; other known routes are menus or the external step.
FORM_ROUTES: Final = frozenset(
    {
        ConnectRoute.POSTAL_ADDRESS_CAPTURE,
        ConnectRoute.PROVIDER_SELECT,
        ConnectRoute.PROVIDER_NAME_CAPTURE,
        ConnectRoute.TARIFF_SELECT,
        ConnectRoute.TARIFF_NAME_CAPTURE,
        ConnectRoute.TARIFF_STRUCTURE_SELECT,
        ConnectRoute.RATE_FIXED_CAPTURE,
        ConnectRoute.RATE_TOD_CAPTURE,
        ConnectRoute.RATE_ADVANCED_CAPTURE,
        ConnectRoute.SURCHARGE_CAPTURE,
        ConnectRoute.REGION_SELECT,
        ConnectRoute.CONTRACT_TERM_CAPTURE,
    }
)
# Older (Zero) names of pages, shown as their Anode page (connect.md §7).
ROUTE_ALIASES: Final[Mapping[str, str]] = {
    "market_surcharge_capture": ConnectRoute.SURCHARGE_CAPTURE,
    "summary_fixed_confirm": ConnectRoute.TARIFF_SUMMARY,
    "summary_tou_confirm": ConnectRoute.TARIFF_SUMMARY,
    "summary_tariff_failed": ConnectRoute.TARIFF_CONNECTION_FAILED,
}
# Menu steps of form pages that offer more than leaving (ADDRESS_CHANGE, …): the form
# pages connect.md §2 lists such actions for. Other form pages are shown as forms alone.
MENU_SUFFIX: Final = "_menu"
MENU_FORM_ROUTES: Final = frozenset(
    {
        ConnectRoute.PROVIDER_SELECT,
        ConnectRoute.PROVIDER_NAME_CAPTURE,
        ConnectRoute.TARIFF_SELECT,
    }
)
NONE_TEXT: Final = "—"
# Today's rates are listed as periods of equal price; beyond this many, as a range.
MAX_RATE_LINES: Final = 12
_PRICE_DECIMALS: Final = 4
# A period that lasts a whole local day, however long the clock change makes it.
ALL_DAY_TEXT: Final = "All day"
_SHORTEST_DAY: Final = timedelta(hours=23)


class InvalidInputError(ValueError):
    """What was typed cannot be sent; `key` is the form error's translation key."""

    def __init__(self, key: str, field: str = "base") -> None:
        """Name the error and the field it belongs to."""
        super().__init__(key)
        self.key = key
        self.field = field


def step_route(page: ConnectPage) -> str:
    """Return the route a page is shown as (older names read as their Anode page)."""
    return ROUTE_ALIASES.get(page.route, page.route)


def extra_actions(page: ConnectPage) -> list[str]:
    """Return the page's actions besides leaving it, that this integration knows."""
    return [
        action
        for action in page.actions
        if action in KNOWN_ACTIONS and action not in NAVIGATION
    ]


def menu_options(page: ConnectPage, *, form_step: str | None = None) -> list[str]:
    """Return a page's menu: its form (if any), its actions, then back and close."""
    options = [form_step] if form_step else []
    options += [action.lower() for action in extra_actions(page)]
    if page.allows(ConnectAction.BACK):
        options.append(ConnectAction.BACK.lower())
    # Always a way out; CLOSE is sent only where the page lists it (connect.md §2).
    options.append(ConnectAction.CLOSE.lower())
    return options


def _currency(page: ConnectPage) -> str:
    data = page.data
    code = getattr(data, "currency_code", None)
    return code if isinstance(code, str) and code else "GBP"


def _price_selector(currency: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=0,
            step="any",
            mode=NumberSelectorMode.BOX,
            unit_of_measurement=f"{currency}/kWh",
        )
    )


def _select(options: Sequence[SelectOptionDict], *, sort: bool = False) -> Any:
    return SelectSelector(
        SelectSelectorConfig(
            options=list(options), mode=SelectSelectorMode.DROPDOWN, sort=sort
        )
    )


def _price(value: float | None, currency: str) -> float | None:
    return None if value is None else price_from_connect(value, currency)


type _Form = tuple[dict[probatio.Marker, Any], dict[str, Any]]
_ADDRESS_FIELDS: Final = (
    "address_line1",
    "address_line2",
    "city",
    "state",
    "post_code",
    "country_code",
)


def _address_form(data: PostalAddressCaptureData, _currency: str) -> _Form:
    address = data.postal_address or PostalAddress()
    fields: dict[probatio.Marker, Any] = {
        probatio.Optional("address_line1"): TextSelector(),
        probatio.Optional("address_line2"): TextSelector(),
        probatio.Required("city"): TextSelector(),
        probatio.Optional("state"): TextSelector(),
        probatio.Optional("post_code"): TextSelector(),
        probatio.Required("country_code"): CountrySelector(CountrySelectorConfig()),
    }
    return fields, {
        name: value for name in _ADDRESS_FIELDS if (value := getattr(address, name))
    }


def _provider_form(data: ProviderSelectData, _currency: str) -> _Form:
    options = [
        SelectOptionDict(value=str(p.id), label=p.display_name or str(p.id))
        for p in data.providers
    ]
    # A searchable picker: Home Assistant's drop-down offers no search, and the list of
    # a country's providers is long. What is typed is matched to a provider's name.
    picker = SelectSelector(
        SelectSelectorConfig(
            options=options,
            mode=SelectSelectorMode.DROPDOWN,
            sort=True,
            custom_value=True,
        )
    )
    # Optional, so no provider is picked for the user; none chosen is said on the form.
    return {probatio.Optional("provider"): picker}, {}


def _provider_name_form(_data: ProviderNameCaptureData, _currency: str) -> _Form:
    return {probatio.Required("provider"): TextSelector()}, {}


def _tariff_form(data: TariffSelectData, _currency: str) -> _Form:
    options = [
        SelectOptionDict(
            value=t.id,
            label=": ".join(filter(None, (t.name, t.description))) or t.id,
        )
        for t in data.tariffs
    ]
    return {probatio.Required("tariff"): _select(options)}, {}


def _tariff_name_form(data: TariffNameCaptureData, _currency: str) -> _Form:
    suggested = {"tariff": data.tariff_name} if data.tariff_name else {}
    return {probatio.Required("tariff"): TextSelector()}, suggested


def _structure_form(data: StructureSelectData, _currency: str) -> _Form:
    selector = SelectSelector(
        SelectSelectorConfig(
            options=list(data.options),
            mode=SelectSelectorMode.LIST,
            translation_key="tariff_structure",
        )
    )
    return {probatio.Required("options"): selector}, {}


def _fixed_form(data: FixedRateCaptureData, currency: str) -> _Form:
    # Connect's default of 0 is no price: nothing is suggested then.
    suggested = {"cost": _price(data.cost, currency)} if data.cost else {}
    return {probatio.Required("cost"): _price_selector(currency)}, suggested


def _surcharge_form(data: SurchargeCaptureData, currency: str) -> _Form:
    fields: dict[probatio.Marker, Any] = {
        probatio.Required("fixed", default=0): _price_selector(currency),
        probatio.Required("percentage", default=0): NumberSelector(
            NumberSelectorConfig(
                min=0,
                max=100,
                step="any",
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="%",
            )
        ),
    }
    return fields, {
        "fixed": _price(data.fixed, currency) or 0,
        "percentage": data.percentage or 0,
    }


def _region_form(data: RegionSelectData, _currency: str) -> _Form:
    options = [SelectOptionDict(value=r, label=r) for r in data.regions]
    suggested = {"region": data.region} if data.region else {}
    return {probatio.Required("region"): _select(options)}, suggested


def _contract_form(data: ContractTermCaptureData, _currency: str) -> _Form:
    fields: dict[probatio.Marker, Any] = {
        probatio.Optional("contract_start_date"): DateSelector(),
        probatio.Optional("contract_end_date"): DateSelector(),
        probatio.Required("contract_term_type", default="FIXED"): SelectSelector(
            SelectSelectorConfig(
                options=["FIXED", UNTIL_TERMINATED],
                mode=SelectSelectorMode.LIST,
                translation_key="contract_term_type",
            )
        ),
    }
    return fields, {
        name: value.date().isoformat()
        for name, value in (
            ("contract_start_date", data.contract_start_date),
            ("contract_end_date", data.contract_end_date),
        )
        if value is not None
    }


def _advanced_form(data: AdvancedRateCaptureData, _currency: str) -> _Form:
    # connect.md §5: nested and free-form; never asked for by this integration
    # (advanced_tariff_capture stays off), edited as an object if Connect shows it.
    suggested = {"tariff": dict(data.tariff)} if data.tariff else {}
    return {probatio.Required("tariff"): ObjectSelector()}, suggested


_FORMS: Final[Mapping[type, Callable[[Any, str], _Form]]] = {
    PostalAddressCaptureData: _address_form,
    ProviderSelectData: _provider_form,
    ProviderNameCaptureData: _provider_name_form,
    TariffSelectData: _tariff_form,
    TariffNameCaptureData: _tariff_name_form,
    StructureSelectData: _structure_form,
    FixedRateCaptureData: _fixed_form,
    SurchargeCaptureData: _surcharge_form,
    RegionSelectData: _region_form,
    ContractTermCaptureData: _contract_form,
    AdvancedRateCaptureData: _advanced_form,
}


def form_schema(
    page: ConnectPage, *, country: str | None = None
) -> tuple[probatio.Schema, dict[str, Any]]:
    """Return a form page's schema and the values it suggests.

    `country` (Home Assistant's own) is suggested for an address without one.
    """
    data = page.data
    if isinstance(data, TimeOfDayCaptureData):
        fields, suggested = _time_of_day_form(data, _currency(page))
    elif (build := _FORMS.get(type(data))) is not None:
        fields, suggested = build(data, _currency(page))
    else:
        fields, suggested = {}, {}
    if isinstance(data, PostalAddressCaptureData) and country:
        suggested.setdefault("country_code", country)
    return probatio.Schema(fields), suggested


def _time_of_day_form(
    data: TimeOfDayCaptureData, currency: str
) -> tuple[dict[probatio.Marker, Any], dict[str, Any]]:
    """Day and night, as the reference client asks (connect.md §2 `rate_tod_capture`)."""
    fields: dict[probatio.Marker, Any] = {
        probatio.Required("valid_from", default="07:00:00"): TimeSelector(),
        probatio.Required("valid_to", default="00:00:00"): TimeSelector(),
        probatio.Required("cost"): _price_selector(currency),
        probatio.Optional("night_valid_from"): TimeSelector(),
        probatio.Optional("night_valid_to"): TimeSelector(),
        probatio.Required("night_cost"): _price_selector(currency),
    }
    suggested: dict[str, Any] = {}
    # Connect's periods with a cost: the longest is the day, the next the night, as the
    # reference client merges them on re-render.
    periods = sorted(
        (rate for rate in data.hours if rate.cost),
        key=lambda rate: _length(
            rate.valid_from.isoformat(), rate.valid_to.isoformat()
        ),
        reverse=True,
    )
    for prefix, rate in zip(("", "night_"), periods, strict=False):
        suggested |= {
            f"{prefix}valid_from": format_time_of_day(rate.valid_from),
            f"{prefix}valid_to": format_time_of_day(rate.valid_to),
            f"{prefix}cost": price_from_connect(rate.cost, currency),
        }
    return fields, suggested


def _length(start: str, end: str) -> int:
    def minutes(text: str) -> int:
        hours, mins = text.split(":")[:2]
        return int(hours) * 60 + int(mins)

    return (minutes(end) - minutes(start)) % 1440 or 1440


def _cost(value: Any, currency: str, field: str) -> float:
    try:
        cost = price_to_connect(value, currency)
    except (ValueError, TypeError) as err:
        raise InvalidInputError("price_invalid", field) from err
    # connect.md §2: Connect refuses a zero cost (cost_value_zero); said here at once.
    if cost <= 0:
        raise InvalidInputError("price_invalid", field)
    return cost


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError as err:
        raise InvalidInputError("date_format_invalid") from err
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _address_data(
    _data: Any, user_input: Mapping[str, Any], _currency: str
) -> dict[str, Any]:
    address = {
        name: str(value).strip()
        for name in _ADDRESS_FIELDS
        if (value := user_input.get(name)) and str(value).strip()
    }
    if "country_code" in address:
        address["country_code"] = address["country_code"].upper()
    return {"postal_address": address}


def _surcharge_data(
    _data: Any, user_input: Mapping[str, Any], currency: str
) -> dict[str, Any]:
    try:
        fixed = price_to_connect(user_input.get("fixed") or 0, currency)
    except (ValueError, TypeError) as err:
        raise InvalidInputError("price_invalid", "fixed") from err
    percentage = float(user_input.get("percentage") or 0)
    return {"surcharge": {"fixed": fixed, "percentage": percentage}}


def _contract_data(
    _data: Any, user_input: Mapping[str, Any], _currency: str
) -> dict[str, Any]:
    start = _date(user_input.get("contract_start_date"))
    end = _date(user_input.get("contract_end_date"))
    until_terminated = user_input.get("contract_term_type") == UNTIL_TERMINATED
    # connect.md §2: the docs' three fields; null where unknown.
    return {
        "contract_start_date": _iso(start),
        "contract_end_date": None if until_terminated else _iso(end),
        "contract_term_type": UNTIL_TERMINATED if until_terminated else "FIXED",
    }


def _advanced_data(
    _data: Any, user_input: Mapping[str, Any], _currency: str
) -> dict[str, Any]:
    tariff = user_input.get("tariff")
    if not isinstance(tariff, dict):
        raise InvalidInputError("data_invalid", "tariff")
    return {"tariff": tariff}


def _provider_data(
    data: ProviderSelectData, user_input: Mapping[str, Any], _currency: str
) -> dict[str, Any]:
    chosen = str(user_input.get("provider") or "").strip()
    if not chosen:
        raise InvalidInputError("provider_missing", "provider")
    ids = {str(p.id) for p in data.providers}
    if chosen not in ids:
        # Typed rather than picked: the provider of that name, else as typed, for
        # Connect to answer (provider_not_found) in its own words.
        named = [
            str(p.id)
            for p in data.providers
            if (p.display_name or "").casefold() == chosen.casefold()
        ]
        chosen = named[0] if named else chosen
    return {"provider": {"id": chosen}}


_ANSWERS: Final[
    Mapping[type, Callable[[Any, Mapping[str, Any], str], dict[str, Any]]]
] = {
    PostalAddressCaptureData: _address_data,
    ProviderSelectData: _provider_data,
    ProviderNameCaptureData: lambda _d, i, _c: {
        "provider": {"name": str(i["provider"]).strip()}
    },
    TariffSelectData: lambda _d, i, _c: {"tariff": {"id": i["tariff"]}},
    TariffNameCaptureData: lambda _d, i, _c: {
        "tariff": {"name": str(i["tariff"]).strip()}
    },
    # connect.md §2: a list holding exactly one option.
    StructureSelectData: lambda _d, i, _c: {"options": [str(i["options"])]},
    FixedRateCaptureData: lambda _d, i, c: {"cost": _cost(i.get("cost"), c, "cost")},
    TimeOfDayCaptureData: lambda _d, i, c: {"hours": _time_of_day_hours(i, c)},
    SurchargeCaptureData: _surcharge_data,
    RegionSelectData: lambda _d, i, _c: {"region": i["region"]},
    ContractTermCaptureData: _contract_data,
    AdvancedRateCaptureData: _advanced_data,
}


def form_data(page: ConnectPage, user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a form page sends to Connect (InvalidInputError for bad input)."""
    answer = _ANSWERS.get(type(page.data))
    return answer(page.data, user_input, _currency(page)) if answer else {}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _time_of_day_hours(
    user_input: Mapping[str, Any], currency: str
) -> list[dict[str, Any]]:
    """Build day and night periods; the night fills the rest of the day by default."""
    day_from = str(user_input.get("valid_from") or "")
    day_to = str(user_input.get("valid_to") or "")
    night_from = str(user_input.get("night_valid_from") or day_to)
    night_to = str(user_input.get("night_valid_to") or day_from)
    try:
        hours = [
            time_of_day_rate(
                _cost(user_input.get("cost"), currency, "cost"), day_from, day_to
            ),
            time_of_day_rate(
                _cost(user_input.get("night_cost"), currency, "night_cost"),
                night_from,
                night_to,
            ),
        ]
        # connect.md §2: the periods must cover the 24 hours; checked before sending.
        check_time_of_day_cover(hours)
    except FlatpeakTimeOfDayCoverError as err:
        raise InvalidInputError(err.code or "gap_in_time_period") from err
    return [rate.as_json() for rate in hours]


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryText:
    """What the summary, pending and failed pages show, as text placeholders."""

    provider: str = NONE_TEXT
    tariff: str = NONE_TEXT
    structure: str = NONE_TEXT
    contract_end: str = NONE_TEXT
    connection_type: str = NONE_TEXT
    status: str = NONE_TEXT
    rates: str = NONE_TEXT

    def placeholders(self) -> dict[str, str]:
        """Return the step's description placeholders."""
        return {
            "provider": self.provider,
            "tariff": self.tariff,
            "structure": self.structure,
            "contract_end": self.contract_end,
            "connection_type": self.connection_type,
            "status": self.status,
            "rates": self.rates,
        }


def summary_text(page: ConnectPage) -> SummaryText:
    """Describe an outcome page in text (connect.md §2 `tariff_summary`, …)."""
    data = page.data
    if not isinstance(data, TariffSummaryData):
        return SummaryText()
    tariff = data.tariff
    provider = data.provider.display_name if data.provider else None
    contract_end = tariff.contract_end_date if tariff else None
    return SummaryText(
        provider=provider or NONE_TEXT,
        tariff=(tariff.name if tariff else None) or NONE_TEXT,
        structure=(tariff.structure_type if tariff else None) or NONE_TEXT,
        contract_end=dt_util.as_local(contract_end).date().isoformat()
        if contract_end
        else NONE_TEXT,
        connection_type=data.connection_type or NONE_TEXT,
        status=(tariff.status if tariff else None) or NONE_TEXT,
        rates=rates_text(data.today, data.currency_code or "GBP"),
    )


def rates_text(rates: Sequence[ConnectRate], currency: str) -> str:
    """List today's rates as periods of one price, in local time."""
    if not rates:
        return NONE_TEXT
    periods: list[tuple[datetime, datetime, float]] = []
    for rate in rates:
        if (
            periods
            and periods[-1][2] == rate.cost
            and periods[-1][1] == rate.valid_from
        ):
            periods[-1] = (periods[-1][0], rate.valid_to, rate.cost)
        else:
            periods.append((rate.valid_from, rate.valid_to, rate.cost))
    unit = f"{currency}/kWh"
    if len(periods) > MAX_RATE_LINES:
        costs = [cost for _, _, cost in periods]
        return (
            f"{min(costs):.{_PRICE_DECIMALS}f} to {max(costs):.{_PRICE_DECIMALS}f} "
            f"{unit}, changing {len(periods)} times"
        )

    def clock(moment: datetime) -> str:
        # In the location's own time, the offset Connect gave the rates (§2).
        return moment.strftime("%H:%M")

    def span(start: datetime, end: datetime) -> str:
        # One price from a time until the same time a day later (23 to 25 hours on a
        # clock change) is a flat tariff's day: "00:00 to 00:00" would read as nothing.
        if clock(start) == clock(end) and end - start >= _SHORTEST_DAY:
            return ALL_DAY_TEXT
        return f"{clock(start)} to {clock(end)}"

    return "\n".join(
        f"- {span(start, end)}: {cost:.{_PRICE_DECIMALS}f} {unit}"
        for start, end, cost in periods
    )
