"""The README says only what is true, where a machine can tell.

Checked here: every text it quotes is the integration's own (or, where it quotes Home
Assistant, the Home Assistant these tests run on); the Energy dashboard texts are the
frontend's; entity ids, attributes, options, set-up fields and action fields exist;
defaults and limits it states are the code's; files it names exist; its YAML examples
parse, and automations, actions and configuration blocks pass Home Assistant's own
validation. The browser test (tests/e2e/test_browser.py) walks the Energy dashboard
steps; the removal test (tests/e2e/test_end_to_end.py) checks the removed webhook's 200.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from functools import cache
from http import HTTPStatus
import json
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any

import hass_frontend
import homeassistant
from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.components.logger import CONFIG_SCHEMA as LOGGER_SCHEMA
from homeassistant.components.rest_command import CONFIG_SCHEMA as REST_COMMAND_SCHEMA
from homeassistant.const import EntityCategory
from homeassistant.helpers import script
from homeassistant.util import yaml as yaml_util
import pytest
import yaml

from custom_components.flatpeak import const
from custom_components.flatpeak.api import client, delivery, signature
from custom_components.flatpeak.binary_sensor import PROBLEM_SENSORS
from custom_components.flatpeak.locations import followed as locations
from custom_components.flatpeak.pricing import series as prices
from custom_components.flatpeak.sensor import SENSORS
from custom_components.flatpeak.services import (
    FIND_CHEAPEST_WINDOW_SCHEMA,
    GET_PRICES_SCHEMA,
)
from custom_components.flatpeak.tariff import problems
from custom_components.flatpeak.webhook import (
    catch_up,
    confirmation,
    event_log as applied_events,
    handler as webhook_handler,
)
from tests.helpers import WEBHOOK_PATH

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "flatpeak"
README = (ROOT / "README.md").read_text("utf-8")
STRINGS: dict[str, Any] = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))
SERVICES: dict[str, Any] = yaml.safe_load(
    (INTEGRATION / "services.yaml").read_text("utf-8")
)
HOME_ASSISTANT = Path(homeassistant.__file__).parent

# Quoted texts of other software, with the file of the Home Assistant under test that
# holds them (None: not installed here; the tool's contract test names it).
OTHER_SOFTWARE: dict[str, tuple[str, str] | None] = {
    "Received message for unregistered webhook": (
        "components/webhook/__init__.py",
        "Received message for unregistered webhook",
    ),
    "The HTTP YAML configuration is deprecated": (
        "components/http/strings.json",
        "The HTTP YAML configuration is deprecated",
    ),
    "Unsupported installation method": (
        "components/homeassistant/strings.json",
        "Unsupported installation method",
    ),
    "Detected that custom integration 'flatpeak' …": (
        "helpers/frame.py",
        # "custom " fills the first placeholder.
        "\"Detected that %sintegration '%s' %s. %s %s\"",
    ),
    "Use an entity with current price": (
        "frontend",
        "Use an entity with current price",
    ),
    # EV Smart Charging's refusal of 30-minute cells; tests/test_energy_tools.py.
    "Periodicity 30 minutes not supported": None,
}
# Words the README puts in quotes that are not texts of any program.
NOT_TEXTS = {"today", "message", "before", "What you need"}
# Quoted in the README from what the blueprint writes; tests/test_blueprint.py renders it.
BLUEPRINT_MESSAGE = (
    "Flatpeak: the tariff of Home expired, so its prices are estimates now."
)


def _prose() -> str:
    """The README without its code blocks and inline code."""
    text = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _quotes() -> list[str]:
    """Every text the README puts in double quotes, its line breaks undone."""
    return [
        " ".join(match.group(1).split())
        for match in re.finditer(r'"([^"]+)"', _prose())
    ]


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)


def _rendered(node: ast.AST) -> Iterator[str]:
    """A string literal of the code, its placeholders shown as the README shows them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        yield "".join(
            part.value
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
            else "…"
            for part in node.values
        )


def _leaves(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, str):
        yield node


