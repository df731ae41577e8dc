"""Tests for the automation blueprint "Notify on Flatpeak tariff problems".

Home Assistant's own blueprint machinery loads it; the automation it generates is
validated the way the automation editor validates one; its variables and condition are
evaluated for each problem. That it fires end to end is tested elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
import shutil
from typing import TYPE_CHECKING, Any

from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    async_validate_config_item,
)
from homeassistant.components.blueprint import Blueprint
from homeassistant.components.blueprint.errors import MissingInput
from homeassistant.const import CONF_ACTIONS, CONF_CONDITIONS, CONF_TRIGGERS
from homeassistant.helpers import condition, device_registry as dr, template
from homeassistant.util import yaml as yaml_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.flatpeak.const import DOMAIN
from custom_components.flatpeak.tariff.problems import PROBLEM_BY_EVENT_TYPE
from custom_components.flatpeak.webhook.applier import EVENT_FLATPEAK
from tests.helpers import HOME_ID

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

BLUEPRINT_PATH = "flatpeak/tariff_problem_notify.yaml"
BLUEPRINT_FILE = (
    Path(__file__).resolve().parent.parent
    / "blueprints"
    / "automation"
    / BLUEPRINT_PATH
)
SOURCE_URL = (
    "https://github.com/flatpeak-ha/flatpeak-homeassistant/blob/main/blueprints/"
    "automation/flatpeak/tariff_problem_notify.yaml"
)
# The problems that open a Repairs issue; the message points there for them.
REPAIRED = {"tariff.expired", "tariff.fetch.failed", "tariff.connection.upgrade"}
PHONE_ACTION = [
    {
        "action": "notify.mobile_app_phone",
        "data": {"title": "{{ title }}", "message": "{{ message }}"},
    }
]


def _load() -> Blueprint:
    return Blueprint(
        yaml_util.load_yaml_dict(BLUEPRINT_FILE),
        path=BLUEPRINT_PATH,
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )


@pytest.fixture
def blueprint_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A config directory with the blueprint where an import puts it."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / BLUEPRINT_PATH
    target.parent.mkdir(parents=True)
    shutil.copy(BLUEPRINT_FILE, target)
    return tmp_path


@pytest.fixture
def device(hass: HomeAssistant) -> dr.DeviceEntry:
    """The device of the location Home, as the integration registers it."""
    entry = MockConfigEntry(domain=DOMAIN)
    entry.add_to_hass(hass)
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, HOME_ID)},
        manufacturer="Flatpeak",
        name="Home",
    )


async def _automation(hass: HomeAssistant, inputs: dict[str, Any]) -> dict[str, Any]:
    """Validate an automation that uses the blueprint, raising on any error."""
    config = await async_validate_config_item(
        hass,
        "flatpeak_problems",
        {
            "id": "flatpeak_problems",
            "alias": "Flatpeak problems",
            "use_blueprint": {"path": BLUEPRINT_PATH, "input": inputs},
        },
    )
    assert config is not None
    return dict(config)


def test_blueprint_is_valid() -> None:
    """The blueprint passes Home Assistant's schema for automation blueprints."""
    blueprint = _load()

    assert blueprint.domain == "automation"
    assert blueprint.name == "Notify on Flatpeak tariff problems"
    assert blueprint.validate() is None  # this Home Assistant is new enough
    assert blueprint.metadata["source_url"] == SOURCE_URL
    assert set(blueprint.inputs) == {"device", "problems", "notify_action"}
    assert blueprint.inputs["device"]["selector"]["device"]["filter"] == [
        {"integration": DOMAIN}
    ]
    assert blueprint.inputs["notify_action"]["selector"] == {"action": {}}


def test_blueprint_offers_every_problem() -> None:
    """The choice of problems is the integration's problem events, three by default."""
    problems = _load().inputs["problems"]

    options = [option["value"] for option in problems["selector"]["select"]["options"]]
    assert options == list(PROBLEM_BY_EVENT_TYPE)
    assert problems["selector"]["select"]["multiple"] is True
    assert problems["default"] == [
        "tariff.expired",
        "tariff.fetch.failed",
        "tariff.connection.upgrade",
    ]


