"""A partitioned subscription: this member owns some partitions of a topic
in a group, handed out by the broker's coordinator (docs/protocol.md, "Group
membership").

Each owned partition has a lane that runs the handler one message at a time,
in delivery (offset) order. On ``REVOKE`` the lanes of the moving partitions
drop what they have not started, let the running handler finish (it acks),
send the acks, run ``on_revoked`` and confirm with ``REVOKED``; only then does
the broker give the partitions to their new owner. Transport-free: the
WebSocket client and the mock broker give it a `MemberPort`.

With several brokers the WebSocket client also gives it `OwnerFetches`:
deliveries then come from each partition's owner (``FETCH``), each message
is settled on the connection that delivered it, and the member follows its
coordinator when that moves (docs/protocol.md, "Fetching from each
partition's owner").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from promethean.client.process_span import process_span
from promethean.client.types import Handler, Message, Settle
from promethean.errors import PrometheanError
from promethean.frames import broker as bf
from promethean.frames.settle import SettleVerb

log = logging.getLogger("promethean.client.partitioned")

Hook = Callable[[set[int]], Awaitable[None]]
DEFAULT_HEARTBEAT_MS: Final = 3_000
MAX_NACK_REASON_CHARS: Final = 512


class MemberPort(Protocol):
    """What a partitioned subscription needs from its transport."""

    def send(self, frame: bf.BrokerFrame) -> None:
        """Queue a frame behind every ack sent before it (no reply awaited)."""
        ...

    async def request(self, frame: bf.BrokerFrame) -> Any:
        """Send a frame with a fresh ``corr`` and return the reply (raises
        `PrometheanError` on ``ERR``)."""
        ...

    @property
    def epoch(self) -> int:
        """Connection number: messages of an older one can no longer be settled."""
        ...


class SettlePort(Protocol):
    """A connection that settles the messages it delivered."""

    def send(self, frame: bf.BrokerFrame) -> None: ...


class OwnerFetches(Protocol):
    """Where a member's partitions come from when several brokers own them."""

    def live(self, epoch: int) -> bool:
        """Whether the connection ``epoch`` names is still open."""
        ...

    @property
    def home_connected(self) -> bool:
        """Whether the connection to the group's coordinator is open."""
        ...

    async def join(self) -> None:
        """JOIN at the group's coordinator (found through the routes)."""
        ...

    async def reconcile(self) -> None:
        """FETCH the assigned partitions from their owners where that differs
        from what is in place; returns once the owners confirmed."""
        ...

    async def tick(self) -> None:
        """Refresh the routes; follow the coordinator and the owners if they moved."""
        ...


class _Lane:
    """One partition: messages handled one at a time, in arrival order."""

    def __init__(self, partition: int, run: Callable[[Message], Awaitable[None]]) -> None:
        self.partition = partition
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.ready = asyncio.Event()
        self.closing = False
        self._run = run
        self.task = asyncio.create_task(self._loop(), name=f"partition:{partition}")

    async def _loop(self) -> None:
        await self.ready.wait()
        while True:
            message = await self.queue.get()
            if self.closing:
                return
            await self._run(message)

    async def close(self, grace_s: float | None) -> None:
        """Drop what has not started; let the running handler finish."""
        self.closing = True
        while not self.queue.empty():
            self.queue.get_nowait()
        if not self.ready.is_set():
            self.task.cancel()
        self.queue.put_nowait(_STOP)  # wakes an idle loop, which sees `closing`
        done, _ = await asyncio.wait([self.task], timeout=grace_s)
        if not done:
            self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


_STOP: Any = object()


