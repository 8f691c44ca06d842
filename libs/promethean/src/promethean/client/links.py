"""One connection of the client per broker: its own ordered `SendQueue` and
`WebSocketTransport` (which reconnects), and the settle function its
deliveries carry, so acks, nacks and modacks return on the connection that
delivered them — the owner of the partition.

With one broker (the default) the client has exactly one link, to the URL it
was given. With several it adds one per partition owner it needs, at most
`MAX_BROKER_LINKS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from promethean.client.send_queue import SendQueue
from promethean.client.transport import WebSocketTransport
from promethean.client.types import Settle

MAX_BROKER_LINKS: Final = 64
"""Connections one client keeps to distinct brokers; beyond it publishes go
through the first broker, which answers ``not_owner`` as needed."""


@dataclass(slots=True, eq=False)
class BrokerConnection:
    address: str
    """The URL dialled: the client's own for the first link, else the address
    the owner advertises in ``METADATA_RESPONSE``."""
    send_queue: SendQueue
    transport: WebSocketTransport
    settle: Settle

    @property
    def connected(self) -> bool:
        return self.transport.connected
