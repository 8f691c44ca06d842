"""The bus engine: the broker's semantics without a transport."""

from promethean.bus.config import EngineConfig
from promethean.bus.engine import BusEngine
from promethean.bus.hooks import EngineHooks
from promethean.bus.requests import AckRef, PublishRequest
from promethean.bus.subscription import (
    Consumer,
    Delivery,
    EventFilter,
    StartKind,
    StartPosition,
    Subscription,
)

__all__ = [
    "AckRef",
    "BusEngine",
    "Consumer",
    "Delivery",
    "EngineConfig",
    "EngineHooks",
    "EventFilter",
    "PublishRequest",
    "StartKind",
    "StartPosition",
    "Subscription",
]
