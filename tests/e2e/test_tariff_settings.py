"""Tariff settings with Flatpeak Connect, in Home Assistant's own frontend (Chromium).

Repairs for an expired tariff fixed here with a fixed rate; an upgrade through the DIRECT
provider's login page (a second tab) and back; a location added from the options menu.
With `FLATPEAK_SCREENSHOTS=1` the screenshots go to docs/images (the README's pictures).
"""

# The browser fixtures are test_browser's, imported: tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from playwright.async_api import expect
import pytest
import pytest_asyncio

from tests.e2e.harness import HomeAssistant, Simulator
from tests.e2e.test_browser import (  # noqa: F401 - fixtures are used by name
    PRICE,
    _log_in,
    _open,
    _prepare_frontend,
    page,
    screenshots,
)
from tests.simulator.connect import (
    DIRECT_PASSWORD,
    DIRECT_USERNAME,
)
from tests.simulator.demo import DEMO_HOME_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from playwright.async_api import Locator, Page

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Simulator, HomeAssistant, str]]:
    """A simulator, an onboarded Home Assistant and a Flatpeak entry using Connect."""
    work = tmp_path_factory.mktemp("e2e-connect")
    simulator = Simulator(work)
    hass = HomeAssistant(work / "config")
    await simulator.start()
    try:
        await hass.start()
        await hass.onboard()
        await _prepare_frontend(hass)
        async with hass.websocket() as ws:
            # The address form then suggests the home's country.
            await ws.command("config/core/update", country="GB")
            await ws.close()
        result = await hass.add_flatpeak_entry(
            simulator.url,
            connect_api_url=simulator.connect_url,
            locations=[DEMO_HOME_ID],
        )
        entry_id = result["result"]["entry_id"]
        await hass.wait_for_entry_loaded(entry_id)
        await hass.ignore_core_install_notice()
        yield simulator, hass, entry_id
    finally:
        await hass.close()
        await simulator.stop()


def _dialog(page: Page) -> Locator:
    return page.locator("dialog-data-entry-flow").locator("ha-dialog")


async def _choose(page: Page, label: str) -> None:
    """Choose a menu option of the flow dialog by its text."""
    await _dialog(page).get_by_text(label, exact=True).click()


async def _submit(page: Page) -> None:
    await (
        _dialog(page)
        .get_by_role("button", name=re.compile("submit", re.IGNORECASE))
        .click()
    )


async def _select(page: Page, field: str, option: str) -> None:
    """Choose an option of a select field of the dialog (a drop-down or a picker)."""
    await _dialog(page).get_by_label(re.compile(f"^{field}")).first.click()
    # The picker's own search box (the page behind may have a search field too).
    search = page.get_by_placeholder("Search | Add custom item", exact=True)
    # A drop-down's item; the field may show the same text, so the last one.
    listed = page.get_by_text(option, exact=True).last
    await expect(search.or_(listed).first).to_be_visible()
    if await search.count():
        # The searchable picker: type, then pick the item.
        await search.fill(option)
        await (
            page.locator("ha-combo-box-item")
            .filter(has=page.get_by_text(option, exact=True))
            .first.click()
        )
        await expect(search).to_have_count(0)
    else:
        await listed.click()


async def _problem(
    simulator: Simulator, hass: HomeAssistant, entry_id: str, event: str, status: dict
) -> None:
    """Flatpeak reports a tariff problem for Home, by webhook."""
    await simulator.control("status", {"location_id": DEMO_HOME_ID, **status})
    sent = await simulator.control(
        "send",
        {
            "type": event,
            "location_id": DEMO_HOME_ID,
            "url": await hass.webhook_url(entry_id),
        },
    )
    assert sent["result"]["delivered"], sent


async def _open_issue(page: Page, hass: HomeAssistant, title: str) -> None:
    await _open(page, f"{hass.url}/config/repairs")
    await page.get_by_role("button", name=re.compile(title)).click()
    await expect(_dialog(page)).to_contain_text(title)


async def _failed(page: Page, hass: HomeAssistant, tmp_path: Path) -> None:
    failure = tmp_path / "failure.png"
    with contextlib.suppress(Exception):
        await page.screenshot(path=failure)
    print(f"page {page.url}; screenshot {failure}\n{hass.process.log_tail(60)}")  # noqa: T201


async def _off(hass: HomeAssistant, entity_id: str) -> None:
    await hass.wait_for_state(entity_id, lambda s: s["state"] == "off", timeout=60)


async def _no_issue(hass: HomeAssistant, prefix: str) -> None:
    for _ in range(600):
        issues = await hass.repair_issues()
        if not any(i["issue_id"].startswith(prefix) for i in issues):
            return
        await _sleep()
    raise AssertionError(f"{prefix} is still in Repairs")


async def _sleep() -> None:
    import asyncio  # noqa: PLC0415

    await asyncio.sleep(0.1)