class PartitionedSubscription:
    """Returned by ``subscribe_partitioned``; ``assigned`` and ``generation``
    follow the coordinator, ``stop()`` leaves the group."""

    def __init__(
        self,
        topic: str,
        group: str,
        handler: Handler,
        port: MemberPort,
        *,
        member_id: str,
        instance_id: str | None = None,
        on_assigned: Hook | None = None,
        on_revoked: Hook | None = None,
        max_inflight: int | None = None,
        ack_timeout_ms: int | None = None,
        stop_grace_s: float = 10.0,
        fetches: OwnerFetches | None = None,
    ) -> None:
        self.topic = topic
        self.group = group
        self.member_id = member_id
        self.instance_id = instance_id
        self.handler = handler
        self.assigned: frozenset[int] = frozenset()
        self.generation = 0
        self.stopped = False
        self.port = port
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._max_inflight = max_inflight
        self._ack_timeout_ms = ack_timeout_ms
        self._grace_s = stop_grace_s
        self._fetches = fetches
        self._lanes: dict[int, _Lane] = {}
        self._acks: dict[SettlePort, list[tuple[int, int]]] = {}
        self._settlers: dict[SettlePort, Settle] = {}
        self._ack_flush: asyncio.Handle | None = None
        self._control: asyncio.Queue[bf.Assignment | bf.Revoke] = asyncio.Queue()
        self._control_task = asyncio.create_task(self._control_loop(), name=f"member:{group}")
        self._heartbeat_ms = DEFAULT_HEARTBEAT_MS
        self._heartbeat_task = asyncio.create_task(self._heartbeats(), name=f"hb:{group}")
        self.joined = asyncio.Event()
        self.on_stop: Callable[[PartitionedSubscription], None] | None = None

    @property
    def max_inflight(self) -> int | None:
        return self._max_inflight

    @property
    def ack_timeout_ms(self) -> int | None:
        return self._ack_timeout_ms

    # -- frames from the broker ----------------------------------------------

    def join_frame(self, corr: int | None) -> bf.Join:
        return bf.Join(
            corr=corr,
            group=self.group,
            topics=[self.topic],
            member_id=self.member_id,
            instance_id=self.instance_id,
            max_inflight=self._max_inflight,
            ack_timeout_ms=self._ack_timeout_ms,
        )

    def on_frame(self, frame: bf.Assignment | bf.Revoke) -> None:
        if self.stopped:
            return
        if isinstance(frame, bf.Revoke):
            # Stop taking the moving partitions at once.
            for partition in frame.partitions.get(self.topic, ()):
                lane = self._lanes.get(partition)
                if lane is not None:
                    lane.closing = True
        self._control.put_nowait(frame)

    def offer(self, message: Message) -> None:
        if self.stopped:
            return  # the broker takes it back
        lane = self._lanes.get(message.partition)
        if lane is None:
            lane = self._lanes[message.partition] = _Lane(message.partition, self._handle)
            if message.partition in self.assigned:
                lane.ready.set()
        if not lane.closing:
            lane.queue.put_nowait(message)

    def connection_lost(self, epoch: int | None = None) -> None:
        """Deliveries of the lost connection ``epoch`` (of every connection
        when None) come again; drop the queued ones."""
        for lane in self._lanes.values():
            kept = []
            while not lane.queue.empty():
                message = lane.queue.get_nowait()
                if epoch is not None and message.epoch != epoch:
                    kept.append(message)
            for message in kept:
                lane.queue.put_nowait(message)
        if epoch is None:
            self._acks.clear()

    def _live(self, epoch: int) -> bool:
        if self._fetches is not None:
            return self._fetches.live(epoch)
        return epoch == self.port.epoch

    # -- processing ----------------------------------------------------------

    async def _handle(self, message: Message) -> None:
        if not self._live(message.epoch):
            return  # its connection is gone; it will be redelivered
        try:
            with process_span(message):
                await self.handler(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "handler failed",
                extra={
                    "topic": message.topic,
                    "partition": message.partition,
                    "offset": message.offset,
                    "error": repr(exc),
                },
            )
            await message.nack(f"{type(exc).__name__}: {exc}"[:MAX_NACK_REASON_CHARS])
            return
        await message.ack()

    async def settle(self, message: Message, action: SettleVerb, arg: Any) -> None:
        """The `Message` settle callback of deliveries on the member's own
        connection: acks leave batched, with the generation."""
        await self._settle_on(self.port, message, action, arg)

    def settle_on(self, via: SettlePort) -> Settle:
        """The settle callback of deliveries that came on ``via``."""
        settler = self._settlers.get(via)
        if settler is None:

            async def settler(message: Message, action: SettleVerb, arg: Any) -> None:
                await self._settle_on(via, message, action, arg)

            self._settlers[via] = settler
        return settler

    async def _settle_on(
        self, via: SettlePort, message: Message, action: SettleVerb, arg: Any
    ) -> None:
        if not self._live(message.epoch):
            return
        if action is SettleVerb.ACK:
            self._acks.setdefault(via, []).append((message.partition, message.offset))
            if self._ack_flush is None:
                self._ack_flush = asyncio.get_running_loop().call_soon(self.flush_acks)
            return
        self.flush_acks()
        topic, group, partition, offset = (
            message.topic,
            message.group,
            message.partition,
            message.offset,
        )
        frame: bf.Nack | bf.Modack
        if action is SettleVerb.NACK:
            frame = bf.Nack(
                topic=topic,
                group=group,
                partition=partition,
                offset=offset,
                generation=self.generation,
                reason=arg,
            )
        else:
            frame = bf.Modack(
                topic=topic,
                group=group,
                partition=partition,
                offset=offset,
                generation=self.generation,
                extend_ms=int(arg),
            )
        via.send(frame)

    def flush_acks(self) -> None:
        if self._ack_flush is not None:
            self._ack_flush.cancel()
            self._ack_flush = None
        pending, self._acks = self._acks, {}
        for via, items in pending.items():
            via.send(
                bf.AckBatch(
                    topic=self.topic, group=self.group, items=items, generation=self.generation
                )
            )

    # -- assignment changes ----------------------------------------------------

    async def _control_loop(self) -> None:
        while True:
            frame = await self._control.get()
            try:
                if isinstance(frame, bf.Revoke):
                    await self._revoke(frame)
                else:
                    await self._assign(frame)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("assignment change failed", extra={"group": self.group})

    async def _assign(self, frame: bf.Assignment) -> None:
        self.generation = max(self.generation, frame.generation)
        if frame.heartbeat_ms:
            self._heartbeat_ms = frame.heartbeat_ms
        now = set(frame.partitions.get(self.topic, ()))
        pending = set((frame.revoke or {}).get(self.topic, ()))
        lost = set(self.assigned) - now - pending
        if lost:
            # Taken without a REVOKE (we were fenced or reconnected late).
            await self._release(lost)
        gained = now - set(self.assigned)
        if gained:
            self.assigned = self.assigned | frozenset(gained)
            if self._on_assigned is not None:
                await self._on_assigned(set(gained))
            for partition in gained:
                lane = self._lanes.get(partition)
                if lane is None or lane.closing:
                    lane = self._lanes[partition] = _Lane(partition, self._handle)
                lane.ready.set()
        self.joined.set()
        if self._fetches is not None:
            await self._fetches.reconcile()

    async def _revoke(self, frame: bf.Revoke) -> None:
        moving = set(frame.partitions.get(self.topic, ()))
        await self._release(moving & set(self.assigned), closing=moving)
        self.generation = max(self.generation, frame.generation)
        if self._fetches is not None:
            # Each owner has the acks before the member confirms.
            await self._fetches.reconcile()
        self.port.send(
            bf.Revoked(
                group=self.group,
                member_id=self.member_id,
                generation=frame.generation,
                partitions={self.topic: sorted(moving)},
            )
        )

    async def _release(self, partitions: set[int], closing: set[int] | None = None) -> None:
        """Finish the running handlers of ``partitions``, send their acks, run
        ``on_revoked``."""
        lanes = [self._lanes.pop(p) for p in sorted(closing or partitions) if p in self._lanes]
        await asyncio.gather(*(lane.close(self._grace_s) for lane in lanes))
        self.assigned = self.assigned - frozenset(partitions)
        self.flush_acks()
        if partitions and self._on_revoked is not None:
            await self._on_revoked(set(partitions))

    # -- liveness and leaving --------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_ms / 1000)
            if not self.joined.is_set():
                continue
            fetches = self._fetches
            if fetches is not None:
                await fetches.tick()
                if not fetches.home_connected:
                    continue
            frame = bf.Heartbeat(
                group=self.group, member_id=self.member_id, generation=self.generation
            )
            try:
                await self.port.request(frame)
            except PrometheanError as exc:
                await self._heartbeat_refused(exc)

    async def _heartbeat_refused(self, exc: PrometheanError) -> None:
        """Fenced: give everything up and JOIN again. With several brokers,
        also JOIN again where the coordinator moved (same member id)."""
        if self.stopped:
            return
        if exc.code == "stale_generation":
            log.warning("fenced by the coordinator; joining again")
            await self._release(set(self.assigned), closing=set(self._lanes))
        elif exc.code == "not_owner" and self._fetches is not None:
            log.warning("the group's coordinator moved; joining there")
        else:
            return
        if self._fetches is None:
            self.port.send(self.join_frame(None))
            return
        with contextlib.suppress(PrometheanError):
            await self._fetches.join()

    async def stop(self) -> None:
        """Finish running handlers, send acks, run ``on_revoked``, leave."""
        if self.stopped:
            return
        self.stopped = True
        if self.on_stop is not None:
            self.on_stop(self)
        self._heartbeat_task.cancel()
        self._control_task.cancel()
        await asyncio.gather(self._heartbeat_task, self._control_task, return_exceptions=True)
        await self._release(set(self.assigned), closing=set(self._lanes))
        if self._fetches is not None:
            with contextlib.suppress(PrometheanError):
                await self._fetches.reconcile()  # nothing assigned: every FETCH ends
        with contextlib.suppress(PrometheanError):
            await self.port.request(bf.Leave(group=self.group, member_id=self.member_id))

    async def close(self) -> None:
        """Like `stop`, for a client that is closing (no LEAVE reply awaited)."""
        if self.stopped:
            return
        self.stopped = True
        if self.on_stop is not None:
            self.on_stop(self)
        self._heartbeat_task.cancel()
        self._control_task.cancel()
        await asyncio.gather(self._heartbeat_task, self._control_task, return_exceptions=True)
        await self._release(set(self.assigned), closing=set(self._lanes))
        self.port.send(bf.Leave(group=self.group, member_id=self.member_id))
