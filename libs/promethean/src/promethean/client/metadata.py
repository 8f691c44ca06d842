"""Asking the brokers where partitions live: the client's current
`RoutingTable`, refreshed with ``METADATA`` once connected, after a
connection to a broker is lost and after ``not_owner`` without an owner.
Concurrent refreshes share one request.

A broker that answers ``ERR unknown_type`` predates routing: it is the only
broker, it owns every partition, and the client keeps no table (``routes``
stays None) — exactly the single-broker behaviour. So is a reply that lists
one broker: whatever address it advertises, the client's one connection
reaches it already.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from promethean.client.routing import RoutingTable
from promethean.errors import PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode

log = logging.getLogger("promethean.client")

MSG_UNEXPECTED: Final = "unexpected reply to METADATA: {reply}"

FetchMetadata = Callable[[], Awaitable[object]]
"""Sends ``METADATA`` to a connected broker and returns its reply."""


class RouteBook:
    """Holds the newest routes the client has seen."""

    def __init__(self, fetch: FetchMetadata) -> None:
        self._fetch = fetch
        self.routes: RoutingTable | None = None
        """None: one broker (it does not answer ``METADATA``) or not asked yet."""
        self._refreshing: asyncio.Task[None] | None = None

    async def refresh(self) -> RoutingTable | None:
        """Ask for the routes (joining a refresh already under way); on
        failure the routes held so far stay."""
        task = self._refreshing
        if task is None or task.done():
            task = asyncio.create_task(self._refresh(), name="bus-client-metadata")
            self._refreshing = task
        await asyncio.shield(task)
        return self.routes

    async def _refresh(self) -> None:
        try:
            reply = await self._fetch()
        except PrometheanError as exc:
            if exc.code == ErrorCode.UNKNOWN_TYPE:
                self.routes = None
            else:
                log.warning("routing metadata refresh failed", extra={"error": str(exc)})
            return
        if not isinstance(reply, bf.MetadataResponse):
            log.warning(MSG_UNEXPECTED.format(reply=type(reply).__name__))
            return
        self.accept(reply)

    def accept(self, reply: bf.MetadataResponse) -> None:
        """Keep ``reply`` unless the table held is newer."""
        if len(reply.brokers) <= 1:
            self.routes = None
        elif self.routes is None or self.routes.is_newer(reply):
            self.routes = RoutingTable(reply)

    async def close(self) -> None:
        task = self._refreshing
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
