"""Async client for Flatpeak Connect, the conversation that links a tariff to a location.

Connect is one endpoint (connect.md §2): every request names the connect token and the
route it answers, with either an action or the page's data, and every reply is the next
page or an error object. The helpers at the end are what a form-based front end needs to
turn what people type into what Connect takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
import json
import logging
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .client import DEFAULT_TIMEOUT, _raise_for_status, format_timestamp
from .connect_models import (
    ConnectPage,
    ConnectRoute,
    TimeOfDayRate,
    parse_time_of_day,
    postal_address_json,
)
from .exceptions import (
    FlatpeakConnectError,
    FlatpeakConnectTokenError,
    FlatpeakResponseError,
    FlatpeakTimeOfDayCoverError,
)
from .transport import send_request

if TYPE_CHECKING:
    from datetime import datetime, time

    import aiohttp

    from .models import JsonObject, PostalAddress

_LOGGER = logging.getLogger(__name__)

DEFAULT_CONNECT_API_URL: Final = "https://connect.flatpeak.com"
# connect.md §2: the staging endpoint, for test keys that Flatpeak points there.
STAGING_CONNECT_API_URL: Final = "https://stg-connect.flatpeak.com"
# connect.md §3: the query parameter that carries the connect token through browsers.
CONNECT_TOKEN_PARAM: Final = "fp_cot"  # noqa: S105 - a parameter name
# connect.md §2 `contract_term_capture`: the term type of a contract without an end.
UNTIL_TERMINATED: Final = "UNTIL_TERMINATED"

_DAY_SECONDS: Final = 24 * 3600


class ConnectClient:
    """Flatpeak Connect, reached without credentials: the connect token is the key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        connect_api_url: str = DEFAULT_CONNECT_API_URL,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Use the caller's session; nothing is sent until the first call."""
        self._session = session
        self.connect_api_url = connect_api_url.rstrip("/")
        self.request_timeout = request_timeout

    async def start(self, connect_token: str) -> ConnectPage:
        """Start a session, or resume one: Connect answers with its current page."""
        # connect.md §2 `session_start`: also what the reference client sends on return
        # from a provider login and on reload, so it doubles as "the current page".
        return await self._post(
            {"connect_token": connect_token, "route": ConnectRoute.SESSION_START}
        )

    async def submit(
        self, connect_token: str, route: str, data: Mapping[str, Any] | None
    ) -> ConnectPage:
        """Answer a page with its form data; None sends the route alone (a skip)."""
        body: dict[str, Any] = {"connect_token": connect_token, "route": route}
        if data is not None:
            body["data"] = data
        return await self._post(body)

    async def act(self, connect_token: str, route: str, action: str) -> ConnectPage:
        """Answer a page with one of its actions (BACK, EDIT, …)."""
        # connect.md §2: the docs show BACK without a route once; the reference client
        # always names it, which is the reading that works for every action.
        return await self._post(
            {"connect_token": connect_token, "route": route, "action": action}
        )

    async def _post(self, body: Mapping[str, Any]) -> ConnectPage:
        """Send one request: the single place that talks HTTP to Connect and maps failures."""
        route = body.get("route")
        response = await send_request(
            self._session,
            "POST",
            f"{self.connect_api_url}/",
            timeout=self.request_timeout,
            label=str(route),
            service="Flatpeak Connect",
            json_body=body,
            headers={"Accept": "application/json"},
        )
        raw, status, headers = response.body, response.status, response.headers

        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        # connect.md §2: errors are told by the body, whatever the HTTP status.
        if isinstance(payload, Mapping) and payload.get("object") == "error":
            raise connect_error(payload, status=status)
        _raise_for_status(status, raw, headers)
        if payload is None:
            raise FlatpeakResponseError(
                f"Flatpeak Connect answered {route} with a body that is not JSON",
                status=status,
            )
        page = ConnectPage.from_dict(payload)
        if page.route == ConnectRoute.ERROR:
            raise _error_route(page, status)
        _LOGGER.debug("Connect answered %s with %s", route, page.route)
        return page


