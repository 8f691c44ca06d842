"""What the client owes the broker, without I/O: publishes not yet answered,
acks not yet sent, and the ordered queue of encoded frames to write.

`fill` turns queued publishes into ``PUBLISH_BATCH`` frames (bounded in
items and bytes, each under a fresh ``corr``) and queued acks into
``ACK_BATCH`` frames. The connection writes `frames` in order; on a lost
connection every sent-but-unanswered publish returns to the head of the
queue, to be sent again with the same id.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from promethean.client.types import Published
from promethean.errors import PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import encode
from promethean.frames.codes import REROUTE, RETRYABLE, ErrorCode

MAX_BATCH_ITEMS: Final = 256
MAX_ACK_BATCH_ITEMS: Final = 4096
ITEM_OVERHEAD_BYTES: Final = 128
"""JSON keys and punctuation around one item of a ``PUBLISH_BATCH``."""
FRAME_SLACK_BYTES: Final = 1024
DEFAULT_RETRY_AFTER_MS: Final = 100
RETRY_CODES: Final = frozenset({*RETRYABLE, ErrorCode.FENCED})
"""Publish refusals worth sending again (same ids): the broker is busy, or
is handing over to another broker."""


@dataclass(slots=True)
class PendingPublish:
    item: bf.PublishItem
    size: int
    """Upper estimate of the item's bytes inside a batch frame."""
    future: asyncio.Future[Published]
    partition: int | None = None
    """Where the routing table says the broker will put it (None: not routed)."""
    reroutes: int = 0
    """Times a broker answered ``not_owner`` for it."""


