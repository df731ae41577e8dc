"""Config flow for Flatpeak: credentials, locations, reauth, reconfigure and options."""

from __future__ import annotations

from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, override
from urllib.parse import urlparse

from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .api.client import DEFAULT_API_URL, FlatpeakClient, is_test_key
from .connection import create_client
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CLOUDHOOK_URL,
    CONF_FOLLOW_ALL_LOCATIONS,
    CONF_LOCATIONS,
    CONF_PRICE_RESOLUTION,
    CONF_REQUIRE_SIGNED_WEBHOOKS,
    CONF_WEBHOOK_ID,
    DEFAULT_FOLLOW_ALL_LOCATIONS,
    DOMAIN,
    FLATPEAK_DASHBOARD_URL,
    SECTION_ADVANCED,
)
from .errors import FORM_PLACEHOLDERS, form_errors
from .pricing.series import DEFAULT_RESOLUTION, RESOLUTIONS
from .pricing.target_window_flow import SUBENTRY_TARGET_WINDOW, TargetWindowFlow
from .webhook.url import (
    async_get_or_create_webhook_url,
    webhook_url,
    webhook_url_warning,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .api.models import Location

_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_API_KEY_SELECTOR = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
)

USER_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_ACCOUNT_ID): TextSelector(),
        probatio.Required(CONF_API_KEY): _API_KEY_SELECTOR,
        # A section rather than "advanced mode": that switch is deprecated since 2026.
        probatio.Optional(SECTION_ADVANCED): section(
            probatio.Schema(
                {
                    probatio.Optional(
                        CONF_API_URL, default=DEFAULT_API_URL
                    ): _URL_SELECTOR
                }
            ),
            {"collapsed": True},
        ),
    }
)
REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_API_KEY): _API_KEY_SELECTOR})
RECONFIGURE_SCHEMA = probatio.Schema({probatio.Required(CONF_API_URL): _URL_SELECTOR})
# Select options are strings; the option is stored as the number of minutes.
_RESOLUTION_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[str(minutes) for minutes in RESOLUTIONS],
        translation_key=CONF_PRICE_RESOLUTION,
    )
)


def _insecure_api_url(url: str) -> bool:
    """Whether an API URL would send the API key unencrypted over a network.

    Plain http is accepted only for this machine's loopback (a local test server).
    """
    parsed = urlparse(url.strip())
    if parsed.scheme == "https" and parsed.hostname:
        return False
    if parsed.scheme != "http" or not parsed.hostname:
        return True
    if parsed.hostname == "localhost":
        return False
    try:
        return not ip_address(parsed.hostname).is_loopback
    except ValueError:
        return True


def _unique_id(client: FlatpeakClient) -> str:
    """Identify an account in one mode: live and test data are separate worlds."""
    return f"{client.account_id}_{'live' if client.live_mode else 'test'}"


def _mode(api_key: str) -> str:
    """Name a key's mode the way Flatpeak Dashboard's webhook selector does."""
    return "Test data" if is_test_key(api_key) else "Live data"


def _locations_field(
    locations: Sequence[Location], default: list[str]
) -> dict[probatio.Marker, Any]:
    """Return the multi-select of locations, labelled the way people know them."""
    return {
        probatio.Required(CONF_LOCATIONS, default=default): SelectSelector(
            SelectSelectorConfig(
                options=[
                    SelectOptionDict(value=location.id, label=location.display_name)
                    for location in locations
                ],
                multiple=True,
                sort=True,
            )
        )
    }


def _location_options(
    locations: Sequence[Location], selected: list[str]
) -> dict[str, Any]:
    """Return the entry options for a selection among the offered locations."""
    return {
        CONF_LOCATIONS: selected,
        # Following all means locations created later are added without asking.
        CONF_FOLLOW_ALL_LOCATIONS: set(selected) == {loc.id for loc in locations},
    }


class FlatpeakConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Flatpeak account in live or test mode."""

    VERSION = 1

    _client: FlatpeakClient
    _api_key: str
    _locations: list[Location] | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> FlatpeakOptionsFlow:
        """Return the options flow."""
        return FlatpeakOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Offer target windows on the entry's page."""
        return {SUBENTRY_TARGET_WINDOW: TargetWindowFlow}

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the account id and API key, and check them with a login."""
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = user_input[CONF_API_KEY].strip()
            api_url = user_input.get(SECTION_ADVANCED, {}).get(
                CONF_API_URL, DEFAULT_API_URL
            )
            client = create_client(
                self.hass, user_input[CONF_ACCOUNT_ID].strip(), api_key, api_url
            )
            if _insecure_api_url(api_url):
                errors["base"] = "insecure_api_url"
            else:
                with form_errors(errors):
                    await client.login()
            if not errors:
                await self.async_set_unique_id(_unique_id(client))
                self._abort_if_unique_id_configured()
                self._client = client
                self._api_key = api_key
                return await self.async_step_locations()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
            description_placeholders={
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
                **FORM_PLACEHOLDERS,
            },
        )

    async def async_step_locations(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user pick the locations to follow; submitting after an error retries."""
        errors: dict[str, str] = {}
        if user_input is not None and self._locations is not None:
            if selected := list(user_input[CONF_LOCATIONS]):
                return await self._async_create_entry(selected)
            errors[CONF_LOCATIONS] = "no_locations_selected"
        if self._locations is None:
            with form_errors(errors):
                self._locations = await self._client.list_locations()
            if self._locations == []:
                return await self.async_step_no_locations()
        fields = (
            {}
            if self._locations is None
            else _locations_field(
                self._locations, [location.id for location in self._locations]
            )
        )
        return self.async_show_form(
            step_id="locations",
            data_schema=probatio.Schema(fields),
            errors=errors,
            description_placeholders={
                "mode": _mode(self._api_key),
                **FORM_PLACEHOLDERS,
            },
        )

    async def async_step_no_locations(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Explain that an account without locations still works: they come later."""
        if user_input is not None:
            return await self._async_create_entry([])
        return self.async_show_form(
            step_id="no_locations",
            description_placeholders={
                "mode": _mode(self._api_key),
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
            },
        )

    async def _async_create_entry(self, selected: list[str]) -> ConfigFlowResult:
        """Create the entry, with the webhook URL the user must give Flatpeak."""
        client = self._client
        webhook_id = webhook.async_generate_id()
        url, cloudhook_url = await async_get_or_create_webhook_url(
            self.hass, webhook_id, None
        )
        data = {
            CONF_ACCOUNT_ID: client.account_id,
            CONF_API_KEY: self._api_key,
            CONF_API_URL: client.api_url,
            CONF_WEBHOOK_ID: webhook_id,
        }
        if cloudhook_url is not None:
            data[CONF_CLOUDHOOK_URL] = cloudhook_url
        return self.async_create_entry(
            title="Flatpeak" if client.live_mode else "Flatpeak (test)",
            # A variant of the closing text that also says why Flatpeak cannot reach it.
            description=webhook_url_warning(url),
            data=data,
            options={
                **_location_options(self._locations or [], selected),
                CONF_REQUIRE_SIGNED_WEBHOOKS: False,
            },
            description_placeholders={
                "webhook_url": url,
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
                "mode": _mode(self._api_key),
            },
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start re-authentication after Flatpeak refused the stored API key."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API key of the same account and mode."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            api_key = user_input[CONF_API_KEY].strip()
            client = create_client(
                self.hass,
                entry.data[CONF_ACCOUNT_ID],
                api_key,
                entry.data[CONF_API_URL],
            )
            with form_errors(errors):
                await client.login()
            if errors.get("base") == "invalid_auth":
                # The client logs in as the entry's own account, so a key of another
                # account is refused like a revoked one; the text names both causes.
                errors["base"] = "reauth_invalid_auth"
            if not errors:
                # A test key for a live entry (or the reverse) would see other data.
                await self.async_set_unique_id(_unique_id(client))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_KEY: api_key}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(REAUTH_SCHEMA, user_input),
            errors=errors,
            description_placeholders={
                "account_id": entry.data[CONF_ACCOUNT_ID],
                "mode": _mode(entry.data[CONF_API_KEY]),
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
                **FORM_PLACEHOLDERS,
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API URL, and show the webhook URL to give Flatpeak."""
        entry = self._get_reconfigure_entry()
        url = webhook_url(self.hass, entry.data)
        errors: dict[str, str] = {}
        if user_input is None and (warning := webhook_url_warning(url)):
            errors["base"] = warning
        if user_input is not None:
            client = create_client(
                self.hass,
                entry.data[CONF_ACCOUNT_ID],
                entry.data[CONF_API_KEY],
                user_input[CONF_API_URL],
            )
            if _insecure_api_url(user_input[CONF_API_URL]):
                errors["base"] = "insecure_api_url"
            else:
                with form_errors(errors):
                    await client.login()
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_URL: client.api_url}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                RECONFIGURE_SCHEMA,
                user_input or {CONF_API_URL: entry.data[CONF_API_URL]},
            ),
            errors=errors,
            description_placeholders={
                "webhook_url": url,
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
                **FORM_PLACEHOLDERS,
            },
        )


class FlatpeakOptionsFlow(OptionsFlowWithReload):
    """Choose the followed locations and whether unsigned webhooks are refused."""

    _locations: list[Location] | None = None

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the options; without the API the location choice is left as it is."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            options = {
                **entry.options,
                CONF_REQUIRE_SIGNED_WEBHOOKS: user_input[CONF_REQUIRE_SIGNED_WEBHOOKS],
                CONF_PRICE_RESOLUTION: int(
                    user_input.get(CONF_PRICE_RESOLUTION, DEFAULT_RESOLUTION)
                ),
            }
            if self._locations is not None:
                selected = list(user_input.get(CONF_LOCATIONS, []))
                if self._locations and not selected:
                    errors[CONF_LOCATIONS] = "no_locations_selected"
                options |= _location_options(self._locations, selected)
            if not errors:
                return self.async_create_entry(data=options)
        if self._locations is None:
            client = create_client(
                self.hass,
                entry.data[CONF_ACCOUNT_ID],
                entry.data[CONF_API_KEY],
                entry.data[CONF_API_URL],
            )
            with form_errors(errors):
                self._locations = await client.list_locations()

        fields: dict[probatio.Marker, Any] = {}
        if self._locations:
            offered = [location.id for location in self._locations]
            current = set(entry.options.get(CONF_LOCATIONS, []))
            follow_all = entry.options.get(
                CONF_FOLLOW_ALL_LOCATIONS, DEFAULT_FOLLOW_ALL_LOCATIONS
            )
            fields |= _locations_field(
                self._locations,
                offered if follow_all else [i for i in offered if i in current],
            )
        fields[
            probatio.Required(
                CONF_REQUIRE_SIGNED_WEBHOOKS,
                default=entry.options.get(CONF_REQUIRE_SIGNED_WEBHOOKS, False),
            )
        ] = BooleanSelector()
        fields[
            probatio.Required(
                CONF_PRICE_RESOLUTION,
                default=str(
                    entry.options.get(CONF_PRICE_RESOLUTION, DEFAULT_RESOLUTION)
                ),
            )
        ] = _RESOLUTION_SELECTOR
        return self.async_show_form(
            step_id="init",
            data_schema=probatio.Schema(fields),
            errors=errors,
            description_placeholders=FORM_PLACEHOLDERS,
        )
