"""Config flow for Flatpeak: credentials, locations, reauth, reconfigure and options."""

from __future__ import annotations

from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, Final, cast, override
from urllib.parse import urlparse

from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
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
from .api.connect import DEFAULT_CONNECT_API_URL
from .connection import create_client, create_connect_client
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_KEY,
    CONF_API_URL,
    CONF_CLOUDHOOK_URL,
    CONF_CONNECT_API_URL,
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
from .locations.followed import follows_all
from .pricing.series import DEFAULT_RESOLUTION, RESOLUTIONS
from .pricing.target_window_flow import SUBENTRY_TARGET_WINDOW, TargetWindowFlow
from .tariff.callback import FlowKind
from .tariff.connect_flow import ConnectFlowMixin, ConnectOutcome, ConnectRequest
from .webhook.url import (
    async_get_or_create_webhook_url,
    webhook_url,
    webhook_url_warning,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .api.models import Location
    from .runtime import FlatpeakConfigEntry

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
                    ): _URL_SELECTOR,
                    probatio.Optional(
                        CONF_CONNECT_API_URL, default=DEFAULT_CONNECT_API_URL
                    ): _URL_SELECTOR,
                }
            ),
            {"collapsed": True},
        ),
    }
)
REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_API_KEY): _API_KEY_SELECTOR})
RECONFIGURE_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_API_URL): _URL_SELECTOR,
        # Optional: left out, the entry keeps the Connect URL it has.
        probatio.Optional(CONF_CONNECT_API_URL): _URL_SELECTOR,
    }
)
CONF_LOCATION_ID: Final = "location_id"
# The name a new location is given: Flatpeak's `location_reference_id` (connect.md §1),
# which is also the name of its device here.
ADD_LOCATION_SCHEMA = probatio.Schema(
    {probatio.Required("location_reference_id"): TextSelector()}
)
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


def _location_name_default(hass_name: str, taken: set[str]) -> str:
    """Suggest Home Assistant's name for the home, numbered if a location has it."""
    name = hass_name.strip() or "Home"
    number = 2
    candidate = name
    while candidate in taken:
        candidate = f"{name} {number}"
        number += 1
    return candidate


