"""Partitioned subscriptions on the mock broker: the real client-side
`PartitionedSubscription` and the real `Coordinator`, joined in process.

Frames the member sends are applied in order by one task per member, as a
connection would; membership frames the coordinator sends go straight to the
subscription. Lanes run as ordinary tasks, so ``await broker.drain()`` (which
yields to other tasks) lets them work. Sessions do not expire on the mock's
fake clock; members leave with ``stop()`` or when their client closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import TYPE_CHECKING, Any

from promethean.bus import AckRef, Delivery
from promethean.client.partitioned import Hook, PartitionedSubscription
from promethean.client.types import Handler, Message
from promethean.errors import PrometheanError
from promethean.frames import broker as bf

if TYPE_CHECKING:
    from promethean.client.mock.client import MockClient

log = logging.getLogger("promethean.testing")

_member_ids = itertools.count(1)

Outgoing = tuple[bf.BrokerFrame, asyncio.Future[Any] | None]


class MockMember:
    """A member's connection to the mock: engine `Consumer`, coordinator
    `MemberLink`, and the subscription's `MemberPort`."""

    def __init__(self, client: MockClient) -> None:
        self.client = client
        self._id = f"{client.uid}/member-{next(_member_ids)}"
        self.subscription: PartitionedSubscription | None = None
        self._outgoing: asyncio.Queue[Outgoing] = asyncio.Queue()
        self._worker = asyncio.create_task(self._apply_in_order(), name=self._id)

    # -- Consumer / MemberLink ----------------------------------------------

    @property
    def consumer_id(self) -> str:
        return self._id

    def deliver(self, delivery: Delivery) -> bool:
        sub = self.subscription
        if sub is None:
            return True
        plain = self.client.message_for(delivery)
        sub.offer(
            Message(
                topic=plain.topic,
                group=plain.group,
                partition=plain.partition,
                offset=plain.offset,
                attempt=plain.attempt,
                id=plain.id,
                ts=plain.ts,
                raw_payload=plain.raw_payload,
                key=plain.key,
                headers=plain.headers,
                caused_by=plain.caused_by,
                tags=plain.tags,
                sid=plain.sid,
                ack_deadline_ms=plain.ack_deadline_ms,
                epoch=plain.epoch,
                settle=sub.settle,
            )
        )
        return True

    def drop_slow(self) -> None:  # lanes are unbounded on the mock
        return None

    def send_membership(self, frame: bf.Assignment | bf.Revoke) -> None:
        if self.subscription is not None:
            self.subscription.on_frame(frame)

    # -- MemberPort ------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self.client.epoch

    def send(self, frame: bf.BrokerFrame) -> None:
        self._outgoing.put_nowait((frame, None))

    async def request(self, frame: bf.BrokerFrame) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outgoing.put_nowait((frame, future))
        return await future

    async def _apply_in_order(self) -> None:
        while True:
            frame, future = await self._outgoing.get()
            try:
                result = await self._apply(frame)
            except PrometheanError as err:
                if future is not None and not future.done():
                    future.set_exception(err)
                else:
                    log.warning("mock broker refused %s: %s", type(frame).__name__, err)
            except Exception as err:  # a mock must report, not hang its caller
                log.exception("mock member frame failed")
                if future is not None and not future.done():
                    future.set_exception(err)
            else:
                if future is not None and not future.done():
                    future.set_result(result)

    async def _apply(self, frame: bf.BrokerFrame) -> Any:
        broker = self.client.broker
        coordinator = broker.coordinator
        engine = broker.engine
        match frame:
            case bf.AckBatch():
                for partition, offset in frame.items:
                    coordinator.check_settle(
                        self._id, frame.topic, frame.group, partition, frame.generation
                    )
                    engine.ack(AckRef(frame.topic, frame.group, partition, offset))
            case bf.Nack():
                coordinator.check_settle(
                    self._id, frame.topic, frame.group, frame.partition, frame.generation
                )
                ref = AckRef(frame.topic, frame.group, frame.partition, frame.offset)
                await engine.nack(ref, frame.reason)
            case bf.Modack():
                coordinator.check_settle(
                    self._id, frame.topic, frame.group, frame.partition, frame.generation
                )
                ref = AckRef(frame.topic, frame.group, frame.partition, frame.offset)
                engine.modack(ref, frame.extend_ms)
            case bf.Join():
                await coordinator.join(self, frame)
            case bf.Heartbeat():
                await coordinator.heartbeat(self, frame)
            case bf.Revoked():
                await coordinator.revoked(self, frame)
            case bf.Leave():
                await coordinator.leave(self, frame)
        broker.activity += 1
        await broker.pump()
        return bf.Ok(corr=frame.corr)

    async def close(self) -> None:
        if self.subscription is not None:
            await self.subscription.close()
        # A PING behind them: everything sent before has been applied.
        with contextlib.suppress(PrometheanError):
            await self.request(bf.Ping())
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        await self.client.broker.coordinator.link_lost(self)


async def subscribe_partitioned(
    client: MockClient,
    topic: str,
    group: str,
    handler: Handler,
    *,
    instance_id: str | None,
    on_assigned: Hook | None,
    on_revoked: Hook | None,
) -> PartitionedSubscription:
    member = MockMember(client)
    sub = PartitionedSubscription(
        topic,
        group,
        handler,
        member,
        member_id=member.consumer_id,
        instance_id=instance_id,
        on_assigned=on_assigned,
        on_revoked=on_revoked,
    )
    member.subscription = sub
    await member.request(sub.join_frame(None))
    await asyncio.sleep(0)
    return sub
