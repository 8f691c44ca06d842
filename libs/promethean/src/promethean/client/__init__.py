"""The async Python client: `WebSocketBusClient` (real broker) and the
`BusClient` protocol it shares with the in-memory mock broker
(`promethean.client.mock`)."""

from promethean.client.factory import connect_bus
from promethean.client.port import BusClient, SubscriptionHandle
from promethean.client.transport import new_session
from promethean.client.types import Handler, Message, Published, SubscribeOptions
from promethean.client.ws import ClientConfig, WebSocketBusClient

__all__ = [
    "BusClient",
    "ClientConfig",
    "Handler",
    "Message",
    "Published",
    "SubscribeOptions",
    "SubscriptionHandle",
    "WebSocketBusClient",
    "connect_bus",
    "new_session",
]
