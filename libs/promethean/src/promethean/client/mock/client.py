"""`MockClient`: one connection to an `InMemoryBroker`, implementing `BusClient`.

It behaves as the WebSocket client does where code can tell: ids are chosen
client-side, requests are validated by the broker protocol's codec, a second
subscription to one (topic, group) raises ``ValueError``, handler errors
become nacks, and acks of deliveries that died with a lost connection are
silently ignored. Unlike the real client it never reconnects by itself:
after ``disconnect_now()`` calls raise `ConnectionLostError` until
``reconnect()``.
"""

from __future__ import annotations

import enum
import logging
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from promethean.bus import AckRef, Delivery, PublishRequest
from promethean.client.mock.config import Overflow
from promethean.client.mock.faults import FaultAction, FaultStage, FaultTarget
from promethean.client.mock.partitioned import MockMember, subscribe_partitioned
from promethean.client.mock.record import EventKind, is_internal_group
from promethean.client.mock.subscription import MockSubscription
from promethean.client.mock.validation import (
    check_modack,
    check_nack,
    check_publish,
    check_subscribe,
)
from promethean.client.partitioned import PartitionedSubscription
from promethean.client.port import PartitionHook
from promethean.client.types import Handler, Message, Published, SubscribeOptions
from promethean.errors import ConnectionLostError, PrometheanError

if TYPE_CHECKING:
    from promethean.client.mock.broker import InMemoryBroker

log = logging.getLogger("promethean.testing")

_json = msgspec.json.Encoder()

CLIENT_CLOSED = "client closed"
CONNECTION_LOST = "connection to the mock broker lost (disconnect fault); call reconnect()"
REPLY_LOST = "publish of {id} not acknowledged: the acknowledgement was lost (drop fault)"


class ConnectionState(enum.Enum):
    CONNECTED = "connected"
    LOST = "lost"
    CLOSED = "closed"


