"""Tests for the API models: documented variants accepted, malformed data refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.flatpeak.api.exceptions import FlatpeakResponseError
from custom_components.flatpeak.api.models import (
    JsonWebKey,
    Location,
    LocationStatus,
    LoginToken,
    Prices,
    PriceSlot,
    parse_datetime,
    parse_list,
)


def _price(**row: Any) -> dict[str, Any]:
    return {
        "id": "prs_1",
        "object": "price",
        "location_id": "loc_1",
        "currency_code": "GBP",
        "data": [row],
    }


def test_price_row_variants() -> None:
    """Rows come as price{value,confidence} or, in older docs, tariff{rate,confidence}."""
    anode = PriceSlot.from_dict(
        {
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2026-01-01T00:30:00Z",
            "price": {"value": 0.25, "confidence": 0.8},
        }
    )
    legacy = PriceSlot.from_dict(
        {
            "valid_from": "2026-01-01T00:00:00+01:00",
            "valid_to": "2026-01-01T01:00:00+01:00",
            "tariff": {"rate": 1},
        }
    )
    assert (anode.value, anode.confidence) == (0.25, 0.8)
    assert (legacy.value, legacy.confidence) == (1.0, 1.0)
    assert legacy.valid_from == datetime(2025, 12, 31, 23, tzinfo=UTC)


def _row(minute: int, value: float, confidence: float) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    return {
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(minutes=15)).isoformat(),
        "price": {"value": value, "confidence": confidence},
    }


def test_no_data_rows_are_gaps_not_free_prices() -> None:
    """Value 0 with confidence 0 is Flatpeak's "no market rate" (api-facts.md §4e).

    Only both together: a sure price of 0 and an unsure price of 0.2 are prices.
    """
    prices = Prices.from_dict(
        _price()
        | {
            "data": [
                _row(0, 0, 0),
                _row(15, 0, 1),
                _row(30, 0.2, 0),
                _row(45, 0.0, 0.0),
            ]
        }
    )
    assert [(slot.valid_from.minute, slot.value) for slot in prices.slots] == [
        (15, 0.0),
        (30, 0.2),
    ]


@pytest.mark.parametrize("confidence", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_confidence_is_unknown(confidence: float) -> None:
    """The slot keeps its price with an unknown confidence; the response stands."""
    prices = Prices.from_dict(
        _price() | {"data": [_row(0, 0.25, confidence), _row(15, 0.3, 0.9)]}
    )
    assert [(slot.value, slot.confidence) for slot in prices.slots] == [
        (0.25, None),
        (0.3, 0.9),
    ]


@pytest.mark.parametrize(
    "row",
    [
        {"valid_from": "2026-01-01T00:00:00Z", "valid_to": "2026-01-01T00:30:00Z"},
        {
            "valid_from": "2026-01-01T00:30:00Z",
            "valid_to": "2026-01-01T00:00:00Z",
            "price": {"value": 1},
        },
        {
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2026-01-01T00:30:00Z",
            "price": {"value": "1"},
        },
        {
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2026-01-01T00:30:00Z",
            "price": {"value": True},
        },
        {
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2026-01-01T00:30:00Z",
            "price": {"value": 1, "confidence": "high"},
        },
        {"valid_from": 0, "valid_to": "2026-01-01T00:30:00Z", "price": {"value": 1}},
        "row",
    ],
)
def test_price_row_malformed(row: Any) -> None:
    """A row without a usable price or interval is refused."""
    with pytest.raises(FlatpeakResponseError):
        PriceSlot.from_dict(row)


def test_prices_sorted_and_optional_fields() -> None:
    """Slots are put in time order; optional fields may be absent."""
    prices = Prices.from_dict(
        _price(
            valid_from="2026-01-01T01:00:00Z",
            valid_to="2026-01-01T02:00:00Z",
            price={"value": 2},
        )
        | {
            "data": [
                {
                    "valid_from": "2026-01-01T01:00:00Z",
                    "valid_to": "2026-01-01T02:00:00Z",
                    "price": {"value": 2},
                },
                {
                    "valid_from": "2026-01-01T00:00:00Z",
                    "valid_to": "2026-01-01T01:00:00Z",
                    "price": {"value": 1},
                },
            ],
            "next_update": "",
        }
    )
    assert [slot.value for slot in prices.slots] == [1.0, 2.0]
    assert prices.tariff_direction == "IMPORT"
    assert prices.next_update is None
    assert prices.last_updated is None


@pytest.mark.parametrize(
    "body",
    [
        {"location_id": "loc_1", "currency_code": "GBP"},
        {"location_id": "loc_1", "currency_code": "GBP", "data": {}},
        {"location_id": "loc_1", "data": []},
        [],
    ],
)
def test_prices_malformed(body: Any) -> None:
    """A price object without its required parts is refused."""
    with pytest.raises(FlatpeakResponseError):
        Prices.from_dict(body)


def test_location_display_name() -> None:
    """Reference id, else address, else id names the location."""
    base = {"id": "loc_1", "object": "location", "live_mode": True}
    assert Location.from_dict(base | {"reference_id": "Home"}).display_name == "Home"
    address = {"address_line1": "1 High St", "city": "Bath", "post_code": "BA1 1AA"}
    located = Location.from_dict(base | {"postal_address": address})
    assert located.display_name == "1 High St, Bath, BA1 1AA"
    assert Location.from_dict(base | {"postal_address": {}}).display_name == "loc_1"
    assert Location.from_dict(base).display_name == "loc_1"


def test_location_ignores_unknown_and_nested_status() -> None:
    """Unknown fields are ignored; status slots that are objects (newer releases) too."""
    location = Location.from_dict(
        {
            "id": "loc_1",
            "brand_new": {"x": 1},
            "tariff_status": {
                "commodity_import": "CONNECTED",
                "local": {"status": "X"},
            },
        }
    )
    assert location.tariff_status == {"commodity_import": "CONNECTED"}
    assert Location.from_dict({"id": "loc_2", "tariff_status": "?"}).tariff_status == {}


@pytest.mark.parametrize(
    "body",
    [
        {"object": "location"},
        {"id": 5},
        {"id": "loc_1", "live_mode": "true"},
        {"id": "loc_1", "timezone": 1},
        {"id": "loc_1", "postal_address": "Bath"},
    ],
)
def test_location_malformed(body: dict[str, Any]) -> None:
    """Wrong types are refused rather than passed on."""
    with pytest.raises(FlatpeakResponseError):
        Location.from_dict(body)


def test_location_status() -> None:
    """Each slot's status, connection type, provider and tariff are read."""
    status = LocationStatus.from_dict(
        {
            "id": "loc_1",
            "object": "location_status",
            "tariff_status": {
                "commodity_import": {
                    "status": "CONNECTED",
                    "connection_type": "LIBRARY",
                    "provider": {"id": "prv_1", "display_name": "Octopus Energy"},
                    "tariff": {
                        "id": "trf_1",
                        "display_name": "Agile",
                        "structure_type": "MARKET",
                        "contract_end_date": "2027-01-01T00:00:00Z",
                    },
                },
                "commodity_export": {"status": "NOT_CONNECTED"},
                "local": {"status": "NOT_SUPPORTED"},
            },
        }
    )
    imported = status.commodity_import
    assert imported is not None
    assert imported.connected
    assert imported.provider is not None
    assert imported.provider.display_name == "Octopus Energy"
    assert imported.tariff is not None
    assert imported.tariff.contract_end_date == datetime(2027, 1, 1, tzinfo=UTC)
    assert not status.has_export_tariff
    assert LocationStatus.from_dict({"id": "loc_1"}).commodity_import is None


