"""Shared fixtures: the integration is loaded from this repository."""

from __future__ import annotations

import pytest

# Importing the package first makes Home Assistant's loader use this repository's copy.
from custom_components.flatpeak.const import DOMAIN  # noqa: F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load custom integrations in tests that start it."""
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")