class FlatpeakConfigFlow(ConnectFlowMixin[ConfigFlowResult], ConfigFlow, domain=DOMAIN):
    """Set up a Flatpeak account in live or test mode."""

    VERSION = 1
    connect_flow_kind = FlowKind.CONFIG

    _client: FlatpeakClient
    _api_key: str
    _connect_api_url: str = DEFAULT_CONNECT_API_URL
    _locations: list[Location] | None = None
    _new_location_name: str | None = None

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
            advanced = user_input.get(SECTION_ADVANCED, {})
            api_url = advanced.get(CONF_API_URL, DEFAULT_API_URL)
            connect_api_url = advanced.get(
                CONF_CONNECT_API_URL, DEFAULT_CONNECT_API_URL
            )
            client = create_client(
                self.hass, user_input[CONF_ACCOUNT_ID].strip(), api_key, api_url
            )
            if _insecure_api_url(api_url) or _insecure_api_url(connect_api_url):
                errors["base"] = "insecure_api_url"
            else:
                with form_errors(errors):
                    await client.login()
            if not errors:
                await self.async_set_unique_id(_unique_id(client))
                self._abort_if_unique_id_configured()
                self._client = client
                self._api_key = api_key
                self._connect_api_url = connect_api_url.strip().rstrip("/")
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
        """Offer to add a location with its tariff now, or to finish without one."""
        return self.async_show_menu(
            step_id="no_locations",
            menu_options=["add_location", "finish"],
            description_placeholders={
                "mode": _mode(self._api_key),
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
            },
        )

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up without a location: new ones are added as they come."""
        return await self._async_create_entry([])

    async def async_step_add_location(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the new location, then connect its tariff with Flatpeak Connect."""
        if user_input is not None and (
            name := str(user_input["location_reference_id"]).strip()
        ):
            self._new_location_name = name
            return await self.async_connect_begin(
                self._client,
                create_connect_client(self.hass, self._connect_api_url),
                ConnectRequest(location_reference_id=name),
            )
        return self.async_show_form(
            step_id="add_location",
            data_schema=self.add_suggested_values_to_schema(
                ADD_LOCATION_SCHEMA,
                {
                    "location_reference_id": _location_name_default(
                        self.hass.config.location_name, set()
                    )
                },
            ),
        )

    @override
    def _connect_extra_placeholders(self) -> dict[str, str]:
        return {"location": self._new_location_name or ""}

    @override
    async def _async_connect_finished(
        self, outcome: ConnectOutcome
    ) -> ConfigFlowResult:
        """Create the entry following the new location (and any later one)."""
        location_id = outcome.location_id or await self._async_location_named(
            self._client, self._new_location_name
        )
        return await self._async_create_entry(
            [location_id] if location_id else [], follow_all=True
        )

    async def _async_create_entry(
        self, selected: list[str], *, follow_all: bool | None = None
    ) -> ConfigFlowResult:
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
            CONF_CONNECT_API_URL: self._connect_api_url,
            CONF_WEBHOOK_ID: webhook_id,
        }
        if cloudhook_url is not None:
            data[CONF_CLOUDHOOK_URL] = cloudhook_url
        locations = _location_options(self._locations or [], selected)
        if follow_all is not None:
            locations[CONF_FOLLOW_ALL_LOCATIONS] = follow_all
        return self.async_create_entry(
            title="Flatpeak" if client.live_mode else "Flatpeak (test)",
            # A variant of the closing text that also says why Flatpeak cannot reach it.
            description=webhook_url_warning(url),
            data=data,
            options={**locations, CONF_REQUIRE_SIGNED_WEBHOOKS: False},
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
            connect_api_url = user_input.get(CONF_CONNECT_API_URL) or entry.data.get(
                CONF_CONNECT_API_URL, DEFAULT_CONNECT_API_URL
            )
            if _insecure_api_url(user_input[CONF_API_URL]) or _insecure_api_url(
                connect_api_url
            ):
                errors["base"] = "insecure_api_url"
            else:
                with form_errors(errors):
                    await client.login()
            if not errors:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_API_URL: client.api_url,
                        CONF_CONNECT_API_URL: connect_api_url.strip().rstrip("/"),
                    },
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                RECONFIGURE_SCHEMA,
                user_input
                or {
                    CONF_API_URL: entry.data[CONF_API_URL],
                    # Entries of earlier releases have none: the default is theirs.
                    CONF_CONNECT_API_URL: entry.data.get(
                        CONF_CONNECT_API_URL, DEFAULT_CONNECT_API_URL
                    ),
                },
            ),
            errors=errors,
            description_placeholders={
                "webhook_url": url,
                "dashboard_url": FLATPEAK_DASHBOARD_URL,
                **FORM_PLACEHOLDERS,
            },
        )


