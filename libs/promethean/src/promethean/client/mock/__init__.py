"""The in-memory mock broker: a `BusClient` adapter beside the real
WebSocket client, chosen in production by ``BROKER_IMPL=mock``.

`InMemoryBroker` runs the very `BusEngine` the broker service runs, over a
`MemoryStore`, on a fake clock, with fault injection, a recorder of what
happened and assertion helpers. It is a real implementation of the client
port, not a patch. Tests import it, its faults, recorder and helpers from
the test kit, `promethean.testing`. See docs/testing/broker-mock.md.
"""

from promethean.client.mock.broker import InMemoryBroker
from promethean.client.mock.config import MockConfig

__all__ = ["InMemoryBroker", "MockConfig"]
