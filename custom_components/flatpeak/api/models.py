"""Typed, immutable views of the Flatpeak API's JSON objects.

Parsers keep what the integration uses, ignore unknown fields (Flatpeak adds fields without
a version change) and raise `FlatpeakResponseError` when a field the API documents as
present is missing or has the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import math
from typing import Any, Self

from .exceptions import FlatpeakResponseError

type JsonObject = Mapping[str, Any]


class TariffDirection(StrEnum):
    """Direction of energy flow a tariff prices."""

    IMPORT = "IMPORT"
    EXPORT = "EXPORT"


class TariffConnectionStatus(StrEnum):
    """Status of one tariff slot of a location."""

    CONNECTED = "CONNECTED"
    NOT_CONNECTED = "NOT_CONNECTED"
    ERROR = "ERROR"
    NOT_SUPPORTED = "NOT_SUPPORTED"


class _NotFiniteError(FlatpeakResponseError):
    """A number that is infinite or NaN where a finite one is documented."""


def _require_object(value: Any, what: str) -> JsonObject:
    if not isinstance(value, Mapping):
        raise FlatpeakResponseError(f"{what} is not a JSON object")
    return value


def _str(obj: JsonObject, key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise FlatpeakResponseError(f"{what}.{key} is missing or not a string")
    return value


def _opt_str(obj: JsonObject, key: str, what: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FlatpeakResponseError(f"{what}.{key} is not a string")
    return value or None


def _opt_bool(obj: JsonObject, key: str, what: str) -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise FlatpeakResponseError(f"{what}.{key} is not a boolean")
    return value


def _number(obj: JsonObject, key: str, what: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FlatpeakResponseError(f"{what}.{key} is missing or not a number")
    # JSON numbers such as 1e999 parse as infinity (and Python's parser takes NaN):
    # no state, average or comparison can be made of them.
    if not math.isfinite(value):
        raise _NotFiniteError(f"{what}.{key} is not a finite number")
    return float(value)


def parse_datetime(value: Any, what: str) -> datetime:
    """Parse an RFC 3339 timestamp; system timestamps without an offset are UTC."""
    if not isinstance(value, str):
        raise FlatpeakResponseError(f"{what} is missing or not a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise FlatpeakResponseError(f"{what} is not an RFC 3339 timestamp") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _opt_datetime(obj: JsonObject, key: str, what: str) -> datetime | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return parse_datetime(value, f"{what}.{key}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginToken:
    """A bearer token from `GET /login`."""

    bearer_token: str
    expires_in: float
    live_mode: bool | None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse the login response."""
        obj = _require_object(obj, "login")
        expires_in = _number(obj, "expires_in", "login")
        if expires_in <= 0:
            raise FlatpeakResponseError("login.expires_in is not positive")
        return cls(
            bearer_token=_str(obj, "bearer_token", "login"),
            expires_in=expires_in,
            live_mode=_opt_bool(obj, "live_mode", "login"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PostalAddress:
    """A location's postal address."""

    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    post_code: str | None = None
    country_code: str | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a postal address."""
        obj = _require_object(obj, "postal_address")
        return cls(
            **{
                name: _opt_str(obj, name, "postal_address")
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

    @property
    def one_line(self) -> str | None:
        """The address as one short line, or None when it has nothing to show."""
        parts = [p for p in (self.address_line1, self.city, self.post_code) if p]
        return ", ".join(parts) or None


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A Flatpeak location (`loc_…`)."""

    id: str
    live_mode: bool | None
    account_id: str | None
    reference_id: str | None
    customer_id: str | None
    timezone: str | None
    currency_code: str | None
    postal_address: PostalAddress | None
    tariff_status: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a location object."""
        obj = _require_object(obj, "location")
        address = obj.get("postal_address")
        raw_status = obj.get("tariff_status")
        # Anode gives plain strings per slot; keep only those, as other releases nest objects.
        status = (
            {k: v for k, v in raw_status.items() if isinstance(v, str)}
            if isinstance(raw_status, Mapping)
            else {}
        )
        return cls(
            id=_str(obj, "id", "location"),
            live_mode=_opt_bool(obj, "live_mode", "location"),
            account_id=_opt_str(obj, "account_id", "location"),
            reference_id=_opt_str(obj, "reference_id", "location"),
            customer_id=_opt_str(obj, "customer_id", "location"),
            timezone=_opt_str(obj, "timezone", "location"),
            currency_code=_opt_str(obj, "currency_code", "location"),
            postal_address=(
                PostalAddress.from_dict(address) if address is not None else None
            ),
            tariff_status=status,
        )

    @property
    def display_name(self) -> str:
        """The name people know the location by: their reference, the address, else the id."""
        if self.reference_id:
            return self.reference_id
        if self.postal_address and (line := self.postal_address.one_line):
            return line
        return self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """An energy provider."""

    id: str | None
    display_name: str | None
    logo_url: str | None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a provider reference."""
        obj = _require_object(obj, "provider")
        return cls(
            id=_opt_str(obj, "id", "provider"),
            display_name=_opt_str(obj, "display_name", "provider"),
            logo_url=_opt_str(obj, "logo_url", "provider"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffSummary:
    """The tariff connected in one slot of a location."""

    id: str | None
    display_name: str | None
    structure_type: str | None
    contract_end_date: datetime | None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a tariff summary."""
        obj = _require_object(obj, "tariff")
        return cls(
            id=_opt_str(obj, "id", "tariff"),
            display_name=_opt_str(obj, "display_name", "tariff"),
            structure_type=_opt_str(obj, "structure_type", "tariff"),
            contract_end_date=_opt_datetime(obj, "contract_end_date", "tariff"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffSlotStatus:
    """Status of one tariff slot (e.g. `commodity_import`) of a location."""

    status: str
    connection_type: str | None = None
    provider: Provider | None = None
    tariff: TariffSummary | None = None

    @classmethod
    def from_dict(cls, obj: Any, what: str) -> Self:
        """Parse one slot of a location status."""
        obj = _require_object(obj, what)
        provider = obj.get("provider")
        tariff = obj.get("tariff")
        return cls(
            status=_str(obj, "status", what),
            connection_type=_opt_str(obj, "connection_type", what),
            provider=Provider.from_dict(provider) if provider is not None else None,
            tariff=TariffSummary.from_dict(tariff) if tariff is not None else None,
        )

    @property
    def connected(self) -> bool:
        """Whether a tariff is connected in this slot."""
        return self.status == TariffConnectionStatus.CONNECTED


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationStatus:
    """`GET /locations/{id}/status`: the state of each tariff slot of a location."""

    id: str
    live_mode: bool | None
    account_id: str | None
    tariff_status: Mapping[str, TariffSlotStatus]

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a location status object."""
        obj = _require_object(obj, "location_status")
        raw = _require_object(
            obj.get("tariff_status", {}), "location_status.tariff_status"
        )
        return cls(
            id=_str(obj, "id", "location_status"),
            live_mode=_opt_bool(obj, "live_mode", "location_status"),
            account_id=_opt_str(obj, "account_id", "location_status"),
            tariff_status={
                key: TariffSlotStatus.from_dict(value, f"tariff_status.{key}")
                for key, value in raw.items()
            },
        )

    @property
    def commodity_import(self) -> TariffSlotStatus | None:
        """The energy import tariff slot."""
        return self.tariff_status.get("commodity_import")

    @property
    def commodity_export(self) -> TariffSlotStatus | None:
        """The energy export tariff slot."""
        return self.tariff_status.get("commodity_export")

    @property
    def has_export_tariff(self) -> bool:
        """Whether an export tariff is connected."""
        export = self.commodity_export
        return export is not None and export.connected


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceSlot:
    """The price per kWh, in major currency units, between two instants."""

    valid_from: datetime
    valid_to: datetime
    value: float
    # None when Flatpeak gave a number that is not finite: unknown, not refused.
    confidence: float | None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a price row; accepts `price{value,confidence}` and `tariff{rate,confidence}`."""
        obj = _require_object(obj, "price row")
        if isinstance(obj.get("price"), Mapping):
            inner, value_key = obj["price"], "value"
        elif isinstance(obj.get("tariff"), Mapping):
            inner, value_key = obj["tariff"], "rate"
        else:
            raise FlatpeakResponseError("price row has neither price nor tariff")
        confidence = inner.get("confidence", 1)
        if confidence is not None and (
            isinstance(confidence, bool) or not isinstance(confidence, int | float)
        ):
            raise FlatpeakResponseError("price row confidence is not a number")
        slot = cls(
            valid_from=parse_datetime(obj.get("valid_from"), "price row valid_from"),
            valid_to=parse_datetime(obj.get("valid_to"), "price row valid_to"),
            value=_number(inner, value_key, "price row"),
            # A NaN or infinite confidence (or null, the docs being silent on it) says
            # nothing of how sure the price is, but the price itself stands: that
            # slot's confidence is unknown.
            confidence=(
                float(confidence)
                if confidence is not None and math.isfinite(confidence)
                else None
            ),
        )
        if slot.valid_to <= slot.valid_from:
            raise FlatpeakResponseError("price row ends before it starts")
        return slot

    @property
    def is_no_data(self) -> bool:
        """Whether the row is Flatpeak's way of saying it has no price for the slot.

        api-facts.md §4e (tariff predictions): a MARKET or DYNAMIC tariff without
        market rates is answered with value 0 and confidence 0. Both must be 0: a
        price of 0 that Flatpeak is sure of (some tariffs have free hours) is a price,
        and so is an estimate it gives no confidence in but a value (the docs are
        silent on that case; the tolerant reading keeps the value).
        """
        return self.value == 0 and self.confidence == 0


def _priced_slots(rows: list[Any]) -> list[PriceSlot]:
    """Parse price rows, leaving out those that carry no price.

    A row whose price is not a finite number, or that says Flatpeak has no data for
    the slot, must not cost the whole day's prices nor pass for a free slot: it
    becomes a gap, shown as no price and skipped by windows and statistics. Rows
    malformed in any other way still refuse the response.
    """
    slots: list[PriceSlot] = []
    for row in rows:
        try:
            slot = PriceSlot.from_dict(row)
        except _NotFiniteError:
            continue
        if not slot.is_no_data:
            slots.append(slot)
    return slots


@dataclass(frozen=True, slots=True, kw_only=True)
class Prices:
    """`POST /prices/{location_id}`: price slots for a window, in time order."""

    location_id: str
    currency_code: str
    tariff_direction: str
    location_timezone: str | None
    last_updated: datetime | None
    next_update: datetime | None
    slots: tuple[PriceSlot, ...]
    live_mode: bool | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a price object."""
        obj = _require_object(obj, "price")
        rows = obj.get("data")
        if not isinstance(rows, list):
            raise FlatpeakResponseError("price.data is missing or not a list")
        return cls(
            location_id=_str(obj, "location_id", "price"),
            currency_code=_str(obj, "currency_code", "price"),
            tariff_direction=_opt_str(obj, "tariff_direction", "price")
            or TariffDirection.IMPORT,
            location_timezone=_opt_str(obj, "location_timezone", "price"),
            last_updated=_opt_datetime(obj, "last_updated", "price"),
            next_update=_opt_datetime(obj, "next_update", "price"),
            slots=tuple(sorted(_priced_slots(rows), key=lambda slot: slot.valid_from)),
            live_mode=_opt_bool(obj, "live_mode", "price"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A Flatpeak event, from `GET /events` or a webhook delivery."""

    id: str
    type: str
    data: JsonObject
    time_created: datetime | None
    location_id: str | None
    tariff_id: str | None
    account_id: str | None
    live_mode: bool | None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse an event; the ids it concerns are read from its data object."""
        obj = _require_object(obj, "event")
        if obj.get("object", "event") != "event":
            raise FlatpeakResponseError("event.object is not 'event'")
        data = obj.get("data")
        if not isinstance(data, Mapping):
            raise FlatpeakResponseError("event.data is missing or not an object")
        location_id = _opt_str(data, "location_id", "event.data")
        # location.* events carry the location itself as their data.
        if location_id is None and data.get("object") == "location":
            location_id = _opt_str(data, "id", "event.data")
        return cls(
            id=_str(obj, "id", "event"),
            type=_str(obj, "type", "event"),
            data=data,
            time_created=_opt_datetime(obj, "time_created", "event"),
            location_id=location_id,
            tariff_id=_opt_str(data, "tariff_id", "event.data"),
            account_id=_opt_str(data, "account_id", "event.data")
            or _opt_str(obj, "account_id", "event"),
            live_mode=_opt_bool(data, "live_mode", "event.data")
            if "live_mode" in data
            else _opt_bool(obj, "live_mode", "event"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    """One page of `GET /events`, newest first."""

    events: tuple[Event, ...]
    has_more: bool
    # The cursor for the next page: the last listed id, even if that event did not parse.
    last_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonWebKey:
    """An RSA public key from the JWKS that signs webhooks."""

    kid: str
    n: str
    e: str
    alg: str | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse one JWK."""
        obj = _require_object(obj, "jwk")
        if obj.get("kty") != "RSA":
            raise FlatpeakResponseError("jwk.kty is not RSA")
        return cls(
            kid=_str(obj, "kid", "jwk"),
            n=_str(obj, "n", "jwk"),
            e=_str(obj, "e", "jwk"),
            alg=_opt_str(obj, "alg", "jwk"),
        )


def parse_list(obj: Any, what: str) -> tuple[list[Any], bool]:
    """Unwrap a list envelope into its items and `has_more`."""
    obj = _require_object(obj, what)
    items = obj.get("data")
    if not isinstance(items, list):
        raise FlatpeakResponseError(f"{what}.data is missing or not a list")
    has_more = obj.get("has_more", False)
    if not isinstance(has_more, bool):
        raise FlatpeakResponseError(f"{what}.has_more is not a boolean")
    return items, has_more
