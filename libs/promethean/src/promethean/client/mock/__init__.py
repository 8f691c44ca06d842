"""The in-memory mock broker: a `BusClient` adapter beside the real
WebSocket client, chosen in production by ``BROKER_IMPL=mock``.

`InMemoryBroker` runs the very `BusEngine` the broker service runs, over a
`MemoryStore`, on a fake clock, with fault injection, a recorder of what
happened and assertion helpers. It is a real implementation of the client
port, not a patch; `promethean.testing` re-exports it with the pytest
plugin. See docs/testing/broker-mock.md.
"""

from promethean.client.mock.broker import InMemoryBroker
from promethean.client.mock.client import ConnectionState, MockClient
from promethean.client.mock.config import DeliveryMode, Latency, MockConfig, Ordering, Overflow
from promethean.client.mock.errors import BufferOverflowError, InjectedFaultError, MockBrokerError
from promethean.client.mock.faults import Fault, FaultAction, FaultPlan, FaultStage, FaultTarget
from promethean.client.mock.helpers import RecordingSubscriber, recording_subscriber
from promethean.client.mock.record import BusEvent, Counters, EventKind
from promethean.client.mock.subscription import MockSubscription

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
    "recording_subscriber",
]
