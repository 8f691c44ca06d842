"""`WebSocketBusClient`: the async SDK over the broker protocol.

Publishes issued in the same event-loop turn leave as one ``PUBLISH_BATCH``
frame, acks as one ``ACK_BATCH``: no added latency, far fewer frames. Every
publish carries an id chosen here, so after a lost connection the client
re-sends whatever was not yet ``PUBLISHED`` and the broker stores it once.
Frames leave through one ordered `SendQueue` (so an ack issued before a NACK or
UNSUBSCRIBE reaches the broker first), written by the `WebSocketTransport`,
which also reconnects.

Once connected the client asks for ``METADATA``. A broker that does not
answer it is the only one, and the client stays on its one connection. With
several brokers the client opens one connection per partition owner it needs
(`BrokerConnection`), sends each publish to its partition's owner, subscribes
on every owner of a topic, and settles each delivery on the connection that
brought it. Connections live in `BrokerLinks`, routes in `RouteBook`; which
connection a publish takes, and where a ``not_owner`` refusal goes next
(same id), is `PublishRouter`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Final

import aiohttp
import msgspec

from promethean.client.fetches import MemberFetches
from promethean.client.links import BrokerConnection, BrokerLinks
from promethean.client.metadata import RouteBook
from promethean.client.partitioned import Hook, PartitionedSubscription
from promethean.client.publish_router import PublishRouter
from promethean.client.send_queue import PendingPublish, PublishDeadline, SendQueue, encoded_size
from promethean.client.subscription import ClientSubscription
from promethean.client.transport import ClientConfig, ClientState, WebSocketTransport
from promethean.client.types import Handler, Message, Published, Settle, SubscribeOptions
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.checks import (
    check_event_fields,
    check_filter,
    check_name,
    check_payload,
    check_topic_group,
)
from promethean.frames.codec import encode
from promethean.frames.codes import REROUTE, ErrorCode
from promethean.frames.fields import Filter
from promethean.frames.settle import SettleVerb

__all__ = ["ClientConfig", "ClientState", "WebSocketBusClient"]

log = logging.getLogger("promethean.client")

MAX_REMEMBERED_TOPICS: Final = 4096
"""Topic names already checked; the set is cleared when it grows past this."""
MSG_LOST: Final = "connection to the broker lost"
MSG_PUBLISH_TIMEOUT: Final = "publish of {id} not acknowledged within {timeout}s"
MSG_NO_REPLY: Final = "no reply to {frame} within {timeout}s"
ROUTE_WATCH_S: Final = 3.0
"""How often a client that consumes, or has publishes waiting on a lost
connection, asks for the routes: a consumer that never publishes hears no
``not_owner``, yet must subscribe on brokers that joined and fetch
partitions that moved; a publish queued for a broker that died waits for
its partition's next owner."""

_json = msgspec.json.Encoder()


