"""Constants for the Flatpeak integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "flatpeak"
LOGGER = logging.getLogger(__package__)

# Flatpeak's object ids carry a type prefix; locations' is this one.
LOCATION_ID_PREFIX: Final = "loc_"
FLATPEAK_DASHBOARD_URL: Final = "https://dashboard.flatpeak.com"

# Config entry data (contract: field names users see in the set-up form).
CONF_ACCOUNT_ID: Final = "account_id"
CONF_API_KEY: Final = "api_key"
CONF_API_URL: Final = "api_url"
# The base URL of Flatpeak Connect (contract); entries of earlier releases lack it and
# are read with the default, so their stored data keeps its shape.
CONF_CONNECT_API_URL: Final = "connect_api_url"
CONF_WEBHOOK_ID: Final = "webhook_id"
CONF_CLOUDHOOK_URL: Final = "cloudhook_url"
# Collapsed section of the set-up form holding rarely changed fields (`api_url`).
SECTION_ADVANCED: Final = "advanced"

# Config entry options.
CONF_LOCATIONS: Final = "locations"
CONF_FOLLOW_ALL_LOCATIONS: Final = "follow_all_locations"
# Set-up stores the option; an entry without it (edited by hand) follows every location,
# as set-up does by default.
DEFAULT_FOLLOW_ALL_LOCATIONS: Final = True
CONF_REQUIRE_SIGNED_WEBHOOKS: Final = "require_signed_webhooks"
# Minutes per cell of raw_today/raw_tomorrow (contract values 15, 30, 60).
CONF_PRICE_RESOLUTION: Final = "price_resolution"

# Flatpeak asks clients not to retry unavailable prices more often than this.
PRICES_UNAVAILABLE_RETRY: Final = timedelta(minutes=15)
FALLBACK_UPDATE_INTERVAL: Final = timedelta(hours=1)
MIN_UPDATE_INTERVAL: Final = timedelta(minutes=1)
MAX_UPDATE_INTERVAL: Final = timedelta(hours=6)
TRANSIENT_RETRY_INTERVAL: Final = timedelta(minutes=5)
# A disabled account is re-enabled by a person, not by retrying: ask now and then.
ACCOUNT_DISABLED_RETRY_INTERVAL: Final = timedelta(hours=6)
# Events that ask for a refresh (location.update, connect_session.complete) cost at most
# one fetch at once and one more per this cooldown per location, however many arrive.
EVENT_REFRESH_COOLDOWN: Final = timedelta(minutes=5)
UPDATE_JITTER_SECONDS: Final = 30.0

# Flatpeak retries a failed delivery now, then after 30 s, 1 h, 6 h, 12 h and 24 h: about
# 43.5 hours in all when each wait follows the previous attempt (its docs do not say).
# Catch-up also looks this far back, with a margin, for events it asked to be resent.
FLATPEAK_RETRY_WINDOW: Final = timedelta(hours=48)
# Catch-up replays at most this many missed events (newest kept) after a downtime.
CATCH_UP_MAX_EVENTS: Final = 1000
