"""Tests for judging whether Flatpeak can reach a webhook URL."""

from __future__ import annotations

import pytest

from custom_components.flatpeak.webhook.url import webhook_url_warning


@pytest.mark.parametrize(
    ("url", "warning"),
    [
        ("https://hooks.nabu.casa/abc", None),
        ("https://ha.example.com/api/webhook/abc", None),
        ("https://203.0.113.9/api/webhook/abc", "webhook_private_address"),
        ("https://8.8.8.8/api/webhook/abc", None),
        ("http://ha.example.com/api/webhook/abc", "webhook_not_https"),
        ("http://192.168.1.10:8123/api/webhook/abc", "webhook_private_address"),
        ("http://10.0.0.2:8123/api/webhook/abc", "webhook_private_address"),
        ("https://[fd00::1]/api/webhook/abc", "webhook_private_address"),
        ("http://homeassistant.local:8123/api/webhook/abc", "webhook_private_address"),
        ("http://homeassistant:8123/api/webhook/abc", "webhook_private_address"),
        ("http://localhost:8123/api/webhook/abc", "webhook_private_address"),
        ("/api/webhook/abc", "webhook_no_url"),
    ],
)
def test_webhook_url_warning(url: str, warning: str | None) -> None:
    """Plain http, private addresses and relative paths are flagged."""
    assert webhook_url_warning(url) == warning