class MockClient:
    def __init__(
        self, broker: InMemoryBroker, name: str, *, uid: str, internal: bool = False
    ) -> None:
        self.broker = broker
        self.name = name
        self.uid = uid
        """Unique within the broker (names are the caller's and may repeat)."""
        self.internal = internal
        self.state = ConnectionState.CONNECTED
        self.epoch = 1
        self._subs: dict[tuple[str, str], MockSubscription] = {}
        self._members: list[MockMember] = []
        self._ops_before_loss: int | None = None

    def __repr__(self) -> str:
        return f"MockClient({self.name!r}, {self.state.value}, subscriptions={len(self._subs)})"

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    @property
    def subscriptions(self) -> list[MockSubscription]:
        return list(self._subs.values())

    async def __aenter__(self) -> MockClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- BusClient ---------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        id: str | None = None,
    ) -> Published:
        await self._begin()
        broker = self.broker
        raw = _json.encode(payload)
        event_id = id if id is not None else uuid.uuid4().hex
        check_publish(topic, raw, key, headers, event_id)
        fault = broker.faults.match(
            FaultTarget(FaultStage.PUBLISH, topic, event_id, raw, key, headers)
        )
        if fault is not None and fault.action is FaultAction.ERROR:
            error = fault.publish_error()
            broker.recorder.log(
                EventKind.PUBLISH_FAILED, topic=topic, id=event_id, detail=str(error)
            )
            raise error
        request = PublishRequest(topic=topic, payload=raw, key=key, headers=headers, id=event_id)
        [result] = await broker.engine.publish([request])
        kind = EventKind.DUPLICATE if result.duplicate else EventKind.PUBLISHED
        if result.duplicate:
            broker.recorder.counters.duplicates += 1
        else:
            broker.recorder.counters.published += 1
        broker.recorder.log(
            kind, topic=topic, partition=result.partition, offset=result.offset, id=result.id
        )
        await broker.pump()
        if fault is not None and fault.action is FaultAction.DROP:
            broker.recorder.counters.dropped += 1
            broker.recorder.log(
                EventKind.DROPPED, topic=topic, id=event_id, detail="publish acknowledgement lost"
            )
            raise ConnectionLostError(REPLY_LOST.format(id=event_id))
        if fault is not None and fault.action is FaultAction.DELAY:
            await broker.transport.hold_reply(self, fault.delay_ms)
        return Published(topic, result.partition, result.offset, result.id, result.duplicate)

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler | None = None,
        *,
        options: SubscribeOptions | None = None,
        manual_ack: bool = False,
        concurrency: int = 1,
        buffer_size: int | None = None,
        overflow: Overflow | str | None = None,
    ) -> MockSubscription:
        """As `BusClient.subscribe`; ``buffer_size`` and ``overflow`` override
        the broker's defaults for this subscriber. Handlers run one message
        at a time whatever ``concurrency`` says, so runs are repeatable."""
        await self._begin()
        if (topic, group) in self._subs:
            raise ValueError(f"already subscribed to {topic} as {group}")
        options = options or SubscribeOptions()
        frame = check_subscribe(topic, group, options)
        config = self.broker.config
        size = config.buffer_size if buffer_size is None else buffer_size
        if size < 1:
            raise ValueError(f"buffer_size must be at least 1, got {size}")
        sub = MockSubscription(
            self,
            frame,
            options,
            handler=handler,
            manual_ack=manual_ack,
            buffer_size=size,
            overflow=Overflow(overflow or config.overflow),
        )
        self._subs[(topic, group)] = sub
        try:
            await sub.attach()
        except BaseException:
            self._subs.pop((topic, group), None)
            sub.shutdown()
            raise
        if not self.internal:
            self.broker.recorder.log(EventKind.SUBSCRIBED, topic=topic, group=group)
        await self.broker.pump()
        return sub

    async def subscribe_partitioned(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        instance_id: str | None = None,
        on_assigned: PartitionHook | None = None,
        on_revoked: PartitionHook | None = None,
    ) -> PartitionedSubscription:
        """As `BusClient.subscribe_partitioned`, with the broker's own
        coordinator (see `promethean.client.mock.partitioned`)."""
        await self._begin()
        check_subscribe(topic, group, SubscribeOptions())
        sub = await subscribe_partitioned(
            self,
            topic,
            group,
            handler,
            instance_id=instance_id,
            on_assigned=on_assigned,
            on_revoked=on_revoked,
        )
        member = sub.port
        if isinstance(member, MockMember):
            self._members.append(member)
        return sub

    async def unsubscribe(self, topic: str, group: str) -> None:
        sub = self._subs.pop((topic, group), None)
        if sub is None:
            return
        sub.shutdown()
        self.broker.activity += 1
        if self.connected:
            await self.broker.engine.unsubscribe(sub.consumer_id, topic, group)
        if not self.internal:
            self.broker.recorder.log(EventKind.UNSUBSCRIBED, topic=topic, group=group)
        await self.broker.pump()

    async def close(self) -> None:
        if self.state is ConnectionState.CLOSED:
            return
        was_connected = self.connected
        self.state = ConnectionState.CLOSED
        subs = list(self._subs.values())
        self._subs.clear()
        for sub in subs:
            sub.shutdown()
        for member in self._members:
            await member.close()
        self._members.clear()
        self.broker.transport.fail_replies(self, CLIENT_CLOSED)
        self.broker.forget(self)
        if was_connected and self.broker.is_open:
            for sub in subs:
                await self.broker.engine.release_consumer(sub.consumer_id, "closed")
            await self.broker.pump()

    # -- connection faults -------------------------------------------------

    async def disconnect_now(self) -> None:
        """Lose the connection: buffered deliveries are gone, the broker gives
        in-flight work back to the groups, and calls raise `ConnectionLostError`."""
        if not self.connected:
            return
        self.state = ConnectionState.LOST
        self.epoch += 1
        self._ops_before_loss = None
        for sub in self._subs.values():
            sub.connection_lost()
        self.broker.transport.fail_replies(self, CONNECTION_LOST)
        for sub in self._subs.values():
            await self.broker.engine.release_consumer(sub.consumer_id, "disconnected")
        self.broker.recorder.log(EventKind.DISCONNECTED, detail=self.name)
        self.broker.activity += 1
        await self.broker.pump()

    def disconnect_after(self, operations: int) -> None:
        """Let ``operations`` more publish/subscribe calls succeed; the next
        one loses the connection and raises `ConnectionLostError`."""
        if operations < 0:
            raise ValueError("disconnect_after needs a count >= 0")
        self._ops_before_loss = operations

    async def reconnect(self) -> None:
        """Come back as the real client does: every subscription joins again."""
        if self.state is ConnectionState.CLOSED:
            raise ConnectionLostError(CLIENT_CLOSED)
        if self.connected:
            return
        self.state = ConnectionState.CONNECTED
        for sub in self._subs.values():
            await sub.attach()
        self.broker.recorder.log(EventKind.RECONNECTED, detail=self.name)
        self.broker.activity += 1
        await self.broker.pump()

    async def _begin(self) -> None:
        if self.state is ConnectionState.CLOSED:
            raise ConnectionLostError(CLIENT_CLOSED)
        if self.state is ConnectionState.LOST:
            raise ConnectionLostError(CONNECTION_LOST)
        await self.broker.ensure_open()
        if self._ops_before_loss is not None:
            if self._ops_before_loss == 0:
                await self.disconnect_now()
                raise ConnectionLostError(CONNECTION_LOST)
            self._ops_before_loss -= 1
        self.broker.activity += 1

    # -- deliveries --------------------------------------------------------

    def message_for(self, delivery: Delivery) -> Message:
        event = delivery.event
        return Message(
            topic=event.topic,
            group=delivery.group,
            partition=event.partition,
            offset=event.offset,
            attempt=delivery.attempt,
            id=event.id,
            ts=event.ts,
            raw_payload=event.payload,
            # Copies: the real client decodes fresh containers from each frame.
            key=event.key,
            headers=dict(event.headers) if event.headers is not None else None,
            caused_by=list(event.caused_by) if event.caused_by is not None else None,
            tags=list(event.tags) if event.tags is not None else None,
            sid=event.sid,
            ack_deadline_ms=delivery.ack_deadline_ms,
            epoch=self.epoch,
            settle=self._settle,
        )

    async def _settle(self, message: Message, action: str, arg: Any) -> None:
        broker = self.broker
        recorder = broker.recorder
        if not self.connected or message.epoch != self.epoch:
            # As the real client: that delivery died with its connection.
            recorder.log_message(EventKind.IGNORED, message, action)
            return
        broker.activity += 1
        ref = AckRef(message.topic, message.group, message.partition, message.offset)
        counted = not is_internal_group(message.group)
        try:
            if action == "ack":
                if broker.engine.ack(ref) and counted:
                    recorder.counters.acked += 1
                    recorder.log_message(EventKind.ACKED, message)
            elif action == "nack":
                check_nack(ref.topic, ref.group, ref.partition, ref.offset, arg)
                if counted:
                    recorder.counters.nacked += 1
                    recorder.log_message(EventKind.NACKED, message, arg)
                await broker.engine.nack(ref, arg)
            else:
                extend_ms = int(arg)
                check_modack(ref.topic, ref.group, ref.partition, ref.offset, extend_ms)
                broker.engine.modack(ref, extend_ms)
                recorder.log_message(EventKind.MODACKED, message, str(extend_ms))
        except PrometheanError as err:
            # The real client learns of this from an ERR frame and logs it.
            log.warning("broker refused %s: %s", action, err, extra={"code": err.code})
            recorder.log_message(EventKind.REFUSED, message, f"{action}: {err.code}: {err.msg}")
            return
        await broker.pump()