def _code_texts() -> list[str]:
    """Every string the integration can log, answer or show, placeholders as '…'."""
    texts: list[str] = []
    for path in sorted(INTEGRATION.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            texts.extend(_rendered(node))
    texts.extend(_leaves(STRINGS))
    placeholder = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrfi]|\{[a-z_]+\}")
    return [" ".join(placeholder.sub("…", text).split()) for text in texts]


def _code_constants() -> set[str]:
    """The integration's string constants (attribute names, keys, codes)."""
    constants: set[str] = set()
    for path in INTEGRATION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
    return constants


def _pattern(quote: str) -> re.Pattern[str]:
    """A quote as a pattern: '…', `loc_…` and CODE stand for what the code fills in."""
    quote = re.sub(r"\b[a-z]+_…", "…", quote).replace("CODE", "…")
    parts = [re.escape(part) for part in quote.split("…")]
    return re.compile(".+?".join(parts))


@cache
def _frontend_texts() -> frozenset[str]:
    """Every English text of the frontend Home Assistant serves."""
    translations = Path(hass_frontend.where()) / "static" / "translations"
    texts: set[str] = set()
    for path in translations.rglob("en-*.json"):
        if path.name.startswith("en-GB"):
            continue
        texts.update(_leaves(json.loads(path.read_text("utf-8"))))
    return frozenset(texts)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# -- quoted texts ---------------------------------------------------------------------


def test_quoted_texts_are_the_integration_s() -> None:
    """A text the README quotes (a log line, an error, a Repairs title) is in the code."""
    texts = _code_texts()
    checked = 0
    for quote in _quotes():
        if quote in OTHER_SOFTWARE or quote in NOT_TEXTS:
            continue
        if quote.startswith(BLUEPRINT_MESSAGE):
            continue
        pattern = _pattern(quote)
        assert any(pattern.search(text) for text in texts), (
            f'the README quotes "{quote}", which the integration never says'
        )
        checked += 1
    assert checked >= 10


def test_quoted_texts_of_home_assistant_are_its_own() -> None:
    """What the README quotes from Home Assistant is in the release under test."""
    for quote, source in OTHER_SOFTWARE.items():
        assert quote in _quotes(), f'"{quote}" is no longer quoted; drop it here'
        if source is None:
            continue
        where, text = source
        if where == "frontend":
            assert text in _frontend_texts(), text
        else:
            assert text in (HOME_ASSISTANT / where).read_text("utf-8"), (where, text)


def test_blueprint_section_is_the_blueprint_s() -> None:
    """Its inputs, their defaults and the example message are the blueprint's."""
    path = ROOT / "blueprints/automation/flatpeak/tariff_problem_notify.yaml"
    loaded = yaml_util.load_yaml_dict(path)["blueprint"]
    assert f"[{loaded['name']}](blueprints/automation/flatpeak/" in README
    inputs = loaded["input"]
    section = " ".join(_section("Events and automations").split())
    for name in ("device", "problems", "notify_action"):
        assert f"- **{inputs[name]['name']}**:" in section, name
    assert inputs["problems"]["default"] == [
        "tariff.expired",
        "tariff.fetch.failed",
        "tariff.connection.upgrade",
    ]
    assert "better connection available (these three by default)" in section
    blueprint = path.read_text("utf-8")
    assert f'"{BLUEPRINT_MESSAGE}' in " ".join(_prose().split())
    assert "expired, so its prices are estimates now." in blueprint
    assert "Set the current tariff for this location in Flatpeak (the Flatpeak" in (
        blueprint
    )
    assert "to re-check" in blueprint


def test_curl_answer_is_the_parser_s() -> None:
    """Troubleshooting's `curl -d '{}'` answer is what the delivery parser refuses with."""
    with pytest.raises(delivery.WebhookPayloadError) as err:
        delivery.parse_event(b"{}")
    answer = json.dumps({"message": str(err.value)})
    assert f"`400` with `{answer}`" in README


def test_energy_dashboard_texts_are_the_frontend_s() -> None:
    """Every button, heading and option the Energy dashboard steps name, word for word."""
    frontend = _frontend_texts()
    entity_names = {entity["name"] for entity in STRINGS["entity"]["sensor"].values()}
    bold = [
        " ".join(text.split())
        for text in re.findall(r"\*\*([^*]+)\*\*", _section("Energy dashboard"))
    ]
    named = [
        text
        for text in bold
        if text not in {"meter's reading changes", "at that moment"}
    ]
    assert len(named) >= 10
    for text in named:
        assert text in frontend or text in entity_names, text