class WebSocketBusClient:
    """The `BusClient` for a real broker:
    ``async with WebSocketBusClient(url, ClientConfig(token=...)) as bus: ...``"""

    def __init__(
        self,
        url: str,
        config: ClientConfig | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """``session``: an HTTP session shared by many clients of one process
        (made by `new_session` with ``connection_limit=0``; the caller closes
        it after the clients); by default each client has its own."""
        self.url = url
        self.config = config or ClientConfig()
        self._corr = itertools.count(1)
        self._epochs = itertools.count(1)
        self._primary = self._new_link(url, session)
        self._send_queue = self._primary.send_queue
        self._transport = self._primary.transport
        self._links = BrokerLinks(
            self._primary,
            make=lambda address: self._new_link(address, self._transport.session),
            spawn=self._in_background,
            on_unreachable=self._link_unreachable,
        )
        self._route_book = RouteBook(self._fetch_metadata)
        self._router = PublishRouter(self._links, self._route_book, self._refresh_then)
        self._background: set[asyncio.Task[None]] = set()
        self._requests: dict[int, tuple[asyncio.Future[Any], BrokerConnection]] = {}
        self._subs: dict[tuple[str, str], ClientSubscription] = {}
        self._sub_links: dict[tuple[str, str], set[str]] = {}
        """(topic, group) → addresses of the brokers it is subscribed on."""
        self._members: dict[str, PartitionedSubscription] = {}
        """member id → partitioned subscription."""
        self._fetches: dict[str, MemberFetches] = {}
        """member id → its coordinator connection and fetches at other owners."""
        self._publishing = 0
        """Publishes issued and not yet settled (bounded by max_pending_publishes)."""
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._turn_deadline: PublishDeadline | None = None
        # Ids: a random prefix per client and a counter, unique without
        # drawing randomness per publish.
        self._id_prefix = uuid.uuid4().hex[:16] + "-"
        self._id_counter = itertools.count(1)
        self._valid_topics: set[str] = set()

    def _new_link(self, address: str, session: aiohttp.ClientSession | None) -> BrokerConnection:
        send_queue = SendQueue(self._corr, self.config.max_frame_bytes)
        transport = WebSocketTransport(
            address,
            self.config,
            send_queue,
            on_open=lambda: self._on_open(link),
            on_frame=lambda frame: self._on_frame(link, frame),
            on_lost=lambda: self._on_lost(link),
            on_refused=lambda error: self._on_refused(link, error),
            session=session,
            epochs=self._epochs,
        )

        async def settle(message: Message, action: SettleVerb, arg: Any) -> None:
            await self._settle(link, message, action, arg)

        link = BrokerConnection(address, send_queue, transport, settle)
        return link

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> WebSocketBusClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def state(self) -> ClientState:
        return self._transport.state

    @property
    def connected(self) -> bool:
        return self._transport.connected

    @property
    def closed(self) -> bool:
        return self._transport.closed

    @property
    def brokers(self) -> list[str]:
        """Addresses of the brokers this client has a connection to."""
        return self._links.addresses

    async def connect(self) -> None:
        """Open the first connection and ask it for the routes. Raises
        `ConnectionLostError` when the broker cannot be reached,
        `PrometheanError` (code ``unauthorized``) when it refuses the token.
        Later losses are repaired in the background."""
        await self._transport.open()
        await self._route_book.refresh()
        self._in_background(self._watch_routes(), "bus-client-routes")

    async def close(self) -> None:
        """Stop every subscription (running handlers finish and ack), send
        what is queued, close. Publishes still waiting fail with
        `ConnectionLostError`."""
        for sub in list(self._subs.values()):
            await sub.shutdown(self.config.stop_grace_s)
        self._subs.clear()
        self._sub_links.clear()
        for member in list(self._members.values()):
            await member.close()
        self._members.clear()
        await self._route_book.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for link in self._links.others():
            await link.transport.close()
        await self._transport.close()

    def _in_background(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        if self.closed:
            coro.close()
            return
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- routes ------------------------------------------------------------

    async def _fetch_metadata(self) -> Any:
        return await self._request(lambda corr: bf.Metadata(corr=corr), self._links.connected_one())

    def _refresh_then(self, then: Callable[[], None], delay_s: float = 0.0) -> None:
        self._in_background(self._refresh_and(then, delay_s), "bus-client-reroute")

    async def _refresh_and(self, then: Callable[[], None], delay_s: float) -> None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        await self._route_book.refresh()
        self._prune_links()
        self._spread_subscriptions()
        for fetches in list(self._fetches.values()):
            self._in_background(fetches.follow(), "bus-client-member-follow")
        then()

    async def _watch_routes(self) -> None:
        while not self.closed:
            await asyncio.sleep(ROUTE_WATCH_S)
            if not self._links.connected_one().connected:
                continue
            stranded = [
                link
                for link in [self._primary, *self._links.others()]
                if not link.connected and link.send_queue.pending_publishes
            ]
            if self._subs or self._members or stranded:
                await self._refresh_and(functools.partial(self._move_stranded, stranded), 0.0)

    def _move_stranded(self, links: list[BrokerConnection]) -> None:
        """Publishes waiting on a connection that is down go to their
        partitions' new owners once the routes name them (a broker that
        died keeps its partitions until their leases expire, so the refresh
        on the loss itself still finds it listed)."""
        for link in links:
            self._router.move_unsent(link)

    def _prune_links(self) -> None:
        """Close the connections to brokers the routes no longer list (gone,
        or the cluster shrank to one broker); their unanswered publishes go
        to the new owners with the same ids."""
        routes = self._route_book.routes
        for link in self._links.prune(set(routes.brokers.values()) if routes else set()):
            self._forget_link(link)
            self._router.evacuate(link)
            self._in_background(link.transport.close(), f"bus-client-close:{link.address}")

    def _link_unreachable(self, link: BrokerConnection) -> None:
        self._forget_link(link)
        self._router.resend(link.send_queue.take_unsent(lambda _: False), owner=None)

    def _forget_link(self, link: BrokerConnection) -> None:
        for addresses in self._sub_links.values():
            addresses.discard(link.address)

    def _spread_subscriptions(self) -> None:
        """Subscribe on every owner of each subscribed topic not yet asked."""
        routes = self._route_book.routes
        if routes is None:
            return
        for key, sub in self._subs.items():
            subscribed = self._sub_links.setdefault(key, set())
            for address in routes.owners(sub.topic) - subscribed:
                link = self._links.get(address)
                subscribed.add(link.address)
                if link.connected:
                    link.transport.send_ordered(encode(sub.subscribe_frame(None)))

    # -- transport events --------------------------------------------------

    def _on_open(self, link: BrokerConnection) -> None:
        for key, sub in self._subs.items():
            if link.address in self._sub_links.get(key, ()):
                link.send_queue.frames.append(encode(sub.subscribe_frame(None)))
        for member_id, fetches in self._fetches.items():
            member = self._members.get(member_id)
            if member is None:
                continue
            if fetches.home is link and member.joined.is_set():
                # Back at the coordinator (the first JOIN is a request of its own).
                link.send_queue.frames.append(encode(member.join_frame(None)))
            elif self._route_book.routes is not None:
                self._in_background(fetches.reconcile(), "bus-client-member-fetch")

    def _on_lost(self, link: BrokerConnection) -> None:
        for corr, (future, via) in list(self._requests.items()):
            if via is link:
                del self._requests[corr]
                if not future.done():
                    future.set_exception(ConnectionLostError(MSG_LOST))
        for sub in self._subs.values():
            sub.drop_pending(link.transport.epoch)
        for member_id, member in self._members.items():
            member.connection_lost(link.transport.epoch)
            fetches = self._fetches.get(member_id)
            if fetches is not None:
                fetches.link_lost(link)
        if self._route_book.routes is not None and not link.transport.closed:
            self._refresh_then(lambda: self._router.move_unsent(link))

    def _on_refused(self, link: BrokerConnection, error: PrometheanError) -> None:
        if link is not self._primary:
            self._links.drop(link)
            self._forget_link(link)
            return
        for sub in self._subs.values():
            sub.end()

    def _on_frame(self, link: BrokerConnection, frame: bf.BrokerReply) -> None:
        if isinstance(frame, bf.Message):
            self._on_message(link, frame)
        elif isinstance(frame, bf.MessageBatch):
            for delivery in frame.messages:
                self._on_message(link, delivery)
        elif isinstance(frame, bf.PublishedBatch | bf.Published):
            results = frame.results if isinstance(frame, bf.PublishedBatch) else [frame]
            send_queue = link.send_queue
            if send_queue.resolve(frame.corr, results):
                link.transport.schedule_flush()
            if send_queue.rerouted:
                self._router.reroute(link, None)
        elif isinstance(frame, bf.Err):
            self._on_error(link, frame)
        elif isinstance(frame, bf.Assignment | bf.Revoke):
            member = self._members.get(frame.member_id)
            if member is not None:
                member.on_frame(frame)
            self._answer(frame)
        else:
            self._answer(frame)

    def _answer(self, frame: bf.BrokerReply) -> None:
        entry = self._requests.pop(frame.corr, None) if isinstance(frame.corr, int) else None
        if entry is not None and not entry[0].done():
            entry[0].set_result(frame)

    def _on_message(self, link: BrokerConnection, frame: bf.Message | bf.Delivery) -> None:
        sub = self._subs.get((frame.topic, frame.group))
        epoch = link.transport.epoch
        if sub is None:
            member = self._member_for(frame.topic, frame.group)
            fetches = self._fetches.get(member.member_id) if member is not None else None
            if member is not None and fetches is not None:
                settle = member.settle_on(fetches.port_for(link))
                member.offer(self._message(frame, settle, epoch))
            return  # otherwise unsubscribed meanwhile; the broker takes it back
        if not sub.offer(self._message(frame, link.settle, epoch)):
            log.error("subscription inbox full; dropping a delivery (it will be redelivered)")

    def _member_for(self, topic: str, group: str) -> PartitionedSubscription | None:
        for member in self._members.values():
            if member.topic == topic and member.group == group:
                return member
        return None

    def _message(
        self,
        frame: bf.Message | bf.Delivery,
        settle: Settle,
        epoch: int,
    ) -> Message:
        env = frame.envelope
        return Message(
            topic=frame.topic,
            group=frame.group,
            partition=frame.partition,
            offset=frame.offset,
            attempt=frame.attempt,
            id=env.id,
            ts=env.ts,
            raw_payload=bytes(env.payload),
            key=env.key,
            headers=env.headers,
            caused_by=env.caused_by,
            tags=env.tags,
            sid=env.sid,
            ack_deadline_ms=frame.ack_deadline_ms,
            epoch=epoch,
            settle=settle,
        )

    def _on_error(self, link: BrokerConnection, frame: bf.Err) -> None:
        corr = frame.corr
        if isinstance(corr, int) and link.send_queue.awaits(corr):
            loop = asyncio.get_running_loop()
            pause = link.send_queue.refuse(corr, frame, loop.time())
            if pause is not None:
                loop.call_later(pause, link.transport.schedule_flush)
            if frame.code in REROUTE:
                self._router.reroute(link, frame.owner)
            return
        entry = self._requests.pop(corr, None) if isinstance(corr, int) else None
        if entry is not None and not entry[0].done():
            entry[0].set_exception(PrometheanError(frame.msg, code=frame.code))
        else:
            log.warning("broker error", extra={"code": frame.code, "error": frame.msg})

    async def _request(
        self,
        make_frame: Callable[[int], bf.BrokerFrame],
        link: BrokerConnection | None = None,
    ) -> Any:
        """Send a frame that expects a reply (on the first connection unless
        ``link`` is given); returns the reply."""
        link = link or self._primary
        await link.transport.wait_connected()
        corr = next(self._corr)
        frame = make_frame(corr)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[corr] = (future, link)
        link.transport.send_ordered(encode(frame))
        try:
            return await asyncio.wait_for(future, self.config.request_timeout_s)
        except TimeoutError:
            self._requests.pop(corr, None)
            timeout = self.config.request_timeout_s
            error = MSG_NO_REPLY.format(frame=type(frame).__name__, timeout=timeout)
            raise ConnectionLostError(error) from None

    # -- publish -----------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        id: str | None = None,
    ) -> Published:
        """Append one event; returns once it is durable. Invalid names or
        sizes raise `FrameError` at once; after a lost connection the event
        is re-sent with the same id until ``publish_timeout_s`` passes."""
        if not self._transport.connected:
            self._transport.check_usable()
        raw = msgspec.Raw(_json.encode(payload))
        self._check_topic(topic)
        check_payload(raw, "payload")
        if id is None:
            id = self._new_id()
            if key is not None or headers is not None:
                check_event_fields("", key=key, headers=headers, id=None)
            routes = self._route_book.routes
            if routes is not None and key is None:
                id = routes.draw_routable_id(topic, id, self._new_id)
        else:
            check_event_fields("", key=key, headers=headers, id=id)
        item = bf.PublishItem(topic=topic, payload=raw, key=key, headers=headers, id=id)
        if self._publishing >= self.config.max_pending_publishes:
            await self._wait_for_slot()
        self._publishing += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Published] = loop.create_future()
        pending = PendingPublish(item, encoded_size(item), future)
        self._deadline(loop).add(pending)
        self._router.dispatch(pending)
        return await future

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):x}"

    def _check_topic(self, topic: str) -> None:
        if topic not in self._valid_topics:
            check_name(topic, "topic")
            if len(self._valid_topics) >= MAX_REMEMBERED_TOPICS:
                self._valid_topics.clear()
            self._valid_topics.add(topic)

    def _deadline(self, loop: asyncio.AbstractEventLoop) -> PublishDeadline:
        """The timer shared by every publish of this loop turn."""
        deadline = self._turn_deadline
        if deadline is None:
            deadline = PublishDeadline(
                loop, self.config.publish_timeout_s, self._publish_timed_out, self._release_slot
            )
            self._turn_deadline = deadline
            loop.call_soon(self._end_turn)
        return deadline

    def _end_turn(self) -> None:
        self._turn_deadline = None

    def _publish_timed_out(self, pending: PendingPublish) -> PrometheanError:
        timeout = self.config.publish_timeout_s
        return ConnectionLostError(MSG_PUBLISH_TIMEOUT.format(id=pending.item.id, timeout=timeout))

    async def _wait_for_slot(self) -> None:
        loop = asyncio.get_running_loop()
        while self._publishing >= self.config.max_pending_publishes:
            waiter: asyncio.Future[None] = loop.create_future()
            self._slot_waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done() or waiter.cancelled():
                    with contextlib.suppress(ValueError):
                        self._slot_waiters.remove(waiter)

    def _release_slot(self) -> None:
        self._publishing -= 1
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    # -- subscribe ---------------------------------------------------------

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler | None = None,
        *,
        options: SubscribeOptions | None = None,
        manual_ack: bool = False,
        concurrency: int = 1,
    ) -> ClientSubscription:
        """Join ``group`` on ``topic``. The subscription outlives lost
        connections: it is renewed on every reconnect."""
        check_topic_group(topic, group)
        options = options or SubscribeOptions()
        if options.filter_key is not None or options.filter_header is not None:
            check_filter(Filter(key=options.filter_key, header=options.filter_header), "filter")
        if (topic, group) in self._subs:
            raise ValueError(f"already subscribed to {topic} as {group}")
        await self._transport.wait_connected()
        sub = ClientSubscription(
            topic,
            group,
            options,
            handler=handler,
            manual_ack=manual_ack,
            concurrency=max(1, concurrency),
            inbox_size=max(options.max_inflight or 0, 100_000),
            on_stop=self._stop_subscription,
        )
        # Registered before SUBSCRIBE leaves, so no MESSAGE that follows
        # SUBSCRIBED finds it missing.
        self._subs[(topic, group)] = sub
        try:
            await asyncio.gather(
                *(self._request(sub.subscribe_frame, link) for link in self._owner_links(sub))
            )
        except ConnectionLostError:
            if self.state is ClientState.RECONNECTING:
                return sub  # renewed with the other subscriptions on reconnect
            await self._abandon(sub)
            raise
        except BaseException:
            await self._abandon(sub)
            raise
        return sub

    def _owner_links(self, sub: ClientSubscription) -> list[BrokerConnection]:
        """Record the brokers ``sub`` subscribes on (every owner of its
        topic; the first broker alone without routes) and return those
        connected now; the others subscribe it when they connect."""
        routes = self._route_book.routes
        owners = routes.owners(sub.topic) if routes is not None else set()
        links = [self._links.get(address) for address in owners] or [self._primary]
        self._sub_links[(sub.topic, sub.group)] = {link.address for link in links}
        return [link for link in links if link is self._primary or link.connected]

    async def _abandon(self, sub: ClientSubscription) -> None:
        self._subs.pop((sub.topic, sub.group), None)
        await sub.shutdown(0)
        # In case the broker did subscribe us (a reply that came too late).
        for link in self._subscribed_links(sub.topic, sub.group):
            link.transport.send_ordered(encode(bf.Unsubscribe(topic=sub.topic, group=sub.group)))

    def _subscribed_links(self, topic: str, group: str) -> list[BrokerConnection]:
        addresses = self._sub_links.pop((topic, group), {self.url})
        return [link for a in addresses if (link := self._links.known(a)) is not None]

    async def _stop_subscription(self, sub: ClientSubscription) -> None:
        await self.unsubscribe(sub.topic, sub.group)

    async def unsubscribe(self, topic: str, group: str) -> None:
        """Stop delivery: running handlers finish (and ack) first; messages
        not yet handled go back to the group."""
        sub = self._subs.pop((topic, group), None)
        if sub is None:
            return
        await sub.shutdown(self.config.stop_grace_s)
        # A lost connection forgot the subscription with it.
        links = [link for link in self._subscribed_links(topic, group) if link.connected]
        results = await asyncio.gather(
            *(
                self._request(
                    lambda corr: bf.Unsubscribe(corr=corr, topic=topic, group=group), link
                )
                for link in links
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, ConnectionLostError):
                continue
            if isinstance(result, PrometheanError) and result.code == ErrorCode.NOT_SUBSCRIBED:
                continue
            if isinstance(result, BaseException):
                raise result

    async def _settle(
        self, link: BrokerConnection, message: Message, action: SettleVerb, arg: Any
    ) -> None:
        """Settle on the connection that delivered ``message`` (its
        partition's owner)."""
        if message.epoch != link.transport.epoch or not link.connected:
            return  # that delivery died with its connection; it will come again
        if action == "ack":
            link.send_queue.add_ack(message.topic, message.group, message.partition, message.offset)
            link.transport.schedule_flush()
            return
        frame: bf.Nack | bf.Modack
        if action == "nack":
            frame = bf.Nack(
                topic=message.topic,
                group=message.group,
                partition=message.partition,
                offset=message.offset,
                reason=arg,
            )
        else:
            frame = bf.Modack(
                topic=message.topic,
                group=message.group,
                partition=message.partition,
                offset=message.offset,
                extend_ms=int(arg),
            )
        link.transport.send_ordered(encode(frame))

    # -- partitioned subscriptions -------------------------------------------

    async def subscribe_partitioned(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        instance_id: str | None = None,
        on_assigned: Hook | None = None,
        on_revoked: Hook | None = None,
        options: SubscribeOptions | None = None,
    ) -> PartitionedSubscription:
        """Join the partitioned ``group`` on ``topic``: this member gets some
        of the partitions from the broker's coordinator, runs ``handler`` one
        message at a time per partition, in offset order, acks on return
        (nacks on exception), and commits what it finished before a
        partition moves. ``instance_id`` (e.g. the pod name) makes the
        membership static: restarting within the session timeout keeps the
        partitions without a rebalance."""
        check_topic_group(topic, group)
        if self._member_for(topic, group) is not None or (topic, group) in self._subs:
            raise ValueError(f"already subscribed to {topic} as {group}")
        await self._transport.wait_connected()
        options = options or SubscribeOptions()
        member_id = uuid.uuid4().hex
        fetches = MemberFetches(
            member_id, self._links, self._route_book, self._request, self._in_background
        )
        member = PartitionedSubscription(
            topic,
            group,
            handler,
            _MemberPort(self, fetches),
            member_id=member_id,
            instance_id=instance_id,
            on_assigned=on_assigned,
            on_revoked=on_revoked,
            max_inflight=options.max_inflight,
            ack_timeout_ms=options.ack_timeout_ms,
            stop_grace_s=self.config.stop_grace_s,
            fetches=fetches,
        )
        fetches.member = member
        self._members[member_id] = member
        self._fetches[member_id] = fetches
        member.on_stop = self._forget_member
        try:
            await fetches.join()
        except BaseException:
            self._forget_member(member)
            await member.close()
            raise
        return member

    def _forget_member(self, member: PartitionedSubscription) -> None:
        self._members.pop(member.member_id, None)
        self._fetches.pop(member.member_id, None)


class _MemberPort:
    """A partitioned subscription's view of the WebSocket client: its frames
    go to the group's coordinator."""

    def __init__(self, client: WebSocketBusClient, fetches: MemberFetches) -> None:
        self._client = client
        self._fetches = fetches

    @property
    def epoch(self) -> int:
        return self._fetches.home.transport.epoch

    def send(self, frame: bf.BrokerFrame) -> None:
        self._fetches.home.transport.send_ordered(encode(frame))

    async def request(self, frame: bf.BrokerFrame) -> Any:
        return await self._client._request(
            lambda corr: msgspec.structs.replace(frame, corr=corr), self._fetches.home
        )
