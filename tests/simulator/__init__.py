"""A protocol-faithful local Flatpeak API and signed webhook sender for tests."""

from .app import DISPATCHER_KEY, STATE_KEY, ApiError, create_app
from .connect import (
    ConnectError,
    ConnectProviders,
    add_provider,
    finish_pending,
    seed_connect_providers,
)
from .connect_app import create_connect_app
from .connect_model import (
    ConnectState,
    ConnectToken,
    DirectLogin,
    LibraryTariff,
    Provider,
    TodPeriod,
)
from .demo import DemoAccount, seed_demo
from .keys import SigningKey
from .sender import FLATPEAK_RETRY_SCHEDULE, DeliveryResult, Dispatcher, WebhookSender
from .server import RunningSimulator, start_simulator
from .state import (
    ANY_ROUTE,
    API_VERSION,
    ROUTES,
    Account,
    Fault,
    PriceFeed,
    PriceSlot,
    SimulatorState,
    Token,
    WebhookConfig,
)

__all__ = [
    "ANY_ROUTE",
    "API_VERSION",
    "DISPATCHER_KEY",
    "FLATPEAK_RETRY_SCHEDULE",
    "ROUTES",
    "STATE_KEY",
    "Account",
    "ApiError",
    "ConnectError",
    "ConnectProviders",
    "ConnectState",
    "ConnectToken",
    "DeliveryResult",
    "DemoAccount",
    "DirectLogin",
    "Dispatcher",
    "Fault",
    "LibraryTariff",
    "PriceFeed",
    "PriceSlot",
    "Provider",
    "RunningSimulator",
    "SigningKey",
    "SimulatorState",
    "TodPeriod",
    "Token",
    "WebhookConfig",
    "WebhookSender",
    "add_provider",
    "create_app",
    "create_connect_app",
    "finish_pending",
    "seed_connect_providers",
    "seed_demo",
    "start_simulator",
]
