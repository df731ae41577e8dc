"""hacs.json's promise: the oldest Home Assistant release the tests run on."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.const import __version__ as ha_version

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_minimum_is_the_release_tested() -> None:
    """The minimum is the release pytest-homeassistant-custom-component brings here.

    HACS (2026.10) and the Marketplace (2026.11+) refuse to install on anything older;
    the end-to-end tests also run on the newest release (requirements_newest.txt).
    """
    minimum = json.loads((REPO_ROOT / "hacs.json").read_text())["homeassistant"]

    assert minimum == ha_version
    assert (
        f"**Home Assistant {minimum} or newer.**"
        in (REPO_ROOT / "README.md").read_text()
    )
