"""Test your services against the bus without a broker or a socket.

`InMemoryBroker` implements the `BusClient` protocol over the very engine
the broker service runs, with a fake clock, fault injection, counters and
assertion helpers. It is a production adapter that lives beside the real
client (`promethean.client.mock`); this test kit re-exports it with the
socket guard. ``connect_bus()`` picks it or the real client from
``BROKER_IMPL``; the pytest plugin (``promethean.testing.pytest_plugin``)
gives every test a fresh ``bus``. See docs/testing/broker-mock.md.
"""

from promethean.client.factory import connect_bus
from promethean.client.mock.broker import InMemoryBroker
from promethean.client.mock.client import ConnectionState, MockClient
from promethean.client.mock.config import DeliveryMode, Latency, MockConfig, Ordering, Overflow
from promethean.client.mock.errors import BufferOverflowError, InjectedFaultError, MockBrokerError
from promethean.client.mock.faults import Fault, FaultAction, FaultPlan, FaultStage, FaultTarget
from promethean.client.mock.helpers import RecordingSubscriber, recording_subscriber
from promethean.client.mock.record import BusEvent, Counters, EventKind
from promethean.client.mock.subscription import MockSubscription
from promethean.testing.sockets import SocketForbiddenError, SocketGuard

__all__ = [
    "BufferOverflowError",
    "BusEvent",
    "ConnectionState",
    "Counters",
    "DeliveryMode",
    "EventKind",
    "Fault",
    "FaultAction",
    "FaultPlan",
    "FaultStage",
    "FaultTarget",
    "InMemoryBroker",
    "InjectedFaultError",
    "Latency",
    "MockBrokerError",
    "MockClient",
    "MockConfig",
    "MockSubscription",
    "Ordering",
    "Overflow",
    "RecordingSubscriber",
    "SocketForbiddenError",
    "SocketGuard",
    "connect_bus",
    "recording_subscriber",
]