@pytest.mark.usefixtures("blueprint_dir")
async def test_automation_with_defaults(hass: HomeAssistant) -> None:
    """Choosing only the device gives a valid automation with a persistent notification."""
    config = await _automation(hass, {"device": "0123abcd"})

    (trigger,) = config[CONF_TRIGGERS]
    assert trigger["platform"] == "event"
    assert [template.template for template in trigger["event_type"]] == [EVENT_FLATPEAK]
    assert trigger["event_data"] == {"device_id": "0123abcd"}
    assert [action["action"] for action in config[CONF_ACTIONS]] == [
        "persistent_notification.create"
    ]
    assert config["mode"] == "queued"


@pytest.mark.usefixtures("blueprint_dir")
async def test_automation_with_chosen_action(hass: HomeAssistant) -> None:
    """Any action can be chosen as the notification, and any set of problems."""
    config = await _automation(
        hass,
        {
            "device": "0123abcd",
            "problems": ["tariff.expiring"],
            "notify_action": PHONE_ACTION,
        },
    )

    assert [action["action"] for action in config[CONF_ACTIONS]] == [
        "notify.mobile_app_phone"
    ]


@pytest.mark.usefixtures("blueprint_dir")
async def test_missing_device_is_refused(hass: HomeAssistant) -> None:
    """The device has no default: an automation without one is invalid."""
    with pytest.raises(MissingInput, match="device"):
        await _automation(hass, {})


@pytest.mark.usefixtures("blueprint_dir")
@pytest.mark.parametrize(
    ("problem", "notified", "expected"),
    [
        (
            "tariff.expired",
            True,
            (
                "Flatpeak: the tariff of Home expired, so its prices are estimates "
                "now. Set the current tariff for this location in Flatpeak"
            ),
        ),
        (
            "tariff.fetch.failed",
            True,
            "Flatpeak: Flatpeak cannot fetch the tariff of Home from the energy provider",
        ),
        (
            "tariff.connection.upgrade",
            True,
            (
                "Flatpeak: a direct connection to the energy provider is available "
                "for the tariff of Home."
            ),
        ),
        ("tariff.expiring", False, "Flatpeak: the tariff contract of Home ends soon."),
        ("location.update", False, "Flatpeak: location.update at Home."),
    ],
)
async def test_message_and_condition(
    hass: HomeAssistant,
    device: dr.DeviceEntry,
    problem: str,
    notified: bool,
    expected: str,
) -> None:
    """The message names the device and says what to do; only chosen problems pass."""
    config = await _automation(hass, {"device": device.id})
    trigger = {
        "platform": "event",
        "event": {
            "event_type": EVENT_FLATPEAK,
            "data": {
                "type": problem,
                "location_id": HOME_ID,
                "device_id": device.id,
            },
        },
    }

    variables = config["variables"].async_render(hass, {"trigger": trigger})
    checker = await condition.async_conditions_from_config(
        hass, config[CONF_CONDITIONS], logging.getLogger(__name__), "test"
    )
    try:
        assert checker(variables) is notified
    finally:
        checker.async_unload()

    assert variables["message"].startswith(expected)
    assert "\n" not in variables["message"]
    assert variables["title"] == "Flatpeak: Home"
    assert variables["device_name"] == "Home"
    assert variables["location_id"] == HOME_ID
    repairs = "Settings > Repairs" in variables["message"]
    assert repairs is (problem in REPAIRED)
    # The default action: one persistent notification per location and problem.
    (action,) = config[CONF_ACTIONS]
    assert template.render_complex(action["data"], variables) == {
        "title": "Flatpeak: Home",
        "message": variables["message"],
        "notification_id": f"flatpeak_{HOME_ID}_{problem.replace('.', '_')}",
    }


@pytest.mark.usefixtures("blueprint_dir")
async def test_device_renamed_by_user(
    hass: HomeAssistant, device: dr.DeviceEntry
) -> None:
    """The name the user gave the device is the one in the message."""
    dr.async_get(hass).async_update_device(device.id, name_by_user="Cottage")
    config = await _automation(hass, {"device": device.id})
    trigger = {"event": {"data": {"type": "tariff.expired", "location_id": HOME_ID}}}

    variables = config["variables"].async_render(hass, {"trigger": trigger})

    assert variables["message"].startswith("Flatpeak: the tariff of Cottage expired")
