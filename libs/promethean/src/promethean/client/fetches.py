"""Where one partitioned member's deliveries come from, with several brokers.

The member JOINs (and heartbeats) at its group's coordinator: the owner of
partition 0 of its topic, as the routes name it. The coordinator delivers
the assigned partitions its own broker owns on that connection; for every
other assigned partition the member sends ``FETCH`` to the partition's owner
(docs/protocol.md, "Fetching from each partition's owner"). `MemberFetches`
keeps, per owner address, the generation and partitions placed there and
sends ``FETCH`` only where what the routes and the assignment ask for
differs: on each ``ASSIGNMENT`` and ``REVOKE``, after a connection is lost
or opened, after ``not_owner``, and on each heartbeat when the routing epoch
changed. Without routes (one broker) it never sends ``FETCH``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

import msgspec

from promethean.client.links import BrokerConnection, BrokerLinks
from promethean.client.metadata import RouteBook
from promethean.client.partitioned import PartitionedSubscription, SettlePort
from promethean.errors import PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import encode
from promethean.frames.codes import ErrorCode

log = logging.getLogger("promethean.client.fetches")

Request = Callable[[Callable[[int], bf.BrokerFrame], BrokerConnection], Awaitable[Any]]
"""Sends a frame with a fresh ``corr`` on a connection; returns the reply."""
Spawn = Callable[[Coroutine[Any, Any, None], str], None]

FETCH_TIMEOUT_S: Final = 5.0
"""How long one owner may take to confirm a FETCH (or a connection to it to
open) before the member goes on; the next reconcile tries again."""
JOIN_ATTEMPTS: Final = 20
JOIN_RETRY_S: Final = 0.25
"""Pause between JOIN attempts while the coordinating partition moves."""

Placement = tuple[int, frozenset[int]]
"""(generation, partitions) fetched at one owner."""


class LinkPort:
    """A connection as the place where its deliveries are settled."""

    def __init__(self, link: BrokerConnection) -> None:
        self.link = link

    def send(self, frame: bf.BrokerFrame) -> None:
        self.link.transport.send_ordered(encode(frame))


class MemberFetches:
    """One member's coordinator connection and its fetches at other owners."""

    def __init__(
        self,
        member_id: str,
        links: BrokerLinks,
        routes: RouteBook,
        request: Request,
        spawn: Spawn,
    ) -> None:
        self.member_id = member_id
        self.home: BrokerConnection = links.primary
        """The connection to the group's coordinator."""
        self._links = links
        self._routes = routes
        self._request = request
        self._spawn = spawn
        self._placed: dict[str, Placement] = {}
        self._ports: dict[str, LinkPort] = {}
        self._lock = asyncio.Lock()
        self._joining = asyncio.Lock()
        self._seen_epoch: int | None = None
        self.member: PartitionedSubscription | None = None

    # -- OwnerFetches ---------------------------------------------------------

    def live(self, epoch: int) -> bool:
        return any(
            link.transport.epoch == epoch and link.connected
            for link in (self._links.primary, *self._links.others())
        )

    @property
    def home_connected(self) -> bool:
        return self.home.connected

    async def join(self) -> None:
        """JOIN at the coordinator the routes name; after ``not_owner`` the
        routes are refreshed and the JOIN goes again (same member id). A
        JOIN already under way is waited for, not repeated."""
        if self._joining.locked():
            async with self._joining:
                return
        async with self._joining:
            await self._join()

    async def _join(self) -> None:
        member = self._member()
        for attempt in range(1, JOIN_ATTEMPTS + 1):
            link = self._coordinator_link()
            if link is not self.home:
                # A broker serves a member either as its coordinator or by
                # FETCH: end the fetch there, and move home before the JOIN
                # leaves, since its ASSIGNMENT reconciles against it.
                async with self._lock:
                    if link.address in self._placed:
                        await self._place(link.address, (member.generation, frozenset()))
                self.home = link
            try:
                await self._links.opened(link)
                await self._request(member.join_frame, link)
            except PrometheanError as exc:
                if exc.code != ErrorCode.NOT_OWNER or attempt == JOIN_ATTEMPTS:
                    raise
                await self._routes.refresh()
                await asyncio.sleep(JOIN_RETRY_S)
                continue
            return

    async def reconcile(self) -> None:
        async with self._lock:
            wanted = self._wanted()
            changes = [
                (address, placement)
                for address, placement in wanted.items()
                if self._placed.get(address) != placement
            ]
            changes += [
                (address, (self._member().generation, frozenset()))
                for address in self._placed
                if address not in wanted
            ]
            if changes:
                await asyncio.gather(*(self._place(a, p) for a, p in changes))

    async def tick(self) -> None:
        routes = await self._routes.refresh()
        if routes is None or routes.epoch == self._seen_epoch:
            return
        self._seen_epoch = routes.epoch
        await self.follow()

    # -- connection events ------------------------------------------------------

    async def follow(self) -> None:
        """After new routes: JOIN where the coordinator moved, else reconcile."""
        member = self._member()
        if member.stopped:
            return
        if self._coordinator_link() is not self.home:
            try:
                await self.join()
            except PrometheanError as exc:
                log.warning("JOIN at the new coordinator failed", extra={"error": str(exc)})
            return
        await self.reconcile()

    def link_lost(self, link: BrokerConnection) -> None:
        """The owner forgot this connection's fetches with it."""
        self._placed.pop(link.address, None)

    def port_for(self, link: BrokerConnection) -> SettlePort:
        """Where deliveries of ``link`` are settled (one port per address)."""
        port = self._ports.get(link.address)
        if port is None or port.link is not link:
            port = self._ports[link.address] = LinkPort(link)
        return port

    # -- internals ----------------------------------------------------------------

    def _member(self) -> PartitionedSubscription:
        if self.member is None:
            raise RuntimeError("MemberFetches used before its member was set")
        return self.member

    def _coordinator_link(self) -> BrokerConnection:
        routes = self._routes.routes
        if routes is None:
            return self._links.primary
        address = routes.owner(self._member().topic, 0)
        if address is None or address == self.home.address:
            return self.home
        return self._links.get(address)

    def _wanted(self) -> dict[str, Placement]:
        """Owner address → what to fetch there (none at the coordinator)."""
        member = self._member()
        routes = self._routes.routes
        if routes is None or member.stopped:
            return {}
        by_owner: dict[str, set[int]] = {}
        for partition in member.assigned:
            address = routes.owner(member.topic, partition)
            if address is None or address == self.home.address:
                continue
            link = self._links.get(address)
            if link is self.home:
                continue
            by_owner.setdefault(link.address, set()).add(partition)
        return {a: (member.generation, frozenset(ps)) for a, ps in by_owner.items()}

    async def _place(self, address: str, placement: Placement) -> None:
        member = self._member()
        link = self._links.known(address)
        generation, partitions = placement
        if link is None:
            self._placed.pop(address, None)
            return
        frame = bf.Fetch(
            topic=member.topic,
            group=member.group,
            member_id=member.member_id,
            generation=generation,
            partitions=sorted(partitions),
            max_inflight=member.max_inflight,
            ack_timeout_ms=member.ack_timeout_ms,
        )
        try:
            await asyncio.wait_for(self._fetch(frame, link), FETCH_TIMEOUT_S)
        except (PrometheanError, TimeoutError) as exc:
            self._placed.pop(address, None)
            code = getattr(exc, "code", "timeout")
            log.info("FETCH not placed", extra={"url": address, "code": code, "error": str(exc)})
            if code == ErrorCode.NOT_OWNER:
                self._spawn(self._refresh_and_follow(), f"bus-client-fetch:{address}")
            return
        if partitions:
            self._placed[address] = placement
        else:
            self._placed.pop(address, None)

    async def _fetch(self, frame: bf.Fetch, link: BrokerConnection) -> None:
        await self._links.opened(link)
        await self._request(lambda corr: msgspec.structs.replace(frame, corr=corr), link)

    async def _refresh_and_follow(self) -> None:
        await asyncio.sleep(JOIN_RETRY_S)
        await self._routes.refresh()
        await self.follow()