class FlatpeakOptionsFlow(ConnectFlowMixin[ConfigFlowResult], OptionsFlowWithReload):
    """The entry's settings, and the tariff settings of its locations."""

    connect_flow_kind = FlowKind.OPTIONS

    _locations: list[Location] | None = None
    # The location whose tariff settings are open, and the name of one being added.
    _location_id: str | None = None
    _location_name: str | None = None
    _adding: bool = False

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the settings, a location's tariff settings, or adding a location."""
        return self.async_show_menu(
            step_id="init", menu_options=["settings", "tariff_settings", "add_location"]
        )

    def _client(self) -> FlatpeakClient:
        entry = self.config_entry
        if entry.state is ConfigEntryState.LOADED:
            runtime: FlatpeakConfigEntry = entry
            return runtime.runtime_data.client
        return create_client(
            self.hass,
            entry.data[CONF_ACCOUNT_ID],
            entry.data[CONF_API_KEY],
            entry.data[CONF_API_URL],
        )

    async def async_step_tariff_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose a location; its tariff opens in Flatpeak Connect."""
        errors: dict[str, str] = {}
        client = self._client()
        if self._locations is None:
            with form_errors(errors):
                self._locations = await client.list_locations()
        if self._locations == []:
            return self.async_abort(reason="no_locations")
        # The form shown after a failed listing has no field: its submit lists again
        # (above) and then offers the choice.
        if (
            user_input is not None
            and self._locations is not None
            and CONF_LOCATION_ID in user_input
        ):
            location_id = str(user_input[CONF_LOCATION_ID])
            # connect.md §6 "Tariff settings page": the status is read each time the
            # page is shown; a location Flatpeak cannot answer for is not opened.
            with form_errors(errors):
                await client.get_location_status(location_id)
            if not errors:
                self._location_id = location_id
                self._location_name = next(
                    (
                        location.display_name
                        for location in self._locations
                        if location.id == location_id
                    ),
                    location_id,
                )
                return await self.async_connect_begin(
                    client,
                    create_connect_client(
                        self.hass, self.config_entry.data.get(CONF_CONNECT_API_URL)
                    ),
                    ConnectRequest(location_id=location_id),
                )
        fields: dict[probatio.Marker, Any] = {}
        if self._locations:
            fields[probatio.Required(CONF_LOCATION_ID)] = SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=location.id, label=location.display_name)
                        for location in self._locations
                    ],
                    sort=True,
                )
            )
        return self.async_show_form(
            step_id="tariff_settings",
            data_schema=probatio.Schema(fields),
            errors=errors,
        )

    async def async_step_add_location(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name a new location, then connect its tariff with Flatpeak Connect."""
        if user_input is not None and (
            name := str(user_input["location_reference_id"]).strip()
        ):
            self._adding = True
            self._location_name = name
            return await self.async_connect_begin(
                self._client(),
                create_connect_client(
                    self.hass, self.config_entry.data.get(CONF_CONNECT_API_URL)
                ),
                ConnectRequest(location_reference_id=name),
            )
        taken: set[str] = set()
        if self.config_entry.state is ConfigEntryState.LOADED:
            runtime: FlatpeakConfigEntry = self.config_entry
            followed = runtime.runtime_data.locations
            taken = {followed.display_name(location_id) for location_id in followed}
        return self.async_show_form(
            step_id="add_location",
            data_schema=self.add_suggested_values_to_schema(
                ADD_LOCATION_SCHEMA,
                {
                    "location_reference_id": _location_name_default(
                        self.hass.config.location_name, taken
                    )
                },
            ),
        )

    @override
    def _connect_extra_placeholders(self) -> dict[str, str]:
        return {"location": self._location_name or ""}

    @override
    async def _async_connect_auth_failed(self) -> ConfigFlowResult:
        """Ask for a new API key, as everywhere else a key is refused."""
        self.config_entry.async_start_reauth(self.hass)
        return self.async_abort(reason="reauth_required")

    @override
    async def _async_connect_finished(
        self, outcome: ConnectOutcome
    ) -> ConfigFlowResult:
        """Follow a new location at once; fetch a changed location's prices again."""
        entry = self.config_entry
        location_id = outcome.location_id
        if self._adding and location_id is None:
            location_id = await self._async_location_named(
                self._client(), self._location_name
            )
        if location_id is None:
            return self.async_abort(reason="connect_closed")
        loaded = entry.state is ConfigEntryState.LOADED
        followed = location_id in entry.options.get(CONF_LOCATIONS, []) or (
            loaded
            and location_id in cast("FlatpeakConfigEntry", entry).runtime_data.locations
        )
        if self._adding and not followed and not follows_all(entry):
            # A chosen set of locations: the new one joins it (the entry reloads).
            return self.async_create_entry(
                data={
                    **entry.options,
                    CONF_LOCATIONS: [
                        *entry.options.get(CONF_LOCATIONS, []),
                        location_id,
                    ],
                }
            )
        if loaded:
            runtime = cast("FlatpeakConfigEntry", entry).runtime_data
            if coordinator := runtime.locations.get(location_id):
                # Changed or disconnected: its prices and status are read again now.
                await coordinator.async_request_refresh()
            elif self._adding:
                # Following all: the location is followed now, not at its webhook.
                await runtime.locations.async_follow(location_id)
        return self.async_abort(
            reason="location_added" if self._adding else "connect_closed"
        )

    async def async_step_settings(
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
            step_id="settings",
            data_schema=probatio.Schema(fields),
            errors=errors,
            description_placeholders=FORM_PLACEHOLDERS,
        )