def _is_token_error(code: str | None) -> bool:
    # connect.md §4: the code for an expired, used or unknown token is NOT FOUND. Any
    # code that names the token is read as one, as a new token is then the only way on.
    return code is not None and "token" in code


def connect_error(
    payload: JsonObject, *, status: int | None = None
) -> FlatpeakConnectError:
    """Build the exception an error object stands for (connect.md §2 "Errors")."""

    def text(key: str) -> str | None:
        value = payload.get(key)
        return value if isinstance(value, str) and value else None

    code = text("code")
    error_class = (
        FlatpeakConnectTokenError if _is_token_error(code) else FlatpeakConnectError
    )
    return error_class(
        text("message") or "",
        code=code,
        status=status,
        error_type=text("type"),
        context=text("context"),
        request_id=text("request_id"),
    )


def _error_route(page: ConnectPage, status: int) -> FlatpeakConnectError:
    # connect.md §2: an `error` render route with {error_code, error_message} exists in
    # the reference client but in no doc; INFERRED to mean what an error object means.
    data = page.raw.get("data")
    fields = {**page.raw, **(data if isinstance(data, Mapping) else {})}
    return connect_error(
        {
            "code": fields.get("error_code") or fields.get("code"),
            "message": fields.get("error_message") or fields.get("message"),
            "context": f"connect.{ConnectRoute.ERROR}",
        },
        status=status,
    )


class ConnectSession:
    """One Connect session: its token and the page it is on."""

    def __init__(self, client: ConnectClient, connect_token: str) -> None:
        """Nothing is sent until `start`."""
        self.client = client
        self.connect_token = connect_token
        self.page: ConnectPage | None = None

    def _route(self) -> str:
        if self.page is None:
            msg = "the session has not started"
            raise RuntimeError(msg)
        return self.page.route

    def _keep(self, page: ConnectPage) -> ConnectPage:
        self.page = page
        # connect.md §2: every page repeats the token; follow it should Connect change it.
        if page.connect_token:
            self.connect_token = page.connect_token
        return page

    async def start(self) -> ConnectPage:
        """Start or resume the session (after a provider login, say)."""
        return self._keep(await self.client.start(self.connect_token))

    async def submit(self, data: Mapping[str, Any] | None) -> ConnectPage:
        """Answer the current page with its form data."""
        return self._keep(
            await self.client.submit(self.connect_token, self._route(), data)
        )

    async def act(self, action: str) -> ConnectPage:
        """Answer the current page with an action."""
        return self._keep(
            await self.client.act(self.connect_token, self._route(), action)
        )

    async def submit_postal_address(self, address: PostalAddress) -> ConnectPage:
        """Answer `postal_address_capture`."""
        return await self.submit({"postal_address": postal_address_json(address)})

    async def select_provider(self, provider_id: str) -> ConnectPage:
        """Answer `provider_select`; a DIRECT provider leads to `session_redirect`."""
        return await self.submit({"provider": {"id": provider_id}})

    async def name_provider(self, name: str) -> ConnectPage:
        """Answer `provider_name_capture`."""
        return await self.submit({"provider": {"name": name}})

    async def select_tariff(self, tariff_id: str) -> ConnectPage:
        """Answer `tariff_select` with a library tariff."""
        return await self.submit({"tariff": {"id": tariff_id}})

    async def name_tariff(self, name: str) -> ConnectPage:
        """Answer `tariff_name_capture`."""
        return await self.submit({"tariff": {"name": name}})

    async def select_structure(self, option: str) -> ConnectPage:
        """Answer `tariff_structure_select`."""
        # connect.md §2: a list holding exactly one option; more is `option_invalid`.
        return await self.submit({"options": [str(option)]})

    async def submit_fixed_rate(self, cost: float) -> ConnectPage:
        """Answer `rate_fixed_capture` with a price per kWh in major units."""
        return await self.submit({"cost": cost})

    async def submit_time_of_day_rates(
        self, hours: Sequence[TimeOfDayRate]
    ) -> ConnectPage:
        """Answer `rate_tod_capture`, once the periods are known to cover the day."""
        check_time_of_day_cover(hours)
        return await self.submit({"hours": [rate.as_json() for rate in hours]})

    async def submit_surcharge(self, *, fixed: float, percentage: float) -> ConnectPage:
        """Answer `surcharge_capture`: fixed (major units per kWh), then a percentage."""
        return await self.submit(
            {"surcharge": {"fixed": fixed, "percentage": percentage}}
        )

    async def select_region(self, region: str) -> ConnectPage:
        """Answer `region_select`."""
        return await self.submit({"region": region})

    async def submit_contract_term(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        until_terminated: bool = False,
    ) -> ConnectPage:
        """Answer `contract_term_capture`; unknown dates are sent as null."""
        # connect.md §2: the docs' three fields, not the reference client's one; both
        # are documented to work and the docs' form can say "until terminated".
        return await self.submit(
            {
                "contract_start_date": format_timestamp(start) if start else None,
                "contract_end_date": format_timestamp(end) if end else None,
                "contract_term_type": UNTIL_TERMINATED if until_terminated else None,
            }
        )