def test_entities_section_unit_option_is_the_frontend_s() -> None:
    """The Entities section names the frontend's option for a price entity."""
    assert "Use an entity with current price" in _frontend_texts()
    assert '"Use an entity with current price"' in _section("Entities")


# -- names ----------------------------------------------------------------------------


def test_entity_ids_are_the_integration_s() -> None:
    """`platform.<location>_x` and the `home` examples are named by strings.json."""
    suffixes = {
        platform: {_slug(entity["name"]) for entity in entities.values()}
        for platform, entities in STRINGS["entity"].items()
    }
    named = re.findall(r"`(sensor|binary_sensor|event)\.<location>_([a-z_]+)`", README)
    named += re.findall(r"\b(sensor)\.home_([a-z_]+)\b", README)
    assert len(named) >= 20
    for platform, suffix in named:
        assert suffix in suffixes[platform], f"{platform}.<location>_{suffix}"


def _translation_key(platform: str, suffix: str) -> str:
    """The translation key whose name gives an entity id its suffix."""
    (key,) = (
        key
        for key, entity in STRINGS["entity"][platform].items()
        if _slug(entity["name"]) == suffix
    )
    return key


def test_entity_table_is_the_sensor_descriptions() -> None:
    """The Entities table lists every sensor, and its diagnostic ones are diagnostic."""
    rows = re.findall(
        r"^\| `sensor\.<location>_([a-z_]+)`( \(diagnostic\))? \|",
        _section("Entities"),
        flags=re.MULTILINE,
    )
    by_key = {description.key: description for description in SENSORS}
    assert {_translation_key("sensor", suffix) for suffix, _ in rows} == set(by_key)
    for suffix, diagnostic in rows:
        description = by_key[_translation_key("sensor", suffix)]
        assert (description.entity_category is EntityCategory.DIAGNOSTIC) is bool(
            diagnostic
        ), suffix


def test_problem_table_is_the_binary_sensor_descriptions() -> None:
    """Each problem sensor in the table, with its device class, is one the code makes."""
    rows = re.findall(
        r"^\| `binary_sensor\.<location>_([a-z_]+)` \(([a-z]+)\) \|",
        _section("Tariff problems and Repairs"),
        flags=re.MULTILINE,
    )
    classes = {
        description.key: description.device_class for description in PROBLEM_SENSORS
    }
    assert len(rows) == len(classes) == 4
    for suffix, device_class in rows:
        assert classes[_translation_key("binary_sensor", suffix)] == device_class
    assert "Each location has four binary sensors" in README


def test_attributes_are_the_integration_s() -> None:
    """Every attribute in the Entities table is one the code writes."""
    constants = _code_constants()
    table = [
        line for line in _section("Entities").splitlines() if line.startswith("| `")
    ]
    attributes = {
        name
        for line in table
        for name in re.findall(r"`([a-z_]+)`", line.split("|")[3])
    }
    assert {"valid_from", "raw_today", "tomorrow_valid", "provider"} <= attributes
    for attribute in attributes:
        assert attribute in constants, attribute
    target = STRINGS["entity"]["binary_sensor"]["target_window"]["state_attributes"]
    for attribute in ("next_start", "next_end", "average_price", "slots"):
        assert attribute in target
        assert f"`{attribute}`" in _section("Cheapest hours")
    for key in ("start", "end", "value", "confidence"):
        assert key in constants
    assert "`{start, end, value, confidence}`" in README


def test_events_section_names_the_integration_s_fields_and_types() -> None:
    """flatpeak_event's fields, the event entity's types and the device triggers."""
    section = _section("Events and automations")
    constants = _code_constants()
    fields = section.split("with `event_id`", 1)[1].split("Types Flatpeak adds", 1)[0]
    for field in ["event_id", *re.findall(r"`([a-z_]+)`", fields)]:
        if field != "tariff.expired":
            assert field in constants, field
    event_types = section.split("(event types", 1)[1].split(")", 1)[0]
    states = STRINGS["entity"]["event"]["tariff_event"]["state_attributes"]
    assert set(re.findall(r"`([a-z_]+)`", event_types)) == set(
        states["event_type"]["state"]
    )
    assert "event.<location>_tariff_event" in section
    triggers = STRINGS["device_automation"]["trigger_type"]
    assert '"Tariff expired"' in section
    assert triggers["tariff_expired"] == "Tariff expired"