class PublishDeadline:
    """One timer for every publish issued in one event-loop turn (instead of
    one per publish): when it fires, those still unanswered fail with
    ``error``. Each settled publish returns its slot; once all are settled
    the timer is cancelled and nothing stays referenced."""

    __slots__ = ("_error", "_pending", "_release", "_remaining", "_timer")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout_s: float,
        error: Callable[[PendingPublish], PrometheanError],
        release: Callable[[], None],
    ) -> None:
        self._pending: list[PendingPublish] = []
        self._remaining = 0
        self._error = error
        self._release = release
        self._timer: asyncio.TimerHandle | None = loop.call_later(timeout_s, self._expire)

    def add(self, pending: PendingPublish) -> None:
        self._pending.append(pending)
        self._remaining += 1
        pending.future.add_done_callback(self._settled)

    def _settled(self, _: asyncio.Future[Published]) -> None:
        self._release()
        self._remaining -= 1
        if self._remaining == 0 and self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._pending.clear()

    def _expire(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, []
        for item in pending:
            if not item.future.done():
                item.future.set_exception(self._error(item))


def encoded_size(item: bf.PublishItem) -> int:
    """An upper estimate (JSON escapes may double a string) of ``item``'s size."""
    size = ITEM_OVERHEAD_BYTES + len(item.payload) + len(item.topic) + 2 * len(item.id or "")
    if item.key is not None:
        size += 2 * len(item.key)
    if item.headers:
        size += sum(2 * (len(k) + len(v)) + 8 for k, v in item.headers.items())
    return size


class SendQueue:
    """The client's queue of frames to send (not the transactional outbox of
    `promethean.outbox`, which lives in the application's database)."""

    def __init__(self, corr: itertools.count[int], max_frame_bytes: int) -> None:
        self.frames: deque[bytes] = deque()
        self._corr = corr
        self._budget = max_frame_bytes - FRAME_SLACK_BYTES
        self._unsent: list[PendingPublish] = []
        self._awaiting: dict[int, list[PendingPublish]] = {}
        self._acks: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._rerouted: list[PendingPublish] = []
        """Refused with ``not_owner``: for the client to send to another broker."""
        self.paused_until = 0.0
        """Loop time before which publishes stay queued (the broker asked us to wait)."""

    @property
    def pending_publishes(self) -> int:
        return len(self._unsent) + sum(len(chunk) for chunk in self._awaiting.values())

    @property
    def rerouted(self) -> bool:
        """Whether publishes refused with ``not_owner`` wait for `take_rerouted`."""
        return bool(self._rerouted)

    def awaits(self, corr: object) -> bool:
        return isinstance(corr, int) and corr in self._awaiting

    def add_publish(self, pending: PendingPublish) -> None:
        self._unsent.append(pending)

    def add_ack(self, topic: str, group: str, partition: int, offset: int) -> None:
        self._acks.setdefault((topic, group), []).append((partition, offset))

    def fill(self, now: float) -> None:
        """Encode queued acks, then queued publishes (unless paused)."""
        if self._acks:
            acks, self._acks = self._acks, {}
            for (topic, group), items in acks.items():
                self._queue_acks(topic, group, items)
        if self._unsent and now >= self.paused_until:
            self._queue_publishes()

    def push(self, frame: bytes, now: float) -> None:
        """Queue ``frame`` behind every ack and publish issued before it."""
        self.fill(now)
        self.frames.append(frame)

    def _queue_acks(self, topic: str, group: str, items: list[tuple[int, int]]) -> None:
        for start in range(0, len(items), MAX_ACK_BATCH_ITEMS):
            chunk = items[start : start + MAX_ACK_BATCH_ITEMS]
            if len(chunk) == 1:
                partition, offset = chunk[0]
                ack = bf.Ack(topic=topic, group=group, partition=partition, offset=offset)
                self.frames.append(encode(ack))
            else:
                self.frames.append(encode(bf.AckBatch(topic=topic, group=group, items=chunk)))

    def _queue_publishes(self) -> None:
        unsent, self._unsent = self._unsent, []
        chunk: list[PendingPublish] = []
        size = 0
        for pending in unsent:
            if pending.future.done():
                continue  # timed out or cancelled by its caller
            if chunk and (len(chunk) >= MAX_BATCH_ITEMS or size + pending.size > self._budget):
                self._queue_publish_frame(chunk)
                chunk, size = [], 0
            chunk.append(pending)
            size += pending.size
        if chunk:
            self._queue_publish_frame(chunk)

    def _queue_publish_frame(self, chunk: list[PendingPublish]) -> None:
        corr = next(self._corr)
        self._awaiting[corr] = chunk
        if len(chunk) > 1:
            self.frames.append(encode(bf.PublishBatch(corr=corr, items=[p.item for p in chunk])))
            return
        item = chunk[0].item
        frame = bf.Publish(
            corr=corr,
            topic=item.topic,
            payload=item.payload,
            key=item.key,
            headers=item.headers,
            id=item.id,
        )
        self.frames.append(encode(frame))

    def resolve(self, corr: object, results: Sequence[bf.PublishResult | bf.Published]) -> bool:
        """Settle the publishes sent under ``corr``. True when some were
        refused with a retryable code and went back to the queue."""
        pending = self._awaiting.pop(corr, []) if isinstance(corr, int) else []
        retry: list[PendingPublish] = []
        for item, result in zip(pending, results, strict=False):
            if item.future.done():
                continue
            if isinstance(result, bf.ItemError):
                if result.code in REROUTE:
                    self._rerouted.append(item)
                elif result.code in RETRY_CODES:
                    retry.append(item)
                else:
                    item.future.set_exception(PrometheanError(result.msg, code=result.code))
                continue
            item.future.set_result(
                Published(
                    result.topic, result.partition, result.offset, result.id, result.duplicate
                )
            )
        self._unsent[:0] = retry
        return bool(retry)

    def refuse(self, corr: int, error: bf.Err, now: float) -> float | None:
        """The broker answered ``corr`` with ``ERR``. A retryable refusal
        requeues its publishes, pauses publishing, and returns the pause in
        seconds; ``not_owner`` sets them aside for `take_rerouted`; any other
        fails them. Returns None but for a pause."""
        chunk = self._awaiting.pop(corr, [])
        if error.code in REROUTE:
            self._rerouted.extend(chunk)
            return None
        if error.code in RETRY_CODES:
            delay = (error.retry_after_ms or DEFAULT_RETRY_AFTER_MS) / 1000
            self._unsent[:0] = chunk
            self.paused_until = max(self.paused_until, now + delay)
            return delay
        failure = PrometheanError(error.msg, code=error.code)
        for pending in chunk:
            if not pending.future.done():
                pending.future.set_exception(failure)
        return None

    def take_rerouted(self) -> list[PendingPublish]:
        """The publishes refused with ``not_owner`` since the last call."""
        rerouted, self._rerouted = self._rerouted, []
        return rerouted

    def take_unsent(self, keep: Callable[[PendingPublish], bool]) -> list[PendingPublish]:
        """Remove and return the queued publishes ``keep`` rejects (they
        belong on another connection now)."""
        kept: list[PendingPublish] = []
        taken: list[PendingPublish] = []
        for pending in self._unsent:
            (kept if keep(pending) else taken).append(pending)
        self._unsent = kept
        return taken

    def connection_lost(self) -> None:
        """Drop unsent frames and acks (those deliveries will come again);
        sent-but-unanswered publishes go first, in the order they were sent."""
        self.frames.clear()
        self._acks.clear()
        resend = [p for chunk in self._awaiting.values() for p in chunk]
        self._awaiting.clear()
        self._unsent[:0] = resend

    def fail_all(self, error: PrometheanError) -> None:
        pending = self._unsent + self._rerouted
        pending += [p for chunk in self._awaiting.values() for p in chunk]
        self._unsent = []
        self._rerouted = []
        self._awaiting.clear()
        for item in pending:
            if not item.future.done():
                item.future.set_exception(error)