async def test_repair_expired_tariff_here(
    stack: tuple[Simulator, HomeAssistant, str],
    page: Page,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    """Repairs > expired > fix here > provider > fixed rate > summary > issue gone."""
    simulator, hass, entry_id = stack
    try:
        await _problem(
            simulator,
            hass,
            entry_id,
            "tariff.expired",
            {"contract_end_date": "2020-01-01T00:00:00+00:00"},
        )
        await hass.wait_for_state(
            "binary_sensor.home_tariff_expired", lambda s: s["state"] == "on", 60
        )
        await _log_in(page, hass)
        await _open_issue(page, hass, "Tariff expired at Home")
        await expect(_dialog(page)).to_contain_text("Set the current tariff here")
        await page.screenshot(path=screenshots / "repairs_fix_here.png")
        await _choose(page, "Set the current tariff here")

        await _choose(page, "Choose the provider")
        await _select(page, "Provider", "EDF Energy")
        await page.screenshot(path=screenshots / "connect_provider.png")
        await _submit(page)

        await _dialog(page).get_by_text("Fixed: one price all day").click()
        await _submit(page)
        await _dialog(page).get_by_role("spinbutton").first.fill("0.245")
        await page.screenshot(path=screenshots / "connect_fixed_rate.png")
        await _submit(page)

        await expect(_dialog(page)).to_contain_text("Flatpeak has this tariff for Home")
        await expect(_dialog(page)).to_contain_text("EDF Energy")
        await expect(_dialog(page)).to_contain_text("0.2450 GBP/kWh")
        await page.screenshot(path=screenshots / "connect_summary.png")
        await _choose(page, "Done")

        await _off(hass, "binary_sensor.home_tariff_expired")
        await _no_issue(hass, "tariff_expired_")
        price = await hass.wait_for_state(
            "sensor.home_current_price", lambda s: s["state"] == "0.245", 60
        )
        assert price["attributes"]["unit_of_measurement"] == "GBP/kWh"
    except Exception:
        await _failed(page, hass, tmp_path)
        raise


async def test_upgrade_through_provider_login(
    stack: tuple[Simulator, HomeAssistant, str],
    page: Page,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    """An upgrade: the DIRECT provider's login in a second tab, then back: issue gone."""
    simulator, hass, entry_id = stack
    try:
        await _problem(
            simulator,
            hass,
            entry_id,
            "tariff.connection.upgrade",
            {
                "connection_type": "LIBRARY",
                "contract_end_date": "2030-01-01T00:00:00+00:00",
            },
        )
        await hass.wait_for_state(
            "binary_sensor.home_connection_upgrade_available",
            lambda s: s["state"] == "on",
            60,
        )
        await _log_in(page, hass)
        await _open_issue(page, hass, "Better tariff connection available for Home")
        await _choose(page, "Upgrade the connection here")
        await expect(_dialog(page)).to_contain_text("LIBRARY")
        await _choose(page, "Change the tariff")
        await _choose(page, "Choose the provider")
        await _select(page, "Provider", "Octopus Energy")
        await _submit(page)
        await expect(_dialog(page)).to_contain_text("Log in with Octopus Energy")
        await page.screenshot(path=screenshots / "connect_provider_login.png")
        await _submit(page)
        async with page.context.expect_page() as opened:
            await _dialog(page).get_by_text("Open website").click()
        login = await opened.value
        await login.get_by_label("Email").fill(DIRECT_USERNAME)
        await login.get_by_label("Password").fill(DIRECT_PASSWORD)
        await login.get_by_role("button", name="Log in and allow").click()
        await expect(login.locator("#message")).to_contain_text("Close this tab")
        await login.close()

        await expect(_dialog(page)).to_contain_text("DIRECT")
        await _choose(page, "Done")
        await _off(hass, "binary_sensor.home_connection_upgrade_available")
        await _no_issue(hass, "tariff_connection_upgrade_")
    except Exception:
        await _failed(page, hass, tmp_path)
        raise


async def test_add_location_from_options(
    stack: tuple[Simulator, HomeAssistant, str],
    page: Page,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    """Configure > Add a location: address, provider, library tariff; its price shows."""
    _, hass, entry_id = stack
    try:
        await _log_in(page, hass)
        await _open(page, f"{hass.url}/config/integrations/integration/flatpeak")
        await page.get_by_role("button", name="Configure").first.click()
        await expect(_dialog(page)).to_contain_text("Tariff settings of a location")
        await page.screenshot(path=screenshots / "options_menu.png")
        await _choose(page, "Add a location and its tariff")
        name = _dialog(page).get_by_role("textbox", name="Name")
        await name.fill("Cottage")
        await _submit(page)

        await expect(_dialog(page)).to_contain_text("Address of Cottage")
        await _dialog(page).get_by_role("textbox", name="City").fill("Whitby")
        await _dialog(page).get_by_role("textbox", name="Postcode").fill("YO21 3PU")
        await _submit(page)
        await _choose(page, "Choose the provider")
        await _select(page, "Provider", "British Gas")
        await _submit(page)
        await _choose(page, "Choose the tariff")
        await _select(page, "Tariff", "Standard Variable: Price cap rate")
        await _submit(page)
        await expect(_dialog(page)).to_contain_text("Standard Variable")
        await _choose(page, "Done")
        # The entry follows chosen locations: the new one joins them (options saved).
        await _dialog(page).get_by_role("button", name="Finish").click()
        await expect(_dialog(page)).to_have_count(0)

        price: dict[str, Any] = await hass.wait_for_state(
            "sensor.cottage_current_price",
            lambda s: s["state"] not in ("unknown", "unavailable"),
            timeout=120,
        )
        assert PRICE.fullmatch(f"{price['state']} GBP/kWh"), price
        assert entry_id
    except Exception:
        await _failed(page, hass, tmp_path)
        raise