def test_set_up_fields_and_options_exist() -> None:
    """The set-up table's fields, the options and the target-window form's fields."""
    user = STRINGS["config"]["step"]["user"]
    fields = set(user["data"]) | set(user["sections"]["advanced"]["data"])
    set_up = re.findall(r"^\| `([a-z_]+)`", _section("Set-up"), flags=re.MULTILINE)
    assert set(set_up) == fields
    assert "(under *Advanced*)" in _section("Set-up")
    assert user["sections"]["advanced"]["name"].startswith("Advanced")
    options = STRINGS["options"]["step"]["settings"]["data"]
    for option in ("locations", "require_signed_webhooks", "price_resolution"):
        assert f"`{option}`" in _section("Set-up")
        assert option in options
    assert "**Require signed webhooks**" in README
    assert options["require_signed_webhooks"] == "Require signed webhooks"
    window = STRINGS["config_subentries"]["target_window"]["step"]["user"]["data"]
    table = _section("Cheapest hours").split("| field | meaning |", 1)[1]
    named = re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)?", table, flags=re.MULTILINE)
    assert {name for pair in named for name in pair if name} == set(window)
    for code in ("window_not_covered", "duration_too_long"):
        assert f"`{code}`" in README
        assert code in STRINGS["exceptions"]
    for code in ("pending_connect", "no_tariff_connected", "no_price_data"):
        assert f"`{code}`" in _section("Troubleshooting")
        assert code in _code_constants()


def test_action_examples_name_the_action_s_fields() -> None:
    """Every action call the README shows uses fields services.yaml describes."""
    calls = 0
    for block in _yaml_blocks():
        for call in _actions(yaml.safe_load(block)):
            service = call["action"].removeprefix("flatpeak.")
            assert service in SERVICES, call["action"]
            assert set(call.get("data", {})) <= set(SERVICES[service]["fields"])
            calls += 1
    assert calls >= 3


def _actions(node: Any) -> Iterator[dict[str, Any]]:
    """Calls of the integration's actions anywhere in a parsed YAML block."""
    if isinstance(node, dict):
        if str(node.get("action", "")).startswith("flatpeak."):
            yield node
        for value in node.values():
            yield from _actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _actions(value)