class PriceUnit(StrEnum):
    """The unit a price is typed in: the currency's major unit (GBP) or minor unit (p)."""

    MAJOR = "major"
    MINOR = "minor"


# ISO 4217 currencies whose minor unit is not a hundredth; all others use 2 decimals.
_CURRENCY_EXPONENTS: Final[Mapping[str, int]] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
# connect.md §2 "Units": the reference client keeps 4 decimals beyond the minor unit.
_EXTRA_DECIMALS: Final = 4


def currency_exponent(currency_code: str) -> int:
    """How many decimals the currency's minor unit has (2 for GBP, EUR, USD)."""
    return _CURRENCY_EXPONENTS.get(currency_code.upper(), 2)


def _decimal(value: str | float | Decimal) -> Decimal:
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        # A decimal comma, as many locales type it ("0,245"), when no point is present.
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        value = text
    elif isinstance(value, float):
        # Through str, so 0.1 stays 0.1 rather than its binary expansion.
        value = str(value)
    try:
        number = Decimal(value)
    except InvalidOperation as err:
        raise ValueError(f"{value!r} is not a number") from err
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def price_to_connect(
    amount: str | float | Decimal,
    currency_code: str,
    *,
    unit: PriceUnit = PriceUnit.MAJOR,
) -> float:
    """Convert a price per kWh as typed to what Connect takes: major units per kWh.

    connect.md §2 "Units": every cost posted is in major units (GBP 0.245/kWh); the
    docs' one example of `24` contradicts that note and is not followed.
    """
    number = _decimal(amount)
    if number < 0:
        raise ValueError("a price cannot be negative")
    exponent = currency_exponent(currency_code)
    if unit is PriceUnit.MINOR:
        number = number.scaleb(-exponent)
    return float(round(number, exponent + _EXTRA_DECIMALS))


def price_from_connect(
    cost: float,
    currency_code: str,
    *,
    unit: PriceUnit = PriceUnit.MAJOR,
) -> float:
    """Convert a cost Connect sent (major units per kWh) to the unit a form shows."""
    number = _decimal(cost)
    exponent = currency_exponent(currency_code)
    if unit is PriceUnit.MINOR:
        return float(round(number.scaleb(exponent), _EXTRA_DECIMALS))
    return float(round(number, exponent + _EXTRA_DECIMALS))


