"""A protocol-faithful local Flatpeak API and signed webhook sender for tests."""

from .app import STATE_KEY, ApiError, create_app
from .demo import DemoAccount, seed_demo
from .keys import SigningKey
from .sender import FLATPEAK_RETRY_SCHEDULE, DeliveryResult, WebhookSender
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
)

__all__ = [
    "ANY_ROUTE",
    "API_VERSION",
    "FLATPEAK_RETRY_SCHEDULE",
    "ROUTES",
    "STATE_KEY",
    "Account",
    "ApiError",
    "DeliveryResult",
    "DemoAccount",
    "Fault",
    "PriceFeed",
    "PriceSlot",
    "RunningSimulator",
    "SigningKey",
    "SimulatorState",
    "Token",
    "WebhookSender",
    "create_app",
    "seed_demo",
    "start_simulator",
]