# -- defaults and limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "value", "expected"),
    [
        (
            "Leave the default `https://api.flatpeak.com`",
            client.DEFAULT_API_URL,
            "https://api.flatpeak.com",
        ),
        ("(15, 30 or 60 minutes, default 15", prices.RESOLUTIONS, (15, 30, 60)),
        ("(15, 30 or 60 minutes, default 15", prices.DEFAULT_RESOLUTION, 15),
        (
            "Read-backs are limited to a burst of 10 per location",
            confirmation.READ_BACKS_PER_LOCATION,
            10,
        ),
        (
            "(then one every\n  30 seconds;",
            confirmation.READ_BACK_REFILL_PER_LOCATION,
            30,
        ),
        ("and a burst of 30 in all", confirmation.READ_BACKS_TOTAL, 30),
        ("(then one every 2 seconds)", confirmation.READ_BACK_REFILL_TOTAL, 2),
        ("`Retry-After: 60`", webhook_handler.RETRY_AFTER_SECONDS, 60),
        (
            "A delivery refused with 400, 401, 500 or 503",
            webhook_handler.CATCH_UP_ON_STATUS,
            {400, 401, 500, 503},
        ),
        (
            "one starts every 30 s, however many deliveries ask",
            catch_up.CATCH_UP_MIN_INTERVAL,
            30,
        ),
        ("Besides, the list is read every hour", catch_up.CATCH_UP_PERIOD, 3600),
        ("bodies are at most 1 MiB", webhook_handler.MAX_BODY_BYTES, 1024 * 1024),
        ("JSON\n  nests at most 16 levels", delivery.MAX_JSON_DEPTH, 16),
        (
            "timestamp is\n  within 5 minutes of Home Assistant's clock",
            signature.DEFAULT_TOLERANCE,
            300,
        ),
        ("**Catch-up reads at most 1000 events.**", const.CATCH_UP_MAX_EVENTS, 1000),
        (
            "any from the last 48 hours",
            const.FLATPEAK_RETRY_WINDOW,
            timedelta(hours=48),
        ),
        ("(5,000 ids,", applied_events.MAX_REMEMBERED_IDS, 5000),
        ("(each fetch bounded at 5 s;", webhook_handler.JWKS_TIMEOUT, 5.0),
        ("(at most 5 s)", confirmation.READ_BACK_TIMEOUT, 5.0),
        ("has failed in the last 10 s", signature.JWKS_FAILURE_BACKOFF, 10.0),
        ("(at most one fetch a minute)", signature.UNKNOWN_KID_REFETCH_INTERVAL, 60.0),
        ("after the keys are a day old", signature.JWKS_MAX_AGE, 24 * 3600.0),
        (
            "at most one more per 5 minutes per\n  location",
            const.EVENT_REFRESH_COOLDOWN,
            timedelta(minutes=5),
        ),
        (
            "Home Assistant asks again every 15 minutes",
            const.PRICES_UNAVAILABLE_RETRY,
            timedelta(minutes=15),
        ),
        (
            "Home Assistant checks again every\n6 hours",
            const.ACCOUNT_DISABLED_RETRY_INTERVAL,
            timedelta(hours=6),
        ),
        (
            "(`next_update`, hourly when it does\nnot say)",
            const.FALLBACK_UPDATE_INTERVAL,
            timedelta(hours=1),
        ),
        (
            "tried at most\n  once per 10 minutes",
            locations.ADD_RETRY_INTERVAL,
            timedelta(minutes=10),
        ),
        ("4 at a time", locations.MAX_CONCURRENT_ADDS, 4),
        (
            "a contract ending more than 14 days ahead",
            problems.EXPIRING_HORIZON,
            timedelta(days=14),
        ),
        (
            "types are dotted lower-case words of at most 64 characters",
            delivery.MAX_EVENT_TYPE_LENGTH,
            64,
        ),
        (
            "(`evt_` and at most 64 letters,",
            delivery.EVENT_ID_PATTERN.pattern,
            r"evt_[A-Za-z0-9_-]{1,64}",
        ),
    ],
)
def test_stated_defaults_are_the_code_s(
    phrase: str, value: object, expected: object
) -> None:
    """A default or limit the README states is the value the code uses."""
    assert phrase in README, phrase
    assert value == expected


# -- YAML examples --------------------------------------------------------------------


def test_yaml_examples_parse() -> None:
    """Every YAML block in the README is YAML."""
    blocks = _yaml_blocks()
    assert len(blocks) >= 12
    for block in blocks:
        assert yaml.safe_load(block) is not None, block


async def test_automation_examples_validate(hass: HomeAssistant) -> None:
    """Every automation the README shows passes Home Assistant's automation checks."""
    automations = [
        automation
        for block in _yaml_blocks()
        if isinstance(parsed := yaml.safe_load(block), dict) and "automation" in parsed
        for automation in parsed["automation"]
    ]
    assert len(automations) >= 4
    for automation in automations:
        assert await async_validate_config_item(hass, "automation", automation), (
            automation["alias"]
        )


async def test_action_examples_validate(hass: HomeAssistant) -> None:
    """The README's action calls are valid actions, with data the actions accept."""
    schemas = {
        "flatpeak.get_prices": GET_PRICES_SCHEMA,
        "flatpeak.find_cheapest_window": FIND_CHEAPEST_WINDOW_SCHEMA,
    }
    validated = set()
    for block in _yaml_blocks():
        parsed = yaml.safe_load(block)
        if not (isinstance(parsed, dict) and parsed.get("action") in schemas):
            continue
        await script.async_validate_actions_config(hass, [parsed])
        schemas[parsed["action"]](parsed["data"])
        validated.add(parsed["action"])
    assert validated == set(schemas)


