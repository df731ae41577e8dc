"""A user's path through Home Assistant's own frontend, in a real (headless) Chromium.

Set-up through the config flow, the Home device page with its prices, and a tariff
problem arriving by webhook, shown on the device page and in Repairs; the README's
Energy dashboard steps, by the button texts it names. With
`FLATPEAK_SCREENSHOTS=1` the screenshots go to docs/images (the README's pictures);
otherwise to a temporary directory, so ordinary runs leave the committed images alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from typing import TYPE_CHECKING, Any

from playwright.async_api import async_playwright, expect
import pytest
import pytest_asyncio
import yaml

from tests.e2e.harness import PASSWORD, REPO_ROOT, USERNAME, HomeAssistant, Simulator
from tests.simulator.demo import DEMO_ACCOUNT_ID, DEMO_HOME_ID, DEMO_LIVE_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from playwright.async_api import Page

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# How Chromium runs on these machines: without the background-networking flags it keeps
# trying Google's services, and the closed network refuses its connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: CI is a loaded two-core machine and the frontend loads many modules.
TIMEOUT_MS = 30_000
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
PRICE = re.compile(r"\d+\.\d+\s*GBP/kWh")


async def _prepare_frontend(hass: HomeAssistant) -> None:
    """Make the freshly onboarded instance one the frontend loads cleanly in."""
    async with hass.websocket() as ws:
        # The frontend does not start without the service descriptions; they fail if an
        # integration Home Assistant always describes cannot be imported here.
        try:
            await ws.command("get_services")
        except RuntimeError as err:
            await ws.close()
            pytest.fail(
                "Home Assistant's frontend cannot load: get_services fails, usually "
                f"because a package is missing from the environment.\n{err}\n"
                f"{hass.process.log_tail(20)}"
            )
        await ws.close()
    # Entries onboarding adds that need the internet (Google Translate) only fail here;
    # remove them so the pictures show no red cards.
    for entry in await hass.request("GET", "/api/config/config_entries/entry"):
        if entry["state"] in ("setup_error", "setup_retry"):
            await hass.request(
                "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
            )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bare_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Simulator, HomeAssistant]]:
    """A simulator and an onboarded Home Assistant without a Flatpeak entry."""
    work = tmp_path_factory.mktemp("e2e-browser")
    simulator = Simulator(work)
    hass = HomeAssistant(work / "config")
    await simulator.start()
    try:
        await hass.start()
        await hass.onboard()
        await _prepare_frontend(hass)
        yield simulator, hass
    finally:
        await hass.close()
        await simulator.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/images when asked for, a temporary directory if not."""
    if os.environ.get("FLATPEAK_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        return DOCS_IMAGES
    return tmp_path_factory.mktemp("screenshots")


@pytest_asyncio.fixture(loop_scope="session")
async def page() -> AsyncIterator[Page]:
    """A page in a fresh headless Chromium, about 1280 by 900 pixels."""
    if CHROMIUM is None:
        # scripts/setup installs it where it can (as root); CI must have it.
        message = "no Chromium on this machine (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="en-GB"
            )
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            yield await context.new_page()
        finally:
            await browser.close()


async def _entry_id(hass: HomeAssistant) -> str:
    entries: list[dict[str, Any]] = await hass.request(
        "GET", "/api/config/config_entries/entry"
    )
    ours = [entry for entry in entries if entry["domain"] == "flatpeak"]
    assert len(ours) == 1, ours
    return str(ours[0]["entry_id"])


async def _loaded(page: Page) -> None:
    """Wait until the app has started and its launch screen has faded out."""
    await expect(page.locator("ha-sidebar")).to_be_visible()
    await expect(page.locator("#ha-launch-screen")).to_have_count(0)


async def _open(page: Page, url: str) -> None:
    """Load a page of the app (a full load, as a bookmark or a link from elsewhere)."""
    await page.goto(url)
    await _loaded(page)


