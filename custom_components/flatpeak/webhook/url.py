"""The address Flatpeak delivers webhooks to: a cloudhook or Home Assistant's own URL."""

from __future__ import annotations

from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlparse

from homeassistant.components import webhook
from homeassistant.helpers.network import NoURLAvailableError

from ..const import CONF_CLOUDHOOK_URL, CONF_WEBHOOK_ID, LOGGER

# Names that only resolve inside a home network.
_LOCAL_SUFFIXES: Final = (".local", ".lan", ".home", ".internal", ".home.arpa")

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant


async def async_get_or_create_webhook_url(
    hass: HomeAssistant, webhook_id: str, cloudhook_url: str | None
) -> tuple[str, str | None]:
    """Return the URL to give Flatpeak and the cloudhook URL to store (None: none).

    A cloudhook reaches Home Assistant from the internet without port forwarding, so it
    is preferred whenever Home Assistant Cloud has an active subscription.
    """
    if cloudhook_url is None and "cloud" in hass.config.components:
        # Imported only once loaded: it pulls in other integrations and their packages.
        from homeassistant.components import cloud  # noqa: PLC0415

        if cloud.async_active_subscription(hass):
            try:
                cloudhook_url = await cloud.async_create_cloudhook(hass, webhook_id)
            except cloud.CloudNotAvailable as err:
                # CloudNotConnected is a CloudNotAvailable: subscribed, offline right now.
                LOGGER.warning(
                    "Home Assistant Cloud cannot create a cloudhook now (%s); "
                    "using Home Assistant's own webhook URL",
                    err,
                )
    if cloudhook_url is not None:
        return cloudhook_url, cloudhook_url
    return _plain_webhook_url(hass, webhook_id), None


def webhook_url(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """Return the webhook URL of a config entry's data: its cloudhook if it has one."""
    if cloudhook_url := data.get(CONF_CLOUDHOOK_URL):
        return str(cloudhook_url)
    return _plain_webhook_url(hass, data[CONF_WEBHOOK_ID])


def _plain_webhook_url(hass: HomeAssistant, webhook_id: str) -> str:
    """Return Home Assistant's URL for a webhook, or only its path if HA has no URL."""
    try:
        return webhook.async_generate_url(hass, webhook_id)
    except NoURLAvailableError:
        # Still useful: the user can put their own address in front of the path.
        return webhook.async_generate_path(webhook_id)


async def async_delete_cloudhook(hass: HomeAssistant, webhook_id: str) -> None:
    """Delete the cloudhook of a removed entry, if Home Assistant Cloud still has it."""
    from homeassistant.components import cloud  # noqa: PLC0415

    try:
        await cloud.async_delete_cloudhook(hass, webhook_id)
    except cloud.CloudNotAvailable as err:
        LOGGER.debug("Cloudhook of a removed Flatpeak entry not deleted: %s", err)


def webhook_url_warning(url: str) -> str | None:
    """Say why Flatpeak could not deliver to a URL, or None if it looks reachable.

    Flatpeak posts from the internet, so it needs an absolute https URL on a public
    host: a cloudhook, or Home Assistant behind a reverse proxy with a certificate.
    """
    parsed = urlparse(url)
    if not parsed.scheme or not parsed.hostname:
        return "webhook_no_url"
    host = parsed.hostname
    try:
        address = ip_address(host)
    except ValueError:
        private = (
            host == "localhost" or "." not in host or host.endswith(_LOCAL_SUFFIXES)
        )
    else:
        private = not address.is_global
    if private:
        return "webhook_private_address"
    if parsed.scheme != "https":
        return "webhook_not_https"
    return None