def _seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def time_of_day_rate(
    cost: float, valid_from: str | time, valid_to: str | time
) -> TimeOfDayRate:
    """Build a time-of-day period from form values; bad times raise the server's code."""
    start = parse_time_of_day(valid_from)
    if start is None:
        raise FlatpeakTimeOfDayCoverError(
            f"{valid_from!r} is not a time of day", code="valid_from_invalid"
        )
    end = parse_time_of_day(valid_to)
    if end is None:
        raise FlatpeakTimeOfDayCoverError(
            f"{valid_to!r} is not a time of day", code="valid_to_invalid"
        )
    return TimeOfDayRate(cost=cost, valid_from=start, valid_to=end)


def check_time_of_day_cover(hours: Sequence[TimeOfDayRate]) -> None:
    """Raise unless the periods cover each second of the day exactly once.

    connect.md §2 `rate_tod_capture`: a `valid_to` of 00:00:00 is midnight and a period
    may wrap past it; a period that ends where it starts lasts the whole day (Connect's
    own default is one such period). The codes are the server's where it has one
    (`incomplete_time_period`, `gap_in_time_period`); an overlap has none documented,
    so it is told by `overlap_in_time_period`.
    """
    if not hours:
        raise FlatpeakTimeOfDayCoverError(
            "no time-of-day period was given", code="incomplete_time_period"
        )
    spans: list[tuple[int, int]] = []
    for rate in hours:
        start, end = _seconds(rate.valid_from), _seconds(rate.valid_to)
        if end <= start:
            end += _DAY_SECONDS
        # Cut a period that wraps past midnight in two, so every span is within one day.
        spans.append((start, min(end, _DAY_SECONDS)))
        if end > _DAY_SECONDS:
            spans.append((0, end - _DAY_SECONDS))
    spans.sort()
    for (_, previous_end), (start, _) in pairwise(spans):
        if start < previous_end:
            raise FlatpeakTimeOfDayCoverError(
                "time-of-day periods overlap", code="overlap_in_time_period"
            )
    if sum(end - start for start, end in spans) != _DAY_SECONDS:
        raise FlatpeakTimeOfDayCoverError(
            "time-of-day periods leave part of the day uncovered",
            code="gap_in_time_period",
        )


def with_connect_token(
    url: str,
    connect_token: str,
    extra_params: Mapping[str, str] | None = None,
) -> str:
    """Add `fp_cot` (and extra parameters) to a URL a browser is sent to, unless present.

    connect.md §3: Connect's `redirect_url` is to be opened with `fp_cot=<token>`, yet
    the reference client opens it as it is, so it may already carry one (INFERRED).
    Other parameters come back on the `connect_url` callback.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {name for name, _ in query}
    if CONNECT_TOKEN_PARAM not in names:
        query.append((CONNECT_TOKEN_PARAM, connect_token))
        names.add(CONNECT_TOKEN_PARAM)
    query += [
        (name, value)
        for name, value in (extra_params or {}).items()
        if name not in names
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def connect_token_from_url(url: str) -> str | None:
    """Return the connect token a callback URL carries in `fp_cot`, if any (connect.md §3)."""
    for name, value in parse_qsl(urlsplit(url).query):
        if name == CONNECT_TOKEN_PARAM and value:
            return value
    return None


def is_session_end(page: ConnectPage, callback_url: str) -> bool:
    """Whether a page ends the session: a redirect to the callback, or `session_complete`.

    connect.md §4: Anode's reply to CLOSE and DISCONNECT is NOT FOUND in the docs;
    INFERRED to be a `session_redirect` whose `redirect_url` is the `callback_url`. Zero's
    `session_complete` and the legacy `complete_tariff` are read as ends too.
    """
    if page.route in {ConnectRoute.SESSION_COMPLETE, ConnectRoute.COMPLETE_TARIFF}:
        return True
    redirect = page.redirect_url
    if redirect is None:
        return False
    target, callback = urlsplit(redirect), urlsplit(callback_url)
    return (target.scheme, target.netloc, target.path.rstrip("/")) == (
        callback.scheme,
        callback.netloc,
        callback.path.rstrip("/"),
    )
