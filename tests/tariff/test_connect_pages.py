"""Connect pages as forms: what a form sends, and the summary's text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custom_components.flatpeak.api.connect_models import ConnectPage, ConnectRate
from custom_components.flatpeak.tariff.connect_pages import (
    MAX_RATE_LINES,
    NONE_TEXT,
    InvalidInputError,
    form_data,
    form_schema,
    menu_options,
    rates_text,
    summary_text,
)


def _page(
    route: str, data: dict[str, Any], actions: list[str] | None = None
) -> ConnectPage:
    return ConnectPage.from_dict(
        {
            "route": route,
            "data": data,
            "actions": actions or [],
            "connect_token": "cot_1",
        }
    )


PROVIDERS = {
    "providers": [
        {"id": "prv_1", "display_name": "Octopus Energy"},
        {"id": "prv_2", "display_name": "EDF Energy"},
    ]
}


def test_provider_typed_is_matched_by_name() -> None:
    """A provider typed into the searchable picker is sent by its id."""
    page = _page("provider_select", PROVIDERS)
    assert form_data(page, {"provider": "prv_2"}) == {"provider": {"id": "prv_2"}}
    assert form_data(page, {"provider": " edf energy "}) == {
        "provider": {"id": "prv_2"}
    }
    # Unknown: sent as typed, for Connect to answer in its own words.
    assert form_data(page, {"provider": "Acme"}) == {"provider": {"id": "Acme"}}
    with pytest.raises(InvalidInputError) as err:
        form_data(page, {})
    assert (err.value.key, err.value.field) == ("provider_missing", "provider")


def test_fixed_cost_is_major_units() -> None:
    """What is typed is what the sensors show: major units, sent as such (§2 Units)."""
    page = _page("rate_fixed_capture", {"currency_code": "GBP", "cost": 0})
    assert form_data(page, {"cost": 0.245}) == {"cost": 0.245}
    _, suggested = form_schema(page)
    assert suggested == {}  # Connect's 0 is no price
    for bad in (0, -1, "x"):
        with pytest.raises(InvalidInputError) as err:
            form_data(page, {"cost": bad})
        assert err.value.key == "price_invalid"


def test_time_of_day_night_fills_the_day() -> None:
    """Day and night; the night defaults to the rest of the day; the cover is checked."""
    page = _page("rate_tod_capture", {"currency_code": "GBP", "hours": []})
    sent = form_data(
        page,
        {
            "valid_from": "07:00:00",
            "valid_to": "00:00:00",
            "cost": 0.3,
            "night_cost": 0.1,
        },
    )
    assert sent == {
        "hours": [
            {"cost": 0.3, "valid_from": "07:00:00", "valid_to": "00:00:00"},
            {"cost": 0.1, "valid_from": "00:00:00", "valid_to": "07:00:00"},
        ]
    }
    with pytest.raises(InvalidInputError) as err:
        form_data(
            page,
            {
                "valid_from": "07:00:00",
                "valid_to": "07:00:00",
                "cost": 0.3,
                "night_cost": 0.1,
            },
        )
    assert err.value.key == "overlap_in_time_period"


def test_contract_term_in_the_docs_shape() -> None:
    """Three fields, RFC 3339 dates, null where unknown; until terminated has no end."""
    page = _page("contract_term_capture", {})
    assert form_data(
        page, {"contract_end_date": "2027-03-31", "contract_term_type": "FIXED"}
    ) == {
        "contract_start_date": None,
        "contract_end_date": "2027-03-31T00:00:00Z",
        "contract_term_type": "FIXED",
    }
    assert (
        form_data(
            page,
            {
                "contract_end_date": "2027-03-31",
                "contract_term_type": "UNTIL_TERMINATED",
            },
        )["contract_end_date"]
        is None
    )


def test_address_is_trimmed_and_country_upper() -> None:
    """Only what was typed is sent; the country as ISO alpha-2 in capitals."""
    page = _page("postal_address_capture", {"postal_address": {}})
    assert form_data(page, {"city": " Leeds ", "country_code": "gb", "state": ""}) == {
        "postal_address": {"city": "Leeds", "country_code": "GB"}
    }
    _, suggested = form_schema(page, country="GB")
    assert suggested == {"country_code": "GB"}


def test_menu_keeps_known_actions_and_always_a_way_out() -> None:
    """Actions in lower case; unknown ones left out; close always offered."""
    page = _page("tariff_summary", {}, ["EDIT", "SOMETHING_NEW", "BACK"])
    assert menu_options(page) == ["edit", "back", "close"]
    page = _page("provider_select", PROVIDERS, ["PROVIDER_MISSING", "CLOSE"])
    assert menu_options(page, form_step="provider_select") == [
        "provider_select",
        "provider_missing",
        "close",
    ]


def test_rates_text() -> None:
    """Equal neighbours merge; many changes become a range."""
    start = datetime(2026, 11, 25, tzinfo=UTC)

    def rate(hour: int, hours: int, cost: float) -> ConnectRate:
        return ConnectRate(
            valid_from=start + timedelta(hours=hour),
            valid_to=start + timedelta(hours=hour + hours),
            cost=cost,
        )

    assert rates_text([], "GBP") == NONE_TEXT
    assert rates_text([rate(0, 7, 0.1), rate(7, 5, 0.3), rate(12, 12, 0.3)], "GBP") == (
        "- 00:00 to 07:00: 0.1000 GBP/kWh\n- 07:00 to 00:00: 0.3000 GBP/kWh"
    )
    # A flat price all day is said so, not "00:00 to 00:00".
    assert rates_text([rate(0, 12, 0.245), rate(12, 12, 0.245)], "GBP") == (
        "- All day: 0.2450 GBP/kWh"
    )
    # So is a clock-change day of 25 hours, in the offsets Connect writes (London,
    # 25 October 2026: from midnight BST to midnight GMT).
    long_day = ConnectRate(
        valid_from=datetime(2026, 10, 25, tzinfo=timezone(timedelta(hours=1))),
        valid_to=datetime(2026, 10, 26, tzinfo=UTC),
        cost=0.2,
    )
    assert rates_text([long_day], "GBP") == "- All day: 0.2000 GBP/kWh"
    many = [rate(h, 1, 0.1 + h / 100) for h in range(MAX_RATE_LINES + 1)]
    assert rates_text(many, "EUR") == "0.1000 to 0.2200 EUR/kWh, changing 13 times"


def test_summary_of_pending_page() -> None:
    """The pending page names the provider and connection; the rest is a dash."""
    page = _page(
        "tariff_connection_pending",
        {
            "connection_type": "DIRECT",
            "provider": {"id": "prv_1", "display_name": "Octopus"},
        },
    )
    text = summary_text(page)
    assert (text.provider, text.connection_type, text.tariff) == (
        "Octopus",
        "DIRECT",
        NONE_TEXT,
    )
