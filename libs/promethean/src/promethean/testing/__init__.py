"""Test your services against the bus without a broker or a socket.

`InMemoryBroker` implements the `BusClient` protocol over the very engine
the broker service runs, with a fake clock, fault injection, counters and
assertion helpers. ``connect_bus()`` picks it or the real client from
``BROKER_IMPL``; the pytest plugin (``promethean.testing.pytest_plugin``)
gives every test a fresh ``bus``. See docs/testing/broker-mock.md.
"""

from promethean.client.factory import connect_bus
from promethean.testing.broker import InMemoryBroker
from promethean.testing.client import ConnectionState, MockClient
from promethean.testing.config import DeliveryMode, Latency, MockConfig, Ordering, Overflow
from promethean.testing.errors import BufferOverflowError, InjectedFaultError, MockBrokerError
from promethean.testing.faults import Fault, FaultAction, FaultPlan, FaultStage, FaultTarget
from promethean.testing.helpers import RecordingSubscriber, recording_subscriber
from promethean.testing.record import BusEvent, Counters, EventKind
from promethean.testing.sockets import SocketForbiddenError, SocketGuard
from promethean.testing.subscription import MockSubscription

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
