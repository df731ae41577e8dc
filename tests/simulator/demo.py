"""A realistic demo account: two UK locations with Agile-like half-hourly prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .connect import ConnectProviders, seed_connect_providers
from .prices import agile_price

if TYPE_CHECKING:
    from .state import SimulatorState

DEMO_ACCOUNT_ID = "acc_demo00000000000000000001"
DEMO_LIVE_KEY = "sk_live_demo00000000000000000001"
DEMO_TEST_KEY = "sk_test_demo00000000000000000001"
# Fixed ids (time part 0x65000000 = 2023-09-12) so a Home Assistant set up against one
# run of the demo still finds its locations after the simulator restarts.
DEMO_HOME_ID = "loc_650000000000000000000001"
DEMO_WORKSHOP_ID = "loc_650000000000000000000002"
DEMO_TEST_HOME_ID = "loc_650000000000000000000003"
_DEMO_CREATED = datetime.fromtimestamp(0x65000000, UTC)
_LONDON = ZoneInfo("Europe/London")
EXPORT_PRICE = 0.15


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """Credentials and ids of the seeded demo."""

    account_id: str
    live_key: str
    test_key: str
    home_location_id: str
    workshop_location_id: str
    test_location_id: str
    connect: ConnectProviders


def seed_demo(state: SimulatorState) -> DemoAccount:
    """Seed the demo account, its locations, statuses and price patterns."""
    state.add_account(DEMO_ACCOUNT_ID, [DEMO_LIVE_KEY, DEMO_TEST_KEY])

    def import_price(start: datetime) -> tuple[float, float]:
        local = start.astimezone(_LONDON)
        tomorrow = state.now().astimezone(_LONDON).date() + timedelta(days=1)
        # Known through tomorrow; further out it is a forecast, as for dynamic tariffs.
        return agile_price(local), 1.0 if local.date() <= tomorrow else 0.6

    def export_price(_start: datetime) -> tuple[float, float]:
        return EXPORT_PRICE, 1.0

    contract_end = datetime.combine(
        state.now().date() + timedelta(days=365), time(), tzinfo=UTC
    )
    locations = {
        DEMO_HOME_ID: ("Home", True, False),
        DEMO_WORKSHOP_ID: ("Workshop", True, True),
        DEMO_TEST_HOME_ID: ("Test Home", False, False),
    }
    for location_id, (name, live_mode, has_export) in locations.items():
        state.add_location(
            DEMO_ACCOUNT_ID,
            location_id,
            live_mode=live_mode,
            reference_id=name,
            time_created=_DEMO_CREATED,
        )
        state.set_status(
            location_id,
            "import",
            tariff_name="Agile Octopus",
            structure_type="DYNAMIC",
            contract_end_date=contract_end,
        )
        state.set_price_pattern(location_id, import_price)
        if has_export:
            state.set_status(
                location_id,
                "export",
                tariff_name="Outgoing Octopus Fixed",
                structure_type="FIXED",
                contract_end_date=contract_end,
            )
            state.set_price_pattern(location_id, export_price, direction="EXPORT")
    return DemoAccount(
        account_id=DEMO_ACCOUNT_ID,
        live_key=DEMO_LIVE_KEY,
        test_key=DEMO_TEST_KEY,
        home_location_id=DEMO_HOME_ID,
        workshop_location_id=DEMO_WORKSHOP_ID,
        test_location_id=DEMO_TEST_HOME_ID,
        connect=seed_connect_providers(state),
    )
