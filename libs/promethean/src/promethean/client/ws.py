"""`WebSocketBusClient`: the async SDK over the broker protocol.

Publishes issued in the same event-loop turn leave as one ``PUBLISH_BATCH``
frame, acks as one ``ACK_BATCH``: no added latency, far fewer frames. Every
publish carries an id chosen here, so after a lost connection the client
re-sends whatever was not yet ``PUBLISHED`` and the broker stores it once.
Frames leave through one ordered `SendQueue` (so an ack issued before a NACK or
UNSUBSCRIBE reaches the broker first), written by the `WebSocketTransport`,
which also reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import aiohttp
import msgspec

from promethean.client.partitioned import Hook, PartitionedSubscription
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
from promethean.frames.codes import ErrorCode
from promethean.frames.fields import Filter

__all__ = ["ClientConfig", "ClientState", "WebSocketBusClient"]

log = logging.getLogger("promethean.client")

MAX_REMEMBERED_TOPICS: Final = 4096
"""Topic names already checked; the set is cleared when it grows past this."""
MSG_LOST: Final = "connection to the broker lost"
MSG_PUBLISH_TIMEOUT: Final = "publish of {id} not acknowledged within {timeout}s"
MSG_NO_REPLY: Final = "no reply to {frame} within {timeout}s"

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
        self._send_queue = SendQueue(self._corr, self.config.max_frame_bytes)
        self._transport = WebSocketTransport(
            url,
            self.config,
            self._send_queue,
            on_open=self._on_open,
            on_frame=self._on_frame,
            on_lost=self._on_lost,
            on_refused=self._on_refused,
            session=session,
        )
        self._requests: dict[int, asyncio.Future[Any]] = {}
        self._subs: dict[tuple[str, str], ClientSubscription] = {}
        self._members: dict[str, PartitionedSubscription] = {}
        """member id → partitioned subscription."""
        self._publishing = 0
        """Publishes issued and not yet settled (bounded by max_pending_publishes)."""
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._turn_deadline: PublishDeadline | None = None
        # Ids: a random prefix per client and a counter, unique without
        # drawing randomness per publish.
        self._id_prefix = uuid.uuid4().hex[:16] + "-"
        self._id_counter = itertools.count(1)
        self._valid_topics: set[str] = set()

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

    async def connect(self) -> None:
        """Open the first connection. Raises `ConnectionLostError` when the
        broker cannot be reached, `PrometheanError` (code ``unauthorized``)
        when it refuses the token. Later losses are repaired in the background."""
        await self._transport.open()

    async def close(self) -> None:
        """Stop every subscription (running handlers finish and ack), send
        what is queued, close. Publishes still waiting fail with
        `ConnectionLostError`."""
        for sub in list(self._subs.values()):
            await sub.shutdown(self.config.stop_grace_s)
        self._subs.clear()
        for member in list(self._members.values()):
            await member.close()
        self._members.clear()
        await self._transport.close()

    # -- transport events --------------------------------------------------

    def _on_open(self) -> None:
        for sub in self._subs.values():
            self._send_queue.frames.append(encode(sub.subscribe_frame(None)))
        for member in self._members.values():
            self._send_queue.frames.append(encode(member.join_frame(None)))

    def _on_lost(self) -> None:
        for future in self._requests.values():
            if not future.done():
                future.set_exception(ConnectionLostError(MSG_LOST))
        self._requests.clear()
        for sub in self._subs.values():
            sub.drop_pending(self._transport.epoch + 1)
        for member in self._members.values():
            member.connection_lost()

    def _on_refused(self, error: PrometheanError) -> None:
        for sub in self._subs.values():
            sub.end()

    def _on_frame(self, frame: bf.BrokerReply) -> None:
        if isinstance(frame, bf.Message):
            self._on_message(frame)
        elif isinstance(frame, bf.MessageBatch):
            for delivery in frame.messages:
                self._on_message(delivery)
        elif isinstance(frame, bf.PublishedBatch | bf.Published):
            results = frame.results if isinstance(frame, bf.PublishedBatch) else [frame]
            if self._send_queue.resolve(frame.corr, results):
                self._transport.schedule_flush()
        elif isinstance(frame, bf.Err):
            self._on_error(frame)
        elif isinstance(frame, bf.Assignment | bf.Revoke):
            member = self._members.get(frame.member_id)
            if member is not None:
                member.on_frame(frame)
            future = self._requests.pop(frame.corr, None) if isinstance(frame.corr, int) else None
            if future is not None and not future.done():
                future.set_result(frame)
        else:
            future = self._requests.pop(frame.corr, None) if isinstance(frame.corr, int) else None
            if future is not None and not future.done():
                future.set_result(frame)

    def _on_message(self, frame: bf.Message | bf.Delivery) -> None:
        sub = self._subs.get((frame.topic, frame.group))
        if sub is None:
            member = self._member_for(frame.topic, frame.group)
            if member is not None:
                member.offer(self._message(frame, member.settle))
            return  # otherwise unsubscribed meanwhile; the broker takes it back
        if not sub.offer(self._message(frame, self._settle)):
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
            epoch=self._transport.epoch,
            settle=settle,
        )

    def _on_error(self, frame: bf.Err) -> None:
        corr = frame.corr
        if isinstance(corr, int) and self._send_queue.awaits(corr):
            loop = asyncio.get_running_loop()
            pause = self._send_queue.refuse(corr, frame, loop.time())
            if pause is not None:
                loop.call_later(pause, self._transport.schedule_flush)
            return
        future = self._requests.pop(corr, None) if isinstance(corr, int) else None
        if future is not None and not future.done():
            future.set_exception(PrometheanError(frame.msg, code=frame.code))
        else:
            log.warning("broker error", extra={"code": frame.code, "error": frame.msg})

    async def _request(self, make_frame: Callable[[int], bf.BrokerFrame]) -> Any:
        """Send a frame that expects a reply; returns the reply."""
        await self._transport.wait_connected()
        corr = next(self._corr)
        frame = make_frame(corr)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[corr] = future
        self._transport.send_ordered(encode(frame))
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
            id = f"{self._id_prefix}{next(self._id_counter):x}"
            if key is not None or headers is not None:
                check_event_fields("", key=key, headers=headers, id=None)
        else:
            check_event_fields("", key=key, headers=headers, id=id)
        item = bf.PublishItem(topic=topic, payload=raw, key=key, headers=headers, id=id)
        if self._publishing >= self.config.max_pending_publishes:
            await self._wait_for_slot()
        self._publishing += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Published] = loop.create_future()
        pending = PendingPublish(item, encoded_size(item), future)
        self._send_queue.add_publish(pending)
        self._deadline(loop).add(pending)
        self._transport.schedule_flush()
        return await future

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
            await self._request(sub.subscribe_frame)
        except ConnectionLostError:
            if self.state is ClientState.RECONNECTING:
                return sub  # renewed with the other subscriptions on reconnect
            await self._abandon(sub)
            raise
        except BaseException:
            await self._abandon(sub)
            raise
        return sub

    async def _abandon(self, sub: ClientSubscription) -> None:
        self._subs.pop((sub.topic, sub.group), None)
        await sub.shutdown(0)
        # In case the broker did subscribe us (a reply that came too late).
        self._transport.send_ordered(encode(bf.Unsubscribe(topic=sub.topic, group=sub.group)))

    async def _stop_subscription(self, sub: ClientSubscription) -> None:
        await self.unsubscribe(sub.topic, sub.group)

    async def unsubscribe(self, topic: str, group: str) -> None:
        """Stop delivery: running handlers finish (and ack) first; messages
        not yet handled go back to the group."""
        sub = self._subs.pop((topic, group), None)
        if sub is None:
            return
        await sub.shutdown(self.config.stop_grace_s)
        if not self.connected:
            return  # the broker forgot the subscription with the connection
        try:
            await self._request(lambda corr: bf.Unsubscribe(corr=corr, topic=topic, group=group))
        except ConnectionLostError:
            pass
        except PrometheanError as exc:
            if exc.code != ErrorCode.NOT_SUBSCRIBED:
                raise

    async def _settle(self, message: Message, action: str, arg: Any) -> None:
        if message.epoch != self._transport.epoch or not self.connected:
            return  # that delivery died with its connection; it will come again
        if action == "ack":
            self._send_queue.add_ack(
                message.topic, message.group, message.partition, message.offset
            )
            self._transport.schedule_flush()
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
        self._transport.send_ordered(encode(frame))

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
        member = PartitionedSubscription(
            topic,
            group,
            handler,
            _MemberPort(self),
            member_id=uuid.uuid4().hex,
            instance_id=instance_id,
            on_assigned=on_assigned,
            on_revoked=on_revoked,
            max_inflight=options.max_inflight,
            ack_timeout_ms=options.ack_timeout_ms,
            stop_grace_s=self.config.stop_grace_s,
        )
        self._members[member.member_id] = member
        member.on_stop = self._forget_member
        try:
            await self._request(member.join_frame)
        except BaseException:
            self._members.pop(member.member_id, None)
            await member.close()
            raise
        return member

    def _forget_member(self, member: PartitionedSubscription) -> None:
        self._members.pop(member.member_id, None)


class _MemberPort:
    """A partitioned subscription's view of the WebSocket client."""

    def __init__(self, client: WebSocketBusClient) -> None:
        self._client = client

    @property
    def epoch(self) -> int:
        return self._client._transport.epoch

    def send(self, frame: bf.BrokerFrame) -> None:
        self._client._transport.send_ordered(encode(frame))

    async def request(self, frame: bf.BrokerFrame) -> Any:
        return await self._client._request(lambda corr: msgspec.structs.replace(frame, corr=corr))
