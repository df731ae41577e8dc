"""Tests for the config entry diagnostics."""

from __future__ import annotations

from datetime import UTC, datetime
import logging
from typing import TYPE_CHECKING, Any

import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.matchers import path_type

from custom_components.flatpeak.const import CONF_CLOUDHOOK_URL
from tests.helpers import ACCOUNT_ID, HOME_ID, LIVE_KEY, WEBHOOK_ID

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
    from syrupy.assertion import SnapshotAssertion

    from tests.simulator import RunningSimulator, SimulatorState

CLOUDHOOK_URL = "https://hooks.nabu.casa/gAAAAABm-secret"
CUSTOMER_ID = "cus_jane_doe"
REDACTED = "**REDACTED**"
# The simulator listens on a free port; the random parts are checked apart.
UNSTABLE = path_type(
    {
        r"entry\.data\.api_url": (str,),
        # The coordinator adds random jitter to its interval.
        r"locations\.[^.]+\.update_interval": (str,),
    },
    regex=True,
)

# `hass_client` comes after `init_integration` in the tests' arguments: its access token
# must be issued at the frozen NOW, or the token has expired by then.


@pytest.fixture(autouse=True)
def quiet_access_log(caplog: pytest.LogCaptureFixture) -> None:
    """Skip aiohttp's access log: under freezegun it cannot find the UTC offset."""
    caplog.set_level(logging.WARNING, logger="aiohttp.access")


@pytest.fixture
def simulator_state(simulator_state: SimulatorState) -> SimulatorState:
    """Fixed provider and tariff ids (not from the clock) and a customer id."""
    simulator_state.locations[HOME_ID]["customer_id"] = CUSTOMER_ID
    simulator_state.set_status(
        HOME_ID,
        tariff_name="Agile Octopus",
        contract_end_date=datetime(2027, 6, 30, tzinfo=UTC),
        provider_id="prv_octopus",
        tariff_id="trf_agile",
    )
    return simulator_state


async def test_diagnostics(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    simulator: RunningSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """Settings and last data, without credentials or webhook secrets."""
    hass.config_entries.async_update_entry(
        init_integration,
        data={**init_integration.data, CONF_CLOUDHOOK_URL: CLOUDHOOK_URL},
    )
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    assert diagnostics == snapshot(matcher=UNSTABLE)

    data = diagnostics["entry"]["data"]
    assert data["api_url"] == simulator.url
    assert data["api_key"] == REDACTED
    assert data["account_id"] == REDACTED
    assert data["webhook_id"] == REDACTED
    assert data["cloudhook_url"] == REDACTED
    home = diagnostics["locations"][HOME_ID]
    assert home["location"]["postal_address"] == REDACTED
    assert home["location"]["customer_id"] == REDACTED
    # 5 h 55 min until Flatpeak's next_update, plus up to 30 s of jitter.
    assert home["update_interval"].startswith("5:55:")
    text = str(diagnostics)
    for secret in (LIVE_KEY, ACCOUNT_ID, WEBHOOK_ID, CLOUDHOOK_URL, CUSTOMER_ID):
        assert secret not in text
    assert "SW1A" not in text


async def test_diagnostics_prices_unavailable(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    simulator: RunningSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    """A location Flatpeak has no prices for yet shows the code and no prices."""
    simulator.state.set_prices_error(HOME_ID, "pending_connect")
    coordinator = init_integration.runtime_data.locations[HOME_ID]
    await coordinator.async_refresh()
    assert coordinator.data.prices_unavailable == "pending_connect"

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    assert diagnostics["locations"] == snapshot
    home = diagnostics["locations"][HOME_ID]
    assert home["prices_unavailable"] == "pending_connect"
    assert home["import_prices"] is None
    assert home["export_prices"] is None
    assert home["update_interval"] == "0:15:00"