async def test_configuration_examples_validate(hass: HomeAssistant) -> None:
    """The logger and rest_command blocks pass their integrations' schemas."""
    seen = set()
    for block in _yaml_blocks():
        parsed = yaml.safe_load(block)
        if isinstance(parsed, dict) and "logger" in parsed:
            LOGGER_SCHEMA(parsed)
            seen.add("logger")
        if isinstance(parsed, dict) and "rest_command" in parsed:
            REST_COMMAND_SCHEMA(parsed)
            seen.add("rest_command")
    assert seen == {"logger", "rest_command"}
    assert "custom_components.flatpeak" in README


# -- files and commands ---------------------------------------------------------------


def test_files_the_readme_names_exist() -> None:
    """Links, pictures, scripts and paths the README names are in the repository."""
    linked = re.findall(r"\]\((?!https?://|#)([^)\s]+)\)", README)
    named = re.findall(
        r"`((?:scripts|benchmarks|tests|custom_components|blueprints|docs|\.github)"
        r"/[\w./-]*|requirements_\w+\.txt)`",
        README,
    )
    commands = re.findall(r"`scripts/run python (\S+\.py)", README)
    paths = {path.rstrip("/") for path in [*linked, *named, *commands]}
    assert len(paths) >= 20
    for path in paths:
        assert (ROOT / path).exists(), path
    assert "scripts/run python -m tests.simulator" in README
    assert (ROOT / "tests" / "simulator" / "__main__.py").exists()


# UI paths the README gives through Home Assistant's own frontend (the Marketplace's
# exist from 2026.11 only, whose frontend these unit tests do not have).
UI_PATHS = [
    "Settings > System > Network",
    "Settings > Devices & services > Add integration",
    "Settings > System > Logs",
    "Settings > System > General",
    "Settings > Repairs",
    "Settings > System > ⋮ > Restart Home Assistant",
    "Settings > Automations & scenes > Blueprints > Import blueprint",
    "Edit dashboard > Add card > Manual",
    "Repairs > ⋮ > Show ignored repairs",
    "Settings > Dashboards > **Energy**",
    "Settings > Devices & services > **Flatpeak** > ⋮ > **Delete**",
    "the integration's ⋮ > **Enable debug logging**",
    "**Download diagnostics** (the integration's ⋮ menu)",
    "a card for Flatpeak with a **Reconfigure** button",
    "lists the entry under **Needs attention**",
    "**Submit** in the issue",
    "then **Create automation** from it",
]


@pytest.mark.parametrize("path", UI_PATHS)
def test_ui_paths_are_the_frontend_s(path: str) -> None:
    """Each step of a UI path the README gives is a text of the frontend under test."""
    assert path in " ".join(README.split()), path
    frontend = _frontend_texts()
    steps = [step.strip() for step in path.split(" > ")]
    named = [
        bold
        for step in steps
        for bold in (re.findall(r"\*\*([^*]+)\*\*", step) or [step])
    ]
    if len(steps) == 1:
        named = re.findall(r"\*\*([^*]+)\*\*", path)
    for text in named:
        if text in {"⋮", "Flatpeak", "the integration's ⋮"}:
            continue
        assert text in frontend, text


# -- answers the README tells a user to expect ------------------------------------------


async def test_troubleshooting_and_removal_answers(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """`curl -d '{}'` gets the README's 400, a GET 405; after removal, 200 to anything."""
    client = await hass_client_no_auth()
    response = await client.post(WEBHOOK_PATH, data=b"{}")
    assert response.status == HTTPStatus.BAD_REQUEST
    answer = await response.json()
    assert f"`400` with `{json.dumps(answer)}`" in README
    response = await client.get(WEBHOOK_PATH)
    assert response.status == HTTPStatus.METHOD_NOT_ALLOWED
    assert "Home Assistant answers a GET with 405" in README

    assert await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    for method in ("GET", "HEAD", "POST", "PUT"):
        response = await client.request(method, WEBHOOK_PATH, data=b"{}")
        assert response.status == HTTPStatus.OK, method
    assert "Home Assistant answers **200** to every GET,\n> HEAD, POST or PUT" in README
