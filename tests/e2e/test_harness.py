"""The harness's reading of Home Assistant's log: which records are deprecated uses by us."""

from __future__ import annotations

from tests.e2e.harness import deprecation_reports

REPORT_USAGE = (
    "2026-12-01 13:04:28.708 WARNING (MainThread) [homeassistant.helpers.frame] "
    "Detected that custom integration 'flatpeak' has an update listener and should use "
    "it for scheduling a reload at custom_components/flatpeak/config_flow.py, line 298: "
    "return self.async_update_reload_and_abort(. This will stop working in Home "
    "Assistant 2026.12.0, please create a bug report at "
    "https://github.com/flatpeak-ha/flatpeak-homeassistant/issues"
)
PYTHON_WARNING = (
    "2026-12-01 13:04:29.001 WARNING (MainThread) [py.warnings] "
    "/tmp/e2e0/config/custom_components/flatpeak/api/client.py:88: "
    "DeprecationWarning: BasicAuth is deprecated\n"
    "  auth=aiohttp.BasicAuth(login, password),"
)
DEPRECATED_CONSTANT = (
    "2026-12-01 13:04:29.003 WARNING (MainThread) [homeassistant.const] "
    "UNIT_X was used from flatpeak, this is a deprecated constant which will be removed "
    "in HA Core 2027.1. Use UnitOfX instead, please report it to the author of the "
    "'flatpeak' custom integration"
)
OUR_LOGGER = (
    "2026-12-01 13:04:29.002 WARNING (MainThread) [custom_components.flatpeak] "
    "Options stored in a deprecated shape"
)
# Python's own format, written to the console before Home Assistant's logging starts.
EARLY_LIBRARY_WARNING = (
    "/opt/flatpeak-venvs/0a1b/lib/python3.14/site-packages/backoff/_async.py:11: "
    "DeprecationWarning: "
    "'asyncio.iscoroutinefunction' is deprecated\n"
    "  if asyncio.iscoroutinefunction(coro_or_func):"
)
EARLY_WARNING = (
    "/srv/e2e0/config/custom_components/flatpeak/webhook.py:12: DeprecationWarning: "
    "old is deprecated\n"
    "  from somewhere import old"
)
UNTESTED = (
    "2026-12-01 13:04:27.000 WARNING (SyncWorker_0) [homeassistant.loader] We found a "
    "custom integration flatpeak which has not been tested by Home Assistant."
)
OTHER_INTEGRATION = (
    "2026-12-01 13:04:30.000 WARNING (MainThread) [homeassistant.helpers.frame] "
    "Detected that custom integration 'other' uses a deprecated constant"
)
LIBRARY_WARNING = (
    "2026-12-01 13:04:30.001 WARNING (MainThread) [py.warnings] "
    "/opt/flatpeak-venvs/0a1b/lib/python3.14/site-packages/somelib/x.py:1: "
    "DeprecationWarning: old"
)


def test_reports_deprecated_uses_by_the_integration() -> None:
    """Home Assistant's reports, Python's warnings from our files, our own records."""
    records = [
        REPORT_USAGE,
        PYTHON_WARNING,
        DEPRECATED_CONSTANT,
        OUR_LOGGER,
        EARLY_WARNING,
    ]

    assert deprecation_reports("\n".join(records) + "\n") == records


def test_ignores_everything_else() -> None:
    """Other integrations' and libraries' deprecations, and other notes about us.

    The libraries' paths have "flatpeak" in them (the environment's directory).
    """
    log = f"{UNTESTED}\n{OTHER_INTEGRATION}\n{LIBRARY_WARNING}\n"

    assert deprecation_reports(log) == []


def test_a_record_ends_where_the_next_begins() -> None:
    """A library's warning next to a record about us is not read as part of it."""
    log = (
        f"{LIBRARY_WARNING}\n{PYTHON_WARNING}\n{UNTESTED}\n"
        f"{EARLY_LIBRARY_WARNING}\n{UNTESTED}"
    )

    assert deprecation_reports(log) == [PYTHON_WARNING]
