"""One connection of the client per broker: its own ordered `SendQueue` and
`WebSocketTransport` (which reconnects), and the settle function its
deliveries carry, so acks, nacks and modacks return on the connection that
delivered them — the owner of the partition.

With one broker (the default) the client has exactly one link, to the URL it
was given. With several it adds one per partition owner it needs, at most
`MAX_BROKER_LINKS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from promethean.client.send_queue import SendQueue
from promethean.client.transport import WebSocketTransport
from promethean.client.types import Settle
from promethean.errors import PrometheanError

log = logging.getLogger("promethean.client")

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


class BrokerLinks:
    """The client's connections by broker address, the first one (to the URL
    the client was given) always among them. A new address gets a connection
    opened in the background; one that cannot be opened is handed to
    ``on_unreachable``."""

    def __init__(
        self,
        primary: BrokerConnection,
        *,
        make: Callable[[str], BrokerConnection],
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        on_unreachable: Callable[[BrokerConnection], None],
    ) -> None:
        self.primary = primary
        self._make = make
        self._spawn = spawn
        self._on_unreachable = on_unreachable
        self._by_address: dict[str, BrokerConnection] = {primary.address: primary}
        self._opening: dict[str, asyncio.Event] = {}
        """address → set once its background open succeeded or failed."""

    @property
    def addresses(self) -> list[str]:
        return list(self._by_address)

    def known(self, address: str) -> BrokerConnection | None:
        return self._by_address.get(address)

    def get(self, address: str) -> BrokerConnection:
        """The connection to ``address``, opened in the background when new
        (the first broker's once `MAX_BROKER_LINKS` are open)."""
        link = self._by_address.get(address)
        if link is not None:
            return link
        if len(self._by_address) >= MAX_BROKER_LINKS or self.primary.transport.closed:
            return self.primary
        link = self._make(address)
        self._by_address[address] = link
        self._opening[address] = asyncio.Event()
        self._spawn(self._open(link), f"bus-client-link:{address}")
        return link

    async def opened(self, link: BrokerConnection) -> None:
        """Wait until ``link``, opened in the background, is open or failed
        to open (at once for a connection already past that)."""
        opening = self._opening.get(link.address)
        if opening is not None:
            await opening.wait()

    async def _open(self, link: BrokerConnection) -> None:
        try:
            await link.transport.open()
        except PrometheanError as exc:
            log.warning(
                "cannot reach a partition owner; refreshing routes",
                extra={"url": link.address, "error": str(exc)},
            )
            self.drop(link)
            self._on_unreachable(link)
        finally:
            opening = self._opening.pop(link.address, None)
            if opening is not None:
                opening.set()

    def connected_one(self) -> BrokerConnection:
        """A connection to ask for routes: the first one unless it is down."""
        if self.primary.connected:
            return self.primary
        for link in self._by_address.values():
            if link.connected:
                return link
        return self.primary

    def others(self) -> list[BrokerConnection]:
        return [link for link in self._by_address.values() if link is not self.primary]

    def drop(self, link: BrokerConnection) -> None:
        """Forget ``link`` (not the first one); a later `get` opens a new one."""
        if link is not self.primary and self._by_address.get(link.address) is link:
            del self._by_address[link.address]

    def prune(self, live: set[str]) -> list[BrokerConnection]:
        """Forget and return the connections (but the first) to addresses
        not in ``live``; the caller moves their publishes and closes them."""
        gone = [link for link in self.others() if link.address not in live]
        for link in gone:
            del self._by_address[link.address]
        return gone