async def _log_in(page: Page, hass: HomeAssistant) -> None:
    await page.goto(f"{hass.url}/")
    await page.get_by_role("textbox", name="Username").fill(USERNAME)
    await page.get_by_role("textbox", name="Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await _loaded(page)


async def _set_up_flatpeak(
    page: Page, simulator: Simulator, hass: HomeAssistant
) -> str:
    """Go through the config flow in its dialog; return the webhook URL it shows."""
    # The "add integration" deep link (what My Home Assistant links open) asks first.
    await _open(page, f"{hass.url}/config/integrations/dashboard/add?domain=flatpeak")
    await page.get_by_role("button", name="OK").click()

    await expect(page.get_by_text("Connect your Flatpeak account")).to_be_visible()
    await page.get_by_role("textbox", name="Account ID").fill(DEMO_ACCOUNT_ID)
    await page.get_by_role("textbox", name="API key").fill(DEMO_LIVE_KEY)
    await page.get_by_role("button", name="Advanced settings").click()
    await page.get_by_role("textbox", name="API URL", exact=True).fill(simulator.url)
    await page.get_by_role("button", name="Submit").click()

    # Both demo locations are offered, and chosen by default.
    await expect(page.get_by_text("Choose locations")).to_be_visible()
    for location in ("Home", "Workshop"):
        await expect(
            page.get_by_role("checkbox", name=location, exact=True)
        ).to_be_checked()
    await page.get_by_role("button", name="Submit").click()

    webhook = page.locator("code", has_text="/api/webhook/")
    await expect(webhook).to_be_visible()
    return (await webhook.inner_text()).strip()


def _readme_card() -> dict[str, Any]:
    """Return the Markdown price card exactly as the README gives it."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("<!-- price-card -->", 1)[1].split("```yaml\n", 1)[1]
    card: dict[str, Any] = yaml.safe_load(block.split("```", 1)[0])
    return card


async def _price_card(page: Page, hass: HomeAssistant, screenshots: Path) -> None:
    """Show the README's price card on a dashboard of its own, as a user would add it."""
    async with hass.websocket() as ws:
        await ws.command(
            "lovelace/dashboards/create",
            url_path="energy-prices",
            title="Energy prices",
            mode="storage",
        )
        await ws.command(
            "lovelace/config/save",
            url_path="energy-prices",
            config={"views": [{"title": "Prices", "cards": [_readme_card()]}]},
        )
        await ws.close()
    # Tall enough for the six hours of quarter-hour rows below the toolbar.
    await page.set_viewport_size({"width": 1280, "height": 1400})
    await _open(page, f"{hass.url}/energy-prices/0")
    card = page.locator("hui-markdown-card")
    await expect(card).to_contain_text("Electricity price")
    await expect(card).to_contain_text("★")
    await expect(card).to_contain_text(re.compile(r"\d\.\d{4}"))
    await card.screenshot(path=screenshots / "price_card.png")


async def test_set_up_see_prices_and_a_tariff_problem(
    bare_stack: tuple[Simulator, HomeAssistant],
    page: Page,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    """Set up through the UI, see the Home device's prices, then a tariff problem."""
    simulator, hass = bare_stack
    try:
        await _log_in(page, hass)

        shown_url = await _set_up_flatpeak(page, simulator, hass)
        assert f"{hass.url}/api/webhook/" in shown_url
        await page.screenshot(path=screenshots / "config_flow_webhook.png")
        await page.get_by_role(
            "button", name=re.compile("finish", re.IGNORECASE)
        ).click()
        await expect(page.get_by_text("Flatpeak is set up")).to_be_hidden()
        entry_id = await _entry_id(hass)
        assert await hass.webhook_url(entry_id) == shown_url

        # The Home device, as a user finds it: Settings > Devices > Home.
        await _open(page, f"{hass.url}/config/devices/dashboard")
        await page.get_by_role("rowheader", name="Home", exact=True).click()
        await page.wait_for_url("**/config/devices/device/**")
        price = page.locator("hui-sensor-entity-row", has_text="Current price")
        await expect(price).to_contain_text(PRICE)
        expired = page.locator(
            "hui-generic-entity-row",
            has_text="Tariff expired",
            has_not_text="Tariff event",
        )
        await expect(expired).to_contain_text("OK")
        await page.screenshot(path=screenshots / "device.png")

        # Flatpeak reports the tariff expired (its status keeps saying so, so the
        # integration's own check does not clear the problem again).
        await simulator.control(
            "status",
            {
                "location_id": DEMO_HOME_ID,
                "status": "ERROR",
                "connection_type": "LIBRARY",
                "contract_end_date": "2020-01-01T00:00:00+00:00",
            },
        )
        sent = await simulator.control(
            "send",
            {"type": "tariff.expired", "location_id": DEMO_HOME_ID, "url": shown_url},
        )
        assert sent["result"]["delivered"], sent
        await expect(expired).to_contain_text("Problem")
        # The integration describes its event in the device's activity (logbook).
        await expect(
            page.get_by_text("tariff expired at Home", exact=True)
        ).to_be_visible()
        await page.screenshot(path=screenshots / "problem_sensor.png")

        # Repairs lists it. Home Assistant's note that a Core installation is
        # unsupported is ignored, as the demo does, so the list shows ours only.
        assert await hass.ignore_core_install_notice()
        await _open(page, f"{hass.url}/config/repairs")
        await expect(
            page.get_by_role("button", name=re.compile(r"Tariff expired at Home"))
        ).to_be_visible()
        await page.screenshot(path=screenshots / "repairs.png")

        # The README's dashboard card over raw_today/raw_tomorrow.
        await _price_card(page, hass, screenshots)
    except Exception:
        failure = tmp_path / "failure.png"
        with contextlib.suppress(Exception):
            await page.screenshot(path=failure)
        print(f"page {page.url}; screenshot {failure}\n{hass.process.log_tail(40)}")  # noqa: T201
        raise


# The Energy dashboard's texts the README's "Energy dashboard" section names, in the
# order a user meets them; a frontend that renames one fails here.
ENERGY_GRID_TEXTS = {
    "add": "Add grid connection",
    "import_meter": "Energy imported from grid",
    "import_cost": "Cost tracking",
    "import_price": "Use an entity with current price",
    "export_meter": "Energy exported to grid",
    "export_cost": "Export compensation",
    "export_price": "Use an entity with current rate",
    "save": "Save",
    "edit": "Edit dashboard",
}
GRID_IMPORT = "sensor.grid_import"
GRID_EXPORT = "sensor.grid_export"


async def _meter(hass: HomeAssistant, entity_id: str, name: str, value: float) -> None:
    """Write a grid meter's reading, as a meter integration would."""
    await hass.request(
        "POST",
        f"/api/states/{entity_id}",
        {
            "state": str(value),
            "attributes": {
                "friendly_name": name,
                "device_class": "energy",
                "state_class": "total_increasing",
                "unit_of_measurement": "kWh",
            },
        },
        expect=None,
    )


async def _pick(
    page: Page, label: str, search: str, item: str, device: str | None = None
) -> None:
    """Choose an item in one of the frontend's pickers: search, then click the item.

    The search is fuzzy, so the item is found by its exact name (and its device's).
    """
    # 2026.11's picker labels its inner button too; the field comes first.
    await page.get_by_label(label, exact=True).first.click()
    await page.get_by_placeholder("Search", exact=True).fill(search)
    items = page.locator("ha-combo-box-item").filter(
        has=page.get_by_text(item, exact=True)
    )
    if device is not None:
        items = items.filter(has=page.get_by_text(device, exact=True))
    await items.first.click()
    # The list closes with an animation; wait until it is gone.
    await expect(page.get_by_placeholder("Search", exact=True)).to_have_count(0)


async def _number(hass: HomeAssistant, entity_id: str) -> float:
    state = await hass.state(entity_id)
    assert state is not None, entity_id
    return float(state["state"])


def _readme_energy_steps() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    return text.split("## Energy dashboard\n", 1)[1].split("\n## ", 1)[0]


async def _grid_dialog(
    page: Page, price: str, export_price: str, screenshots: Path
) -> None:
    """Fill in the grid connection dialog as the README's steps 3 to 5 say."""
    dialog = page.locator("ha-dialog")
    await expect(dialog).to_contain_text("Configure grid connection")
    await _pick(page, ENERGY_GRID_TEXTS["import_meter"], "Grid import", "Grid import")
    await expect(dialog).to_contain_text(ENERGY_GRID_TEXTS["import_cost"])
    await page.get_by_role(
        "radio", name=ENERGY_GRID_TEXTS["import_price"], exact=True
    ).check()
    await _pick(
        page, "Entity with the current price", price, "Current price", "Workshop"
    )
    await _pick(page, ENERGY_GRID_TEXTS["export_meter"], "Grid export", "Grid export")
    await expect(dialog).to_contain_text(ENERGY_GRID_TEXTS["export_cost"])
    await page.get_by_role(
        "radio", name=ENERGY_GRID_TEXTS["export_price"], exact=True
    ).check()
    await _pick(
        page,
        "Entity with the current rate",
        export_price,
        "Current export price",
        "Workshop",
    )
    # The README's picture: the import meter down to the price entity.
    await page.get_by_label(
        ENERGY_GRID_TEXTS["import_meter"], exact=True
    ).first.evaluate("element => element.scrollIntoView({block: 'start'})")
    # Back by the height of the meter's label, which sits above its field.
    await page.mouse.move(640, 450)
    await page.mouse.wheel(0, -40)
    await expect(
        page.get_by_label("Entity with the current price", exact=True).first
    ).to_be_visible()
    await page.screenshot(path=screenshots / "energy_grid.png")
    await page.get_by_role("button", name=ENERGY_GRID_TEXTS["save"]).click()
    await expect(dialog).to_have_count(0)


async def _cost_follows_the_price(hass: HomeAssistant, price: str) -> None:
    """What the README says Home Assistant does with the price entity.

    Each new reading's energy is priced at the price sensor's state when it arrives.
    """
    cost_id = f"{GRID_IMPORT}_cost"
    cost = await hass.wait_for_state(
        cost_id, lambda s: s["state"] != "unknown", timeout=60
    )
    before = float(cost["state"])
    price_before = await _number(hass, price)
    await _meter(hass, GRID_IMPORT, "Grid import", 1002.0)
    cost = await hass.wait_for_state(
        cost_id, lambda s: float(s["state"]) != before, timeout=60
    )
    # A slot may begin between reading the price and the meter's new reading.
    price_after = await _number(hass, price)
    assert float(cost["state"]) - before in (
        pytest.approx(2.0 * price_before),
        pytest.approx(2.0 * price_after),
    )


async def test_energy_dashboard_as_the_readme_says(
    bare_stack: tuple[Simulator, HomeAssistant],
    page: Page,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    """Walk the README's Energy dashboard steps; the costs then follow the prices."""
    simulator, hass = bare_stack
    steps = _readme_energy_steps()
    for text in ENERGY_GRID_TEXTS.values():
        assert f"**{text}**" in steps, text
    price = "sensor.workshop_current_price"
    export_price = "sensor.workshop_current_export_price"
    try:
        entries = await hass.request("GET", "/api/config/config_entries/entry")
        if not any(entry["domain"] == "flatpeak" for entry in entries):
            await hass.add_flatpeak_entry(simulator.url)
        for entity_id in (price, export_price):
            await hass.wait_for_state(
                entity_id,
                lambda s: s["state"] not in ("unknown", "unavailable"),
                timeout=60,
            )
        await _meter(hass, GRID_IMPORT, "Grid import", 1000.0)
        await _meter(hass, GRID_EXPORT, "Grid export", 500.0)

        # Tall enough for the dialog from the import meter down to the price entity.
        await page.set_viewport_size({"width": 1280, "height": 1000})
        await _log_in(page, hass)
        # Settings > Dashboards > Energy: not set up yet, it opens its set-up.
        await _open(page, f"{hass.url}/config/lovelace/dashboards")
        await page.locator("ha-data-table").get_by_text("Energy", exact=True).click()
        await page.wait_for_url("**/energy/setup")
        await expect(page.get_by_text("Electricity grid", exact=True)).to_be_visible()
        await page.get_by_role("button", name=ENERGY_GRID_TEXTS["add"]).click()
        await _grid_dialog(page, price, export_price, screenshots)

        async with hass.websocket() as ws:
            prefs = await ws.command("energy/get_prefs")
            await ws.close()
        grids = [s for s in prefs["energy_sources"] if s["type"] == "grid"]
        assert len(grids) == 1, prefs
        assert grids[0]["stat_energy_from"] == GRID_IMPORT
        assert grids[0]["entity_energy_price"] == price
        assert grids[0]["stat_energy_to"] == GRID_EXPORT
        assert grids[0]["entity_energy_price_export"] == export_price
        await _cost_follows_the_price(hass, price)

        # Once set up, Settings > Dashboards > Energy opens the dashboard, and its
        # edit button the energy configuration with the grid connection.
        await _open(page, f"{hass.url}/config/lovelace/dashboards")
        await page.locator("ha-data-table").get_by_text("Energy", exact=True).click()
        await page.wait_for_url(re.compile(r".*/energy/(?!setup).*"))
        await page.get_by_role("button", name=ENERGY_GRID_TEXTS["edit"]).click()
        await page.wait_for_url("**/config/energy/electricity**")
        await expect(page.get_by_text("Grid import", exact=True).first).to_be_visible()
    except Exception:
        failure = tmp_path / "failure.png"
        with contextlib.suppress(Exception):
            await page.screenshot(path=failure)
        print(f"page {page.url}; screenshot {failure}\n{hass.process.log_tail(40)}")  # noqa: T201
        raise
