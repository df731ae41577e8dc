"""Flatpeak Connect inside Home Assistant's flows: each Connect page becomes a step.

One driver for the three places a user meets Connect: set-up (adding the first
location), the options (tariff settings of a location, adding a location) and the
Repairs fix flows of tariff problems. Form pages become forms whose field keys are
Connect's data keys; pages with actions become menus whose options are the actions in
lower case (contract); the provider login (`session_redirect`) is an external step that
comes back through `callback.py`. A session that Connect ends (its redirect to the
token's `callback_url`, or `session_complete`) ends here: the browser is never sent there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.data_entry_flow import AbortFlow, FlowHandler, FlowResult
from homeassistant.helpers.network import NoURLAvailableError
import probatio

from ..api.connect import ConnectSession, is_session_end, with_connect_token
from ..api.connect_models import (
    ConnectAction,
    ConnectPage,
    ConnectRoute,
    ProviderSelectData,
)
from ..api.exceptions import (
    FlatpeakApiError,
    FlatpeakAuthenticationError,
    FlatpeakConnectError,
    FlatpeakConnectTokenError,
    FlatpeakError,
)
from ..const import LOGGER
from ..errors import CANNOT_CONNECT, CONNECT_ERROR, connect_error_placeholders
from .callback import (
    END_URL_PATH,
    RETURN_URL_PATH,
    STATE_PARAM,
    FlowKind,
    base_url,
    connect_callbacks,
)
from .connect_pages import (
    FORM_ROUTES,
    MENU_FORM_ROUTES,
    MENU_SUFFIX,
    NONE_TEXT,
    InvalidInputError,
    SummaryText,
    extra_actions,
    form_data,
    form_schema,
    menu_options,
    step_route,
    summary_text,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..api.client import FlatpeakClient
    from ..api.connect import ConnectClient
    from ..api.connect_models import ConnectRouteOptions, ConnectToken

# Steps of the driver besides the pages' own.
STEP_SESSION_REDIRECT: Final = str(ConnectRoute.SESSION_REDIRECT)
STEP_SESSION_RESUME: Final = "session_resume"
STEP_PROVIDER_LOGIN: Final = "provider_login"
STEP_RETRY: Final = "connect_retry"
STEP_RESTARTED: Final = "connect_restarted"
STEP_UNKNOWN_PAGE: Final = "connect_page"
_SERVER_ERROR: Final = 500
# The route options asked for: none. The name and contract-term pages are Connect's to
# show or not (connect.md §1 leaves their defaults off); advanced capture is free-form
# and has no form here (§5).
ROUTE_OPTIONS: ConnectRouteOptions | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRequest:
    """What a Connect session is for (connect.md §1 token fields)."""

    location_id: str | None = None
    tariff_id: str | None = None
    edit_tariff: bool = False
    # For a new location: the name chosen for it, Flatpeak's `location_reference_id`.
    location_reference_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectOutcome:
    """How a session ended: the location it was about and what Connect saved."""

    location_id: str | None
    # connect.md §4: SAVE when a tariff was connected, DISCONNECT when disconnected.
    complete_action: str | None
    # The last page before the end (the summary, say), when there was one.
    last_page: ConnectPage | None


@dataclass(slots=True, kw_only=True)
class _ConnectRun:
    """The session a flow is in, and what it needs to retry or start again."""

    request: ConnectRequest
    client: FlatpeakClient
    connect: ConnectClient
    connect_url: str
    callback_url: str
    session: ConnectSession | None = None
    # The last page shown that is not the end, for the outcome.
    last_page: ConnectPage | None = None
    # The state issued for the provider login being waited for, and its URL.
    login_state: str | None = None
    login_url: str | None = None
    # The provider chosen last: the login page names none (connect.md §3.1).
    provider_name: str | None = None
    retry: Callable[[], Awaitable[Any]] | None = None
    retry_errors: dict[str, str] | None = None
    placeholders: dict[str, str] | None = None


class ConnectFlowMixin[ResultT: FlowResult[Any, Any]](FlowHandler[Any, ResultT, Any]):
    """Drives one Connect session from a config, options or Repairs flow."""

    # Which flow manager the provider-login callback advances.
    connect_flow_kind: FlowKind
    # Whether the provider login is introduced by a step of its own: Repairs' dialog
    # shows an external step without its text, only an "Open website" button.
    connect_login_intro: bool = False
    _connect_run: _ConnectRun | None = None

    # -- hooks of the flow using the driver ------------------------------------------

    async def _async_connect_finished(self, outcome: ConnectOutcome) -> ResultT:
        """Finish the flow once Connect ended the session."""
        raise NotImplementedError

    async def _async_connect_auth_failed(self) -> ResultT:
        """Flatpeak refused the API key: by default, say so."""
        return self.async_abort(reason="invalid_auth")

    def _connect_extra_placeholders(self) -> dict[str, str]:
        """Placeholders every Connect step of this flow shows (the location, say)."""
        return {}

    async def _async_location_named(
        self, client: FlatpeakClient, name: str | None
    ) -> str | None:
        """Find a new location by the name it was given, when the token did not say."""
        if not name:
            return None
        try:
            locations = await client.list_locations()
        except FlatpeakError as err:
            LOGGER.debug("Could not list locations to find %s: %s", name, err)
            return None
        named = [location.id for location in locations if location.reference_id == name]
        return named[-1] if named else None

    # -- start ----------------------------------------------------------------------

    async def async_connect_begin(
        self,
        client: FlatpeakClient,
        connect: ConnectClient,
        request: ConnectRequest,
    ) -> ResultT:
        """Create a connect token for the request and show Connect's first page."""
        try:
            base = base_url(self.hass)
        except NoURLAvailableError:
            return self.async_abort(reason="no_url_available")
        self._connect_run = _ConnectRun(
            request=request,
            client=client,
            connect=connect,
            connect_url=f"{base}{RETURN_URL_PATH}",
            callback_url=f"{base}{END_URL_PATH}",
        )
        return await self._async_connect_call(self._async_connect_start)

    async def _async_connect_start(self) -> ResultT:
        """Create the token and start its session (also to start again)."""
        run = self._run()
        token = await self._async_create_token(run)
        # The token's mode must be the entry's: a test key's location is not live.
        if token.live_mode is not None and token.live_mode != run.client.live_mode:
            return self.async_abort(reason="connect_live_mode_mismatch")
        run.session = ConnectSession(run.connect, token.connect_token)
        run.login_state = run.login_url = None
        return await self._async_connect_show(await run.session.start())

    async def _async_create_token(self, run: _ConnectRun) -> ConnectToken:
        request = run.request
        arguments: dict[str, Any] = {
            "connect_url": run.connect_url,
            "callback_url": run.callback_url,
            "location_id": request.location_id,
            "location_reference_id": None
            if request.location_id
            else request.location_reference_id,
            "edit_tariff": request.edit_tariff,
            "route_options": ROUTE_OPTIONS,
        }
        if request.tariff_id:
            try:
                return await run.client.create_connect_token(
                    **arguments, tariff_id=request.tariff_id
                )
            except FlatpeakConnectError, FlatpeakAuthenticationError:
                raise
            except FlatpeakApiError as err:
                # The tariff an event named may have been replaced meanwhile; the
                # location alone still opens its settings (the tolerant reading of
                # connect.md §1, which says nothing of a stale tariff_id).
                LOGGER.debug("Connect token without tariff_id after: %s", err)
        return await run.client.create_connect_token(**arguments)

    def _run(self) -> _ConnectRun:
        if self._connect_run is None:
            raise AbortFlow("connect_not_started")
        return self._connect_run

    def _session(self) -> ConnectSession:
        run = self._run()
        if run.session is None or run.session.page is None:
            raise AbortFlow("connect_not_started")
        return run.session

    # -- calls and their failures -----------------------------------------------------

    async def _async_connect_call(
        self,
        operation: Callable[[], Awaitable[ResultT]],
        *,
        form_page: ConnectPage | None = None,
        user_input: dict[str, Any] | None = None,
        on_refusal: Callable[[], Awaitable[ResultT]] | None = None,
    ) -> ResultT:
        """Run a call to Flatpeak; its failure shows on the form, or on a retry step.

        The retry step tries the same again, unless Connect refused it and the caller
        says what to do then (`on_refusal`): sending it again would be refused again.
        """
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        retry = operation
        try:
            return await operation()
        except AbortFlow:
            raise
        except FlatpeakAuthenticationError:
            return await self._async_connect_auth_failed()
        except FlatpeakConnectTokenError as err:
            # connect.md §4: an expired or used token cannot go on; a new session can.
            LOGGER.info(
                "Flatpeak Connect session ended (%s); starting a new one", err.code
            )
            return await self._async_connect_restart()
        except FlatpeakConnectError as err:
            # An error object for a fault on Connect's side (5xx) is a failure to
            # reach it, not a refusal of what was typed.
            server_fault = err.status is not None and err.status >= _SERVER_ERROR
            errors["base"] = CANNOT_CONNECT if server_fault else CONNECT_ERROR
            placeholders = connect_error_placeholders(err)
            if not server_fault and on_refusal is not None:
                retry = on_refusal
        except FlatpeakError as err:
            LOGGER.debug("Flatpeak Connect call failed: %s", err)
            errors["base"] = CANNOT_CONNECT
            placeholders = connect_error_placeholders(err)
        except NoURLAvailableError:
            return self.async_abort(reason="no_url_available")
        if form_page is not None:
            return self._async_show_page_form(
                form_page, errors=errors, user_input=user_input, extra=placeholders
            )
        run = self._run()
        run.retry = retry
        run.retry_errors = errors
        run.placeholders = placeholders
        return await self.async_step_connect_retry()

    async def async_step_connect_retry(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Say what failed; on submit, try the same again (nothing was changed)."""
        run = self._run()
        if user_input is not None and run.retry is not None:
            operation, run.retry = run.retry, None
            return await self._async_connect_call(operation)
        return self.async_show_form(
            step_id=STEP_RETRY,
            data_schema=probatio.Schema({}),
            errors=run.retry_errors or {"base": CANNOT_CONNECT},
            description_placeholders=self._placeholders(None, run.placeholders),
        )

    async def _async_connect_restart(self) -> ResultT:
        """Start a new session for the same request and say so."""
        return await self._async_connect_call(self._async_connect_restarted)

    async def _async_connect_restarted(self) -> ResultT:
        run = self._run()
        token = await self._async_create_token(run)
        if token.live_mode is not None and token.live_mode != run.client.live_mode:
            return self.async_abort(reason="connect_live_mode_mismatch")
        run.session = ConnectSession(run.connect, token.connect_token)
        run.login_state = run.login_url = None
        await run.session.start()
        return self.async_show_form(
            step_id=STEP_RESTARTED,
            data_schema=probatio.Schema({}),
            description_placeholders=self._placeholders(None),
        )

    async def async_step_connect_restarted(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Go on in the new session from its first page."""
        return await self._async_connect_show(self._session().page)

    # -- showing a page ----------------------------------------------------------------

    def _placeholders(
        self, page: ConnectPage | None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Every Connect step shows the same placeholders, so each text may use any."""
        values = {
            "connect_code": NONE_TEXT,
            "connect_message": NONE_TEXT,
            "route": page.route if page else NONE_TEXT,
            **(summary_text(page) if page else SummaryText()).placeholders(),
        }
        provider = getattr(page.data, "provider", None) if page else None
        if name := getattr(provider, "display_name", None):
            # Form pages name the provider being connected too.
            values["provider"] = name
        elif self._connect_run is not None and self._connect_run.provider_name:
            values["provider"] = self._connect_run.provider_name
        return {**values, **self._connect_extra_placeholders(), **(extra or {})}

    async def _async_connect_show(  # noqa: PLR0911 - one return per kind of page
        self, page: ConnectPage | None
    ) -> ResultT:
        """Show a page as its step, or end the flow if Connect ended the session."""
        run = self._run()
        if page is None:
            raise AbortFlow("connect_not_started")
        if is_session_end(page, run.callback_url):
            return await self._async_connect_end()
        run.last_page = page
        if page.live_mode is not None and page.live_mode != run.client.live_mode:
            return self.async_abort(reason="connect_live_mode_mismatch")
        route = step_route(page)
        if route == ConnectRoute.SESSION_REDIRECT:
            if self.connect_login_intro:
                return await self.async_step_provider_login()
            return await self.async_step_session_redirect()
        if route in FORM_ROUTES:
            if route in MENU_FORM_ROUTES and extra_actions(page):
                return self.async_show_menu(
                    step_id=f"{route}{MENU_SUFFIX}",
                    menu_options=menu_options(page, form_step=route),
                    description_placeholders=self._placeholders(page),
                )
            return self._async_show_page_form(page)
        if page.is_outcome:
            return self.async_show_menu(
                step_id=route,
                menu_options=menu_options(page),
                description_placeholders=self._placeholders(page),
            )
        # connect.md §2: a page of a newer release; its known actions stay usable.
        LOGGER.debug("Flatpeak Connect page %s is not known here", page.route)
        return self.async_show_menu(
            step_id=STEP_UNKNOWN_PAGE,
            menu_options=menu_options(page),
            description_placeholders=self._placeholders(page),
        )

    def _async_show_page_form(
        self,
        page: ConnectPage,
        *,
        errors: dict[str, str] | None = None,
        user_input: dict[str, Any] | None = None,
        extra: dict[str, str] | None = None,
    ) -> ResultT:
        schema, suggested = form_schema(page, country=self.hass.config.country)
        return self.async_show_form(
            step_id=step_route(page),
            data_schema=self.add_suggested_values_to_schema(
                schema, {**suggested, **(user_input or {})}
            ),
            errors=errors or None,
            description_placeholders=self._placeholders(page, extra),
        )

    async def _async_connect_form(
        self, route: str, user_input: dict[str, Any] | None
    ) -> ResultT:
        """Show a form page, or send what was typed in it."""
        session = self._session()
        page = session.page
        if page is None or step_route(page) != route:
            # A form left open from an earlier page of this session.
            return await self._async_connect_show(page)
        if user_input is None:
            return self._async_show_page_form(page)
        try:
            data = form_data(page, user_input)
        except InvalidInputError as err:
            return self._async_show_page_form(
                page, errors={err.field: err.key}, user_input=user_input
            )

        if isinstance(page.data, ProviderSelectData):
            chosen = data["provider"]["id"]
            self._run().provider_name = next(
                (p.display_name for p in page.data.providers if p.id == chosen), None
            )

        async def send() -> ResultT:
            return await self._async_connect_show(await session.submit(data))

        return await self._async_connect_call(
            send, form_page=page, user_input=user_input
        )

    async def _async_connect_action(self, action: str) -> ResultT:
        """Answer the page with one of its actions."""
        session = self._session()
        page = session.page
        if page is None:
            raise AbortFlow("connect_not_started")
        if action == ConnectAction.CLOSE and not page.allows(action):
            # connect.md §2: the reference client closes without Connect then.
            return await self._async_connect_end()
        if not page.allows(action):
            return await self._async_connect_show(page)

        async def send() -> ResultT:
            return await self._async_connect_show(await session.act(action))

        async def reread() -> ResultT:
            # connect.md §2: a refused action (action_invalid: "Not available if
            # already reported", say) leaves the session where it was; the page is
            # read again, as it may have changed meanwhile.
            return await self._async_connect_show(await session.start())

        return await self._async_connect_call(send, on_refusal=reread)

    # -- the end ------------------------------------------------------------------------

    async def _async_connect_end(self) -> ResultT:
        """Read what the session saved, then let the flow finish (connect.md §4)."""
        run = self._run()
        location_id = run.request.location_id
        complete_action: str | None = None
        if run.session is not None:
            try:
                token = await run.client.get_connect_token(run.session.connect_token)
            except FlatpeakAuthenticationError:
                return await self._async_connect_auth_failed()
            except FlatpeakError as err:
                # The flow's own knowledge (and the location's status) still serve.
                LOGGER.debug("Could not read the connect token back: %s", err)
            else:
                location_id = token.location_id or location_id
                complete_action = token.complete_action
        connect_callbacks(self.hass).forget_flow(self.flow_id)
        self._connect_run = None
        return await self._async_connect_finished(
            ConnectOutcome(
                location_id=location_id,
                complete_action=complete_action,
                last_page=run.last_page,
            )
        )

    @override
    def async_remove(self) -> None:
        """Forget the flow's provider-login state when it is closed."""
        if self._connect_run is not None:
            connect_callbacks(self.hass).forget_flow(self.flow_id)
        super().async_remove()

    # -- the provider login --------------------------------------------------------------

    async def async_step_session_redirect(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Open the provider's login; the callback view ends this step (connect.md §3)."""
        run = self._run()
        session = self._session()
        if (
            user_input is not None
            and run.login_state is not None
            and user_input.get(STATE_PARAM) == run.login_state
            and user_input.get("fp_cot") == session.connect_token
        ):
            run.login_state = run.login_url = None
            return self.async_external_step_done(next_step_id=STEP_SESSION_RESUME)
        if run.login_url is None:
            page = session.page
            redirect = page.redirect_url if page else None
            if not redirect:
                return self.async_abort(reason="connect_unsupported_page")
            run.login_state = connect_callbacks(self.hass).issue(
                self.connect_flow_kind, self.flow_id, session.connect_token
            )
            # §3.2: fp_cot added where missing; the state comes back on connect_url.
            run.login_url = with_connect_token(
                redirect, session.connect_token, {STATE_PARAM: run.login_state}
            )
        return self.async_external_step(
            step_id=STEP_SESSION_REDIRECT,
            url=run.login_url,
            description_placeholders=self._placeholders(session.page),
        )

    async def async_step_provider_login(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Say what the provider login is before opening it."""
        session = self._session()
        if user_input is not None:
            return await self.async_step_session_redirect()
        return self.async_show_form(
            step_id=STEP_PROVIDER_LOGIN,
            data_schema=probatio.Schema({}),
            description_placeholders=self._placeholders(session.page),
        )

    async def async_step_session_resume(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Back from the provider: Connect's current page (`session_start`, §3.5)."""
        session = self._session()

        async def resume() -> ResultT:
            return await self._async_connect_show(await session.start())

        return await self._async_connect_call(resume)

    # -- menus: shown again as they are when asked for ------------------------------------

    async def _async_connect_show_current(self) -> ResultT:
        return await self._async_connect_show(self._session().page)

    async def async_step_provider_select_menu(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show the provider page's menu."""
        return await self._async_connect_show_current()

    async def async_step_provider_name_capture_menu(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show the provider name page's menu."""
        return await self._async_connect_show_current()

    async def async_step_tariff_select_menu(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show the library page's menu."""
        return await self._async_connect_show_current()

    async def async_step_tariff_summary(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show the summary."""
        return await self._async_connect_show_current()

    async def async_step_tariff_connection_pending(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show the pending page."""
        return await self._async_connect_show_current()

    async def async_step_tariff_connection_failed(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show the failed page."""
        return await self._async_connect_show_current()

    async def async_step_connect_page(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Show a page of a newer Connect release."""
        return await self._async_connect_show_current()

    # -- one step per form page (the step id is the route) ---------------------------------

    async def async_step_postal_address_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for the address of the location."""
        return await self._async_connect_form(
            ConnectRoute.POSTAL_ADDRESS_CAPTURE, user_input
        )

    async def async_step_provider_select(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for the energy provider."""
        return await self._async_connect_form(ConnectRoute.PROVIDER_SELECT, user_input)

    async def async_step_provider_name_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for the name of a provider Connect does not list."""
        return await self._async_connect_form(
            ConnectRoute.PROVIDER_NAME_CAPTURE, user_input
        )

    async def async_step_tariff_select(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for a tariff of Flatpeak's library."""
        return await self._async_connect_form(ConnectRoute.TARIFF_SELECT, user_input)

    async def async_step_tariff_name_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for the tariff's name."""
        return await self._async_connect_form(
            ConnectRoute.TARIFF_NAME_CAPTURE, user_input
        )

    async def async_step_tariff_structure_select(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask how the tariff's prices are built."""
        return await self._async_connect_form(
            ConnectRoute.TARIFF_STRUCTURE_SELECT, user_input
        )

    async def async_step_rate_fixed_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for one price for all hours."""
        return await self._async_connect_form(
            ConnectRoute.RATE_FIXED_CAPTURE, user_input
        )

    async def async_step_rate_tod_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for day and night prices."""
        return await self._async_connect_form(ConnectRoute.RATE_TOD_CAPTURE, user_input)

    async def async_step_rate_advanced_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for a free-form tariff."""
        return await self._async_connect_form(
            ConnectRoute.RATE_ADVANCED_CAPTURE, user_input
        )

    async def async_step_surcharge_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask what is added to market prices."""
        return await self._async_connect_form(
            ConnectRoute.SURCHARGE_CAPTURE, user_input
        )

    async def async_step_region_select(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask for the market region."""
        return await self._async_connect_form(ConnectRoute.REGION_SELECT, user_input)

    async def async_step_contract_term_capture(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Ask when the contract started and ends."""
        return await self._async_connect_form(
            ConnectRoute.CONTRACT_TERM_CAPTURE, user_input
        )

    # -- one step per action (the step id is the action in lower case, contract) ---------

    async def async_step_back(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Go to the previous page."""
        return await self._async_connect_action(ConnectAction.BACK)

    async def async_step_close(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Leave Connect."""
        return await self._async_connect_action(ConnectAction.CLOSE)

    async def async_step_address_change(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Change the address."""
        return await self._async_connect_action(ConnectAction.ADDRESS_CHANGE)

    async def async_step_provider_missing(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Say that the provider is not listed."""
        return await self._async_connect_action(ConnectAction.PROVIDER_MISSING)

    async def async_step_tariff_missing(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Say that the tariff is not listed."""
        return await self._async_connect_action(ConnectAction.TARIFF_MISSING)

    async def async_step_edit(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Change the tariff."""
        return await self._async_connect_action(ConnectAction.EDIT)

    async def async_step_wrong_tariff(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Report the tariff as wrong."""
        return await self._async_connect_action(ConnectAction.WRONG_TARIFF)

    async def async_step_dismiss_direct(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Stop waiting for the provider's connection."""
        return await self._async_connect_action(ConnectAction.DISMISS_DIRECT)

    async def async_step_reconnect(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Log in with the provider again."""
        return await self._async_connect_action(ConnectAction.RECONNECT)

    async def async_step_disconnect(
        self, user_input: dict[str, Any] | None = None
    ) -> ResultT:
        """Disconnect the tariff, once confirmed."""
        session = self._session()
        if user_input is None:
            return self.async_show_form(
                step_id="disconnect",
                data_schema=probatio.Schema({}),
                description_placeholders=self._placeholders(session.page),
            )
        return await self._async_connect_action(ConnectAction.DISCONNECT)