def test_location_status_malformed() -> None:
    """A slot without a status is refused."""
    with pytest.raises(FlatpeakResponseError):
        LocationStatus.from_dict(
            {"id": "loc_1", "tariff_status": {"commodity_import": {}}}
        )


def test_login_token() -> None:
    """The token needs a positive lifetime."""
    token = LoginToken.from_dict(
        {"bearer_token": "t", "expires_in": 3600, "live_mode": False}
    )
    assert token.expires_in == 3600
    with pytest.raises(FlatpeakResponseError):
        LoginToken.from_dict({"bearer_token": "t", "expires_in": 0})
    with pytest.raises(FlatpeakResponseError):
        LoginToken.from_dict({"expires_in": 10})


def test_timestamps() -> None:
    """Offsets are kept; system timestamps without one are UTC."""
    assert parse_datetime("2022-01-24T14:15:22.003", "x").tzinfo is UTC
    assert parse_datetime("2026-03-29T02:00:00+01:00", "x").utcoffset() is not None
    with pytest.raises(FlatpeakResponseError):
        parse_datetime("24/01/2022", "x")


def test_list_envelope_and_jwk() -> None:
    """List envelopes need data and a boolean has_more; JWKs must be RSA."""
    assert parse_list({"data": [1], "has_more": True}, "x") == ([1], True)
    assert parse_list({"data": []}, "x") == ([], False)
    with pytest.raises(FlatpeakResponseError):
        parse_list({"data": [], "has_more": "no"}, "x")
    with pytest.raises(FlatpeakResponseError):
        parse_list({}, "x")
    with pytest.raises(FlatpeakResponseError):
        JsonWebKey.from_dict({"kty": "EC", "kid": "k"})
