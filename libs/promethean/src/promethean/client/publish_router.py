"""Which connection each publish leaves on, and what happens to a publish a
broker refused with ``not_owner`` or left unanswered when its connection
dropped: it goes to its partition's owner per the routing table, with the
same id every time (publish is idempotent per id, so nothing is stored
twice).

Without routes (one broker) every publish takes the first connection, as it
always did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from promethean.client.links import BrokerConnection, BrokerLinks
from promethean.client.metadata import RouteBook
from promethean.client.reroute import gave_up_error, gives_up, reroute_delay_s
from promethean.client.send_queue import PendingPublish
from promethean.client.transport import MSG_CLOSED
from promethean.errors import ConnectionLostError
from promethean.frames.routing import PartitionOwnerRef

RefreshThen = Callable[[Callable[[], None], float], None]
"""Refresh the routes after a delay in seconds, then call the function."""


class PublishRouter:
    def __init__(
        self, links: BrokerLinks, route_book: RouteBook, refresh_then: RefreshThen
    ) -> None:
        self._links = links
        self._route_book = route_book
        self._refresh_then = refresh_then

    def address_for(self, pending: PendingPublish) -> str:
        """The owner of the partition ``pending`` goes to (the first broker
        while no owner is known); records the partition on ``pending``."""
        routes = self._route_book.routes
        fallback = self._links.primary.address
        if routes is None:
            return fallback
        item = pending.item
        pending.partition = routes.partition_of(item.topic, item.key, item.id or "")
        if pending.partition is None:
            return fallback
        return routes.owner(item.topic, pending.partition) or fallback

    def dispatch(self, pending: PendingPublish) -> None:
        link = self._links.primary
        if self._route_book.routes is not None:
            link = self._links.get(self.address_for(pending))
        if link.transport.closed:  # a resend after the client closed
            if not pending.future.done():
                pending.future.set_exception(
                    link.transport.fatal or ConnectionLostError(MSG_CLOSED)
                )
            return
        link.send_queue.add_publish(pending)
        link.transport.schedule_flush()

    def dispatch_all(self, pending: Iterable[PendingPublish]) -> None:
        for item in pending:
            if not item.future.done():
                self.dispatch(item)

    def reroute(self, link: BrokerConnection, owner: PartitionOwnerRef | None) -> None:
        """Resend what ``link``'s broker refused with ``not_owner``."""
        self.resend(link.send_queue.take_rerouted(), owner)

    def resend(self, pending: list[PendingPublish], owner: PartitionOwnerRef | None) -> None:
        """Send refused publishes again, same ids: to ``owner`` when the
        refusal named one, else after refreshing the routes; a publish
        refused too often fails with `NotOwnerError`."""
        retry: list[PendingPublish] = []
        refresh = False
        for item in pending:
            if item.future.done():
                continue
            item.reroutes += 1
            if gives_up(item.reroutes):
                item.future.set_exception(
                    gave_up_error(item.item.id or "", item.item.topic, item.reroutes)
                )
                continue
            retry.append(item)
            refresh = refresh or not self._learn_owner(item, owner)
        if not retry:
            return
        delay = reroute_delay_s(max(item.reroutes for item in retry))
        if refresh:
            self._refresh_then(lambda: self.dispatch_all(retry), delay)
        else:
            asyncio.get_running_loop().call_later(delay, self.dispatch_all, retry)

    def _learn_owner(self, pending: PendingPublish, owner: PartitionOwnerRef | None) -> bool:
        """Whether the routes now send ``pending`` to ``owner``."""
        routes = self._route_book.routes
        if owner is None or routes is None or pending.partition is None:
            return False
        routes.learn_owner(pending.item.topic, pending.partition, owner)
        return routes.owner(pending.item.topic, pending.partition) == owner.address

    def move_unsent(self, link: BrokerConnection) -> None:
        """After ``link`` was lost and the routes refreshed: its publishes
        whose partition has another owner now go there, same ids."""
        if link.connected:
            return
        moved = link.send_queue.take_unsent(lambda p: self.address_for(p) == link.address)
        self.dispatch_all(moved)

    def evacuate(self, link: BrokerConnection) -> None:
        """``link`` is being closed: all its publishes, answered or not, go
        to their owners again."""
        link.send_queue.connection_lost()
        self.dispatch_all(link.send_queue.take_unsent(lambda _: False))
