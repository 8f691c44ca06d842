"""The bus semantics in one place, with no transport: publish with group
commit, consumer groups, delivery and commits. How a delivery ends (acks,
redelivery, DLQ, expiry) is `Settlement`'s, in bus/settlement.py.

The broker service drives it from WebSocket connections with background
tasks; the in-memory mock broker drives the very same engine inline with a
fake clock. One implementation of the semantics, two transports.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from promethean.bus.checks import PublishCheck, SchemaInvalidError
from promethean.bus.config import EngineConfig
from promethean.bus.cursor import PartitionCursor
from promethean.bus.grants import PartitionGrants, renewed_fences
from promethean.bus.group import GroupTopic
from promethean.bus.hooks import EngineHooks
from promethean.bus.locks import KeyedLocks
from promethean.bus.positions import load_cursors
from promethean.bus.requests import AckRef, PublishRequest
from promethean.bus.settlement import Settlement
from promethean.bus.subscription import (
    Consumer,
    EventFilter,
    StartPosition,
    Subscription,
)
from promethean.bus.tail import PartitionTail, TailBudget
from promethean.bus.topics import DefaultRetention, TopicRegistry
from promethean.bus.writer import GroupCommitter, PartitionWriter
from promethean.clock import Clock
from promethean.errors import FencedError, FrameError, NotOwnerError, OverloadedError
from promethean.frames.codes import ErrorCode
from promethean.partitioning import partition_for
from promethean.store.ownership_records import PartitionFence
from promethean.store.port import Store
from promethean.store.records import AppendResult, Fence, NewEvent, StoredEvent, TopicConfig

log = logging.getLogger("promethean.bus")

QUIESCE_POLL_S = 0.01


class BusEngine:
    def __init__(
        self,
        store: Store,
        config: EngineConfig,
        clock: Clock,
        *,
        fence: Fence | None = None,
        hooks: EngineHooks | None = None,
        background: bool = True,
        check: PublishCheck | None = None,
        grants: PartitionGrants | None = None,
    ) -> None:
        self.store = store
        self.grants = grants
        """Set on a broker of a cluster: only partitions it holds are written."""
        self.config = config
        self.clock = clock
        self.fence = fence
        self.hooks = hooks or EngineHooks()
        self.check = check
        """Runs on every publish to a topic with ``validate`` set, before storing."""
        self.topics = TopicRegistry(
            store,
            config.default_partitions,
            config.default_max_attempts,
            DefaultRetention(config.system_retention_ms, config.dlq_retention_ms),
        )
        self._writers: dict[tuple[str, int], PartitionWriter] = {}
        self._tail_budget = TailBudget(config.tail_cache_total_bytes)
        self._committer = GroupCommitter(
            store,
            fence=fence,
            batch_max=config.append_batch_max,
            observe_batch=self.hooks.append_batch,
            grants=grants,
        )
        self._groups: dict[tuple[str, str], GroupTopic] = {}
        self._groups_by_topic: dict[str, set[GroupTopic]] = {}
        self._subs_by_consumer: dict[str, list[Subscription]] = {}
        self._background = background
        self._woken: set[GroupTopic] = set()
        self._dispatchers: dict[GroupTopic, asyncio.Task[None]] = {}
        self._group_locks: KeyedLocks[tuple[str, str]] = KeyedLocks()
        self._closed = False
        self.settlement = Settlement(
            self._groups,
            store=store,
            topics=self.topics,
            config=config,
            clock=clock,
            hooks=self.hooks,
            publish=self.publish_here,
        )
        """How deliveries of these groups end; dead letters go through `publish_here`."""

    # -- publish -----------------------------------------------------------

    @property
    def queued_publishes(self) -> int:
        return sum(w.queued for w in self._writers.values())

    async def publish(self, requests: Sequence[PublishRequest]) -> list[AppendResult]:
        """Append every request (group-committed per partition) and return
        once all are durable, in request order. A request refused by the
        topic's check (`SchemaInvalidError`) refuses the call; nothing is
        stored."""
        return await self._append(requests, await self._checked_headers(requests))

    async def publish_here(self, requests: Sequence[PublishRequest]) -> list[AppendResult]:
        """As `publish`, for the bus's own writes (dead letters, system
        records): on a broker of a cluster, a request whose partition another
        broker owns goes to a partition of its topic this broker holds, so
        the write stays under this broker's fence. Dead-letter ids are
        unique per topic, so a dead letter written again after a takeover,
        on another partition, is still stored once."""
        return await self._append(requests, await self._checked_headers(requests), here=True)

    async def _checked_headers(
        self, requests: Sequence[PublishRequest]
    ) -> list[dict[str, str] | None]:
        """The headers to store with each request, once its topic's check
        passed (`SchemaInvalidError` otherwise)."""
        if self.check is None:
            return [r.headers for r in requests]
        headers: list[dict[str, str] | None] = []
        for request in requests:
            done, admitted = self._admit_cached(request)
            headers.append(admitted if done else await self._admit(request))
        return headers

    async def publish_each(
        self, requests: Sequence[PublishRequest]
    ) -> list[AppendResult | SchemaInvalidError]:
        """As `publish`, but a request refused by its topic's check gets its
        error in its place and the others are stored."""
        if self.check is None:
            return list(await self.publish(requests))
        outcomes: list[AppendResult | SchemaInvalidError | None] = []
        admitted: list[PublishRequest] = []
        headers: list[dict[str, str] | None] = []
        for request in requests:
            try:
                done, admitted_headers = self._admit_cached(request)
                headers.append(admitted_headers if done else await self._admit(request))
            except SchemaInvalidError as err:
                outcomes.append(err)
                continue
            admitted.append(request)
            outcomes.append(None)
        results = iter(await self._append(admitted, headers) if admitted else [])
        return [next(results) if outcome is None else outcome for outcome in outcomes]

    def _admit_cached(self, request: PublishRequest) -> tuple[bool, dict[str, str] | None]:
        """(True, headers to store) when the check can answer without I/O,
        else (False, None); raises `SchemaInvalidError`."""
        config = self.topics.cached(request.topic)
        if config is None or self.check is None:
            return False, None
        if not config.validate:
            return True, request.headers
        headers = self.check.admit_cached(request)
        return headers is not None, headers

    async def _admit(self, request: PublishRequest) -> dict[str, str] | None:
        """The headers to store with ``request`` once its topic's check passed."""
        config = self.topics.cached(request.topic) or await self.topics.ensure(
            request.topic, self.clock.now_ms()
        )
        if self.check is None or not config.validate:
            return request.headers
        return await self.check.admit(request)

    async def _append(
        self,
        requests: Sequence[PublishRequest],
        headers: Sequence[dict[str, str] | None],
        *,
        here: bool = False,
    ) -> list[AppendResult]:
        if self.queued_publishes + len(requests) > self.config.publish_queue_max:
            raise OverloadedError(
                "publish queue is full", retry_after_ms=self.config.overload_retry_after_ms
            )
        now = self.clock.now_ms()
        futures: list[asyncio.Future[AppendResult]] = []
        for request, event_headers in zip(requests, headers, strict=True):
            config = await self.topics.ensure(request.topic, now)
            event_id = request.id if request.id is not None else uuid.uuid4().hex
            partition = partition_for(request.key, event_id, config.partitions)
            if self.grants is not None and not self.grants.admits(request.topic, partition):
                if here:
                    partition = _held_partition(self.grants, request.topic, partition)
                await self.grants.claim(request.topic, partition)
            writer = await self._writer(request.topic, partition)
            event = NewEvent(
                id=event_id,
                ts=now,
                payload=request.payload,
                key=request.key,
                headers=event_headers,
                caused_by=request.caused_by,
                tags=request.tags,
                sid=request.sid,
            )
            futures.append(writer.submit(event))
        results = list(await asyncio.gather(*futures))
        self.hooks.published(results, requests)
        return results

    async def _writer(self, topic: str, partition: int) -> PartitionWriter:
        writer = self._writers.get((topic, partition))
        if writer is None:
            writer = PartitionWriter(
                self.store,
                topic,
                partition,
                committer=self._committer,
                tail=PartitionTail(
                    self._tail_budget,
                    self.config.tail_cache_events,
                    self.config.tail_cache_partition_bytes,
                ),
                on_appended=self._on_appended,
            )
            await writer.load()
            existing = self._writers.setdefault((topic, partition), writer)
            writer = existing
        return writer

    async def quiesce(self, topic: str, partition: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the publishes queued for the
        partition are written, then persist every moved commit; True when
        nothing was left queued. Called before the partition is released."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        writer = self._writers.get((topic, partition))
        while writer is not None and (writer.queued or not self._committer.idle):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(QUIESCE_POLL_S)
        await self.flush_commits()
        return True

    async def adopt_partition(self, topic: str, partition: int) -> None:
        """The partition was just granted to this engine: reload its high
        watermark, and restart each group's cursor there from the group's
        stored commit (the previous owner delivered and committed
        meanwhile; what it left unacked is delivered again from there)."""
        self.forget_partition(topic, partition)
        await self._writer(topic, partition)
        for state in list(self._groups_by_topic.get(topic, ())):
            if partition not in state.cursors:
                continue
            row = (await self.store.get_commits(state.group, topic)).get(partition)
            committed = row.offset if row is not None else state.cursors[partition].committed
            attempts = await self.store.get_attempts(state.group, topic, partition, committed + 1)
            state.cursors[partition] = PartitionCursor(partition, committed, attempts)
            state.wake()

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the partition's writer and tail: another broker may append
        to it now, so the next writer reloads the high watermark."""
        writer = self._writers.pop((topic, partition), None)
        if writer is not None:
            writer.refuse(NotOwnerError(f"partition {partition} of {topic!r} moved"))

    def _on_appended(self, topic: str, partition: int, events: list[StoredEvent]) -> None:
        for group in self._groups_by_topic.get(topic, ()):
            group.wake()

    def writes(self, topic: str, partition: int) -> bool:
        """True when this engine writes the partition (always without grants)."""
        return self.grants is None or self.grants.token(topic, partition) is not None

    # LogSource for GroupTopic
    def high_watermark(self, topic: str, partition: int) -> int:
        """-1 (nothing to deliver) for a partition another broker owns: its
        owner delivers it."""
        if not self.writes(topic, partition):
            return -1
        writer = self._writers.get((topic, partition))
        return -1 if writer is None else writer.high_watermark

    async def read(
        self, topic: str, partition: int, from_offset: int, limit: int, up_to: int
    ) -> list[StoredEvent]:
        writer = self._writers.get((topic, partition))
        if writer is not None:
            cached = writer.tail_from(from_offset, limit)
            if cached is not None:
                return cached
        return await self.store.read(topic, partition, from_offset, limit, to_offset=up_to)

    # -- subscribe ---------------------------------------------------------

    async def subscribe(
        self,
        consumer: Consumer,
        topic: str,
        group: str,
        *,
        start: StartPosition | None = None,
        max_inflight: int | None = None,
        ack_timeout_ms: int | None = None,
        event_filter: EventFilter | None = None,
        credits: int | None = None,
        partitions: frozenset[int] | None = None,
        generation: int = 0,
    ) -> tuple[Subscription, int]:
        """Join ``consumer`` to ``group`` on ``topic``; returns the
        subscription and the topic's partition count."""
        now = self.clock.now_ms()
        config = await self.topics.ensure(topic, now)
        for existing in self._subs_by_consumer.get(consumer.consumer_id, ()):
            if existing.topic == topic and existing.group == group:
                raise FrameError(
                    f"already subscribed to {topic} as {group}", code=ErrorCode.BAD_FRAME
                )
        async with self._group_locks.hold((group, topic)):
            state = self._groups.get((group, topic))
            if state is None:
                state = await self._load_group(group, topic, config.partitions, start, event_filter)
            elif event_filter is not None and event_filter != state.event_filter:
                raise FrameError(
                    f"group {group} already reads {topic} with a different filter",
                    code=ErrorCode.BAD_FIELD,
                )
            # The topic may have grown while the group loaded; `put_topic`
            # only saw the groups that were live before.
            config = self.topics.cached(topic) or config
            await self._grow_group(state, config.partitions)
        sub = Subscription(
            consumer=consumer,
            topic=topic,
            group=group,
            max_inflight=max_inflight or self.config.max_inflight,
            ack_timeout_ms=ack_timeout_ms or self.config.ack_timeout_ms,
            credits=credits,
            partitions=partitions,
            generation=generation,
        )
        state.subs.append(sub)
        self._subs_by_consumer.setdefault(consumer.consumer_id, []).append(sub)
        self.hooks.subscribed(topic, group)
        state.wake()
        return sub, config.partitions

    async def put_topic(self, config: TopicConfig) -> TopicConfig:
        """Store a topic's config; live groups start reading partitions it
        grew by at once (the coordinator hands them to partitioned members
        at its next rebalance)."""
        stored = await self.topics.put(config)
        for state in list(self._groups_by_topic.get(stored.name, ())):
            key = (state.group, state.topic)
            async with self._group_locks.hold(key):
                if self._groups.get(key) is state:
                    await self._grow_group(state, stored.partitions)
        return stored

    async def _grow_group(self, state: GroupTopic, partitions: int) -> None:
        added = [p for p in range(partitions) if p not in state.cursors]
        if not added:
            return
        state.add_cursors(
            await load_cursors(self.store, self._writer, state.group, state.topic, added, None)
        )
        log.info(
            "group reads new partitions",
            extra={"group": state.group, "topic": state.topic, "partitions": added},
        )
        state.wake()

    async def _load_group(
        self,
        group: str,
        topic: str,
        partitions: int,
        start: StartPosition | None,
        event_filter: EventFilter | None,
    ) -> GroupTopic:
        cursors = await load_cursors(
            self.store, self._writer, group, topic, range(partitions), start
        )
        state = GroupTopic(
            group,
            topic,
            cursors,
            event_filter=event_filter,
            log=self,
            clock=self.clock,
            fetch_batch=self.config.fetch_batch,
            on_wake=self._schedule,
            hooks=self.hooks,
        )
        self._groups[(group, topic)] = state
        self._groups_by_topic.setdefault(topic, set()).add(state)
        return state

    async def unsubscribe(self, consumer_id: str, topic: str, group: str) -> bool:
        subs = self._subs_by_consumer.get(consumer_id, [])
        for sub in subs:
            if sub.topic == topic and sub.group == group:
                subs.remove(sub)
                await self._remove_sub(sub, reason="unsubscribed")
                return True
        return False

    async def release_consumer(self, consumer_id: str, reason: str = "disconnected") -> None:
        """The consumer is gone: its in-flight events go back to the group now
        (or, if the store fails meanwhile, at the next timer pass)."""
        for sub in self._subs_by_consumer.pop(consumer_id, []):
            try:
                await self._remove_sub(sub, reason=reason)
            except Exception:
                log.exception("releasing %s from %s/%s failed", consumer_id, sub.group, sub.topic)

    async def _remove_sub(self, sub: Subscription, *, reason: str) -> None:
        sub.active = False
        state = self._groups.get((sub.group, sub.topic))
        if state is None:
            return
        if sub in state.subs:
            state.subs.remove(sub)
        held = state.held_by(sub)
        await self.settlement.retry(state, held, reason=reason, backoff=False)
        if state.subs:
            state.wake()
            return
        # Nobody reads any more: persist the watermark and forget the group.
        # Work waiting for redelivery lies above the commit, so it is read
        # back from the log (attempts from the store) when a member returns.
        # Under the group's lock, so a member joining meanwhile either joins
        # before (and the group stays) or loads it afresh after.
        key = (state.group, state.topic)
        async with self._group_locks.hold(key):
            if state.subs or self._groups.get(key) is not state:
                return
            await self._flush_group(state)
            self._drop_group(state)

    def _drop_group(self, state: GroupTopic) -> None:
        self._groups.pop((state.group, state.topic), None)
        self._groups_by_topic.get(state.topic, set()).discard(state)
        task = self._dispatchers.pop(state, None)
        if task is not None:
            task.cancel()

    async def release_partitions(self, sub: Subscription, partitions: frozenset[int]) -> None:
        """A partitioned member gave ``partitions`` up: what it still holds of
        them goes back, due now and without counting an attempt (it was never
        processed), and the group's watermark is committed before anyone else
        may take them."""
        state = self._groups.get((sub.group, sub.topic))
        if state is None:
            return
        now = self.clock.now_ms()
        for cursor, flight in state.held_by(sub):
            if cursor.partition in partitions and cursor.take_back(flight.event.offset):
                sub.inflight -= 1
                cursor.schedule_retry(flight.event, flight.attempt - 1, now)
        await self._flush_group(state)
        state.wake()

    def grant_credits(
        self, consumer_id: str, credits: int, topic: str | None, group: str | None
    ) -> int:
        """FLOW: add credits to the consumer's matching subscriptions."""
        granted = 0
        for sub in self._subs_by_consumer.get(consumer_id, ()):
            if (topic is None or sub.topic == topic) and (group is None or sub.group == group):
                sub.credits = (sub.credits or 0) + credits
                granted += 1
                state = self._groups.get((sub.group, sub.topic))
                if state is not None:
                    state.wake()
        return granted

    def subscriptions_of(self, consumer_id: str) -> list[Subscription]:
        return list(self._subs_by_consumer.get(consumer_id, ()))

    # -- settlement (bus/settlement.py) -------------------------------------

    def ack(self, ref: AckRef) -> bool:
        """Mark a delivered offset done; acks of finished work are no-ops."""
        return self.settlement.ack(ref)

    def ack_many(self, topic: str, group: str, items: Sequence[tuple[int, int]]) -> int:
        return self.settlement.ack_many(topic, group, items)

    async def nack(self, ref: AckRef, reason: str | None = None) -> None:
        await self.settlement.nack(ref, reason)

    def modack(self, ref: AckRef, extend_ms: int) -> bool:
        return self.settlement.modack(ref, extend_ms)

    # -- timers and commits ------------------------------------------------

    async def expire_due(self) -> int:
        """Take back every hand-out whose ack deadline passed; returns how many."""
        return await self.settlement.expire_due()

    async def sync_retention(self) -> None:
        """Align the in-memory tails with what retention left in the store."""
        for writer in list(self._writers.values()):
            await writer.sync_earliest()

    async def flush_commits(self) -> int:
        """Persist every moved watermark; returns how many partitions."""
        flushed = 0
        for state in list(self._groups.values()):
            flushed += await self._flush_group(state)
        return flushed

    async def _flush_group(self, state: GroupTopic) -> int:
        commits = state.pending_commits()
        if not commits:
            return 0
        if self.grants is None:
            await self.store.commit(state.group, state.topic, commits, generation=state.generation)
        else:
            commits = await self._commit_owned(self.grants, state, commits)
        state.mark_persisted(commits)
        for partition, offset in commits.items():
            cursor = state.cursors.get(partition)
            if cursor is not None and cursor.attempts_to_clear(offset):
                await self.store.clear_attempts(state.group, state.topic, partition, offset)
        return len(commits)

    async def _commit_owned(
        self, grants: PartitionGrants, state: GroupTopic, commits: dict[int, int]
    ) -> dict[int, int]:
        """Commit the partitions this engine holds, under their tokens; the
        others are left to their owners. The commits written."""
        tokens = {p: token for p in commits if (token := grants.token(state.topic, p)) is not None}
        owned = {p: commits[p] for p in tokens}
        if not owned:
            return {}
        try:
            await self.store.commit_owned(
                state.group, state.topic, owned, tokens=tokens, generation=state.generation
            )
        except FencedError:
            fences = [PartitionFence(state.topic, p, token) for p, token in tokens.items()]
            if renewed_fences(grants, fences) is None:  # else the next flush commits anew
                grants.fenced((state.topic, p) for p in owned)
            return {}
        return owned

    # -- scheduling --------------------------------------------------------

    def _schedule(self, state: GroupTopic) -> None:
        if not self._background:
            self._woken.add(state)
            return
        if self._closed:
            return
        task = self._dispatchers.get(state)
        if task is None or task.done():
            self._dispatchers[state] = asyncio.create_task(
                self._dispatch_loop(state), name=f"dispatch:{state.group}/{state.topic}"
            )

    async def _dispatch_loop(self, state: GroupTopic) -> None:
        try:
            while state.wanted.is_set():
                await state.dispatch()
        except Exception:
            log.exception("dispatch failed for %s/%s", state.group, state.topic)
            raise

    async def settle(self) -> int:
        """Inline mode: dispatch until nothing more can move; returns deliveries."""
        made = 0
        while self._woken:
            woken = list(self._woken)
            self._woken.clear()
            for state in woken:
                made += await state.dispatch()
        return made

    # -- admin -------------------------------------------------------------

    def group_lock(self, group: str, topic: str) -> AbstractAsyncContextManager[None]:
        """The lock a group's loading runs under: an admin change made while
        holding it cannot interleave with a member joining."""
        return self._group_locks.hold((group, topic))

    def forget_topic(self, topic: str) -> None:
        """Drop what the engine caches of a deleted topic: its config, its
        partition writers (queued publishes fail) and idle group states."""
        self.topics.forget(topic)
        for key in [k for k in self._writers if k[0] == topic]:
            self._writers.pop(key).close()
        for state in list(self._groups_by_topic.get(topic, ())):
            if not state.subs:
                self._drop_group(state)

    # -- introspection -----------------------------------------------------

    def groups(self) -> list[GroupTopic]:
        return list(self._groups.values())

    def group(self, group: str, topic: str) -> GroupTopic | None:
        return self._groups.get((group, topic))

    def writers(self) -> list[PartitionWriter]:
        return list(self._writers.values())

    async def close(self) -> None:
        self._closed = True
        for task in self._dispatchers.values():
            task.cancel()
        await asyncio.gather(*self._dispatchers.values(), return_exceptions=True)
        self._dispatchers.clear()
        try:
            await self.flush_commits()
        except Exception:
            log.exception("final commit flush failed")
        await self._committer.close()
        for writer in self._writers.values():
            writer.close()


def _held_partition(grants: PartitionGrants, topic: str, partition: int) -> int:
    """One of the partitions of ``topic`` these grants may write, picked by
    ``partition`` so the writes spread over them; ``partition`` itself when
    none is held (claiming it acquires a partition nobody owns yet)."""
    held = grants.writable(topic)
    return held[partition % len(held)] if held else partition
