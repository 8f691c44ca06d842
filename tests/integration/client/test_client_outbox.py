"""The client's `Outbox` and `PublishDeadline` without a broker (no I/O):
batching, ordering, requeue after a loss or a retryable refusal, timeouts."""

from __future__ import annotations

import asyncio
import itertools

import msgspec
import pytest

from promethean.client.outbox import (
    MAX_BATCH_ITEMS,
    Outbox,
    PendingPublish,
    PublishDeadline,
    encoded_size,
)
from promethean.client.types import Published
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import parse_broker_request


def pending(index: int, payload_bytes: int = 10) -> PendingPublish:
    item = bf.PublishItem(
        topic="orders",
        payload=msgspec.Raw(msgspec.json.encode("x" * payload_bytes)),
        id=f"id-{index}",
    )
    future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
    return PendingPublish(item, encoded_size(item), future)


def sent(outbox: Outbox) -> list[bf.BrokerRequest]:
    frames = [parse_broker_request(frame) for frame in outbox.frames]
    outbox.frames.clear()
    return frames


def published_for(frame: bf.PublishBatch | bf.Publish) -> list[bf.PublishedItem]:
    items = frame.items if isinstance(frame, bf.PublishBatch) else [frame]
    return [
        bf.PublishedItem(topic=i.topic, partition=0, offset=n, id=i.id or "")
        for n, i in enumerate(items)
    ]


async def test_publishes_of_one_turn_share_a_batch_frame() -> None:
    outbox = Outbox(itertools.count(1), 1024 * 1024)
    items = [pending(i) for i in range(MAX_BATCH_ITEMS + 10)]
    for item in items:
        outbox.add_publish(item)
    outbox.fill(now=0.0)
    first, second = sent(outbox)
    assert isinstance(first, bf.PublishBatch)
    assert len(first.items) == MAX_BATCH_ITEMS
    assert isinstance(second, bf.PublishBatch)
    assert [i.id for i in second.items] == [f"id-{i}" for i in range(MAX_BATCH_ITEMS, 266)]


async def test_a_batch_stays_under_the_frame_limit() -> None:
    limit = 64 * 1024
    outbox = Outbox(itertools.count(1), limit)
    for i in range(10):
        outbox.add_publish(pending(i, payload_bytes=20 * 1024))
    outbox.fill(now=0.0)
    frames = list(outbox.frames)
    assert len(frames) > 1
    assert all(len(frame) <= limit for frame in frames)
    assert sum(len(f.items) if isinstance(f, bf.PublishBatch) else 1 for f in sent(outbox)) == 10


async def test_results_resolve_the_publishes_in_order() -> None:
    outbox = Outbox(itertools.count(1), 1024 * 1024)
    items = [pending(i) for i in range(3)]
    for item in items:
        outbox.add_publish(item)
    outbox.fill(now=0.0)
    (frame,) = sent(outbox)
    assert isinstance(frame, bf.PublishBatch)
    assert not outbox.resolve(frame.corr, published_for(frame))
    assert [item.future.result().offset for item in items] == [0, 1, 2]
    assert outbox.pending_publishes == 0


async def test_acks_go_before_a_frame_pushed_after_them() -> None:
    outbox = Outbox(itertools.count(1), 1024 * 1024)
    outbox.add_ack("orders", "billing", 0, 5)
    outbox.add_ack("orders", "billing", 1, 7)
    outbox.push(b'{"type":"UNSUBSCRIBE","topic":"orders","group":"billing"}', now=0.0)
    ack, unsubscribe = sent(outbox)
    assert isinstance(ack, bf.AckBatch)
    assert ack.items == [(0, 5), (1, 7)]
    assert isinstance(unsubscribe, bf.Unsubscribe)


async def test_a_lost_connection_requeues_unanswered_publishes_first() -> None:
    outbox = Outbox(itertools.count(1), 1024 * 1024)
    early = [pending(i) for i in range(2)]
    for item in early:
        outbox.add_publish(item)
    outbox.fill(now=0.0)
    sent(outbox)
    late = pending(2)
    outbox.add_publish(late)
    outbox.add_ack("orders", "billing", 0, 1)
    outbox.connection_lost()
    assert outbox.pending_publishes == 3
    outbox.fill(now=0.0)
    (again,) = sent(outbox)  # the ack died with the connection
    assert isinstance(again, bf.PublishBatch)
    assert [i.id for i in again.items] == ["id-0", "id-1", "id-2"]


async def test_a_retryable_refusal_requeues_and_pauses_publishing() -> None:
    outbox = Outbox(itertools.count(1), 1024 * 1024)
    item = pending(0)
    outbox.add_publish(item)
    outbox.fill(now=0.0)
    (frame,) = sent(outbox)
    refusal = bf.Err(code="overloaded", msg="busy", retry_after_ms=250, corr=frame.corr)
    assert outbox.refuse(frame.corr, refusal, now=10.0) == pytest.approx(0.25)
    outbox.fill(now=10.1)
    assert not outbox.frames  # still paused
    outbox.fill(now=10.3)
    (again,) = sent(outbox)
    assert isinstance(again, bf.Publish)
    assert again.id == "id-0"
    assert not item.future.done()


async def test_a_final_refusal_fails_the_publishes() -> None:
    outbox = Outbox(itertools.count(1), 1024 * 1024)
    item = pending(0)
    outbox.add_publish(item)
    outbox.fill(now=0.0)
    (frame,) = sent(outbox)
    refusal = bf.Err(code="bad_name", msg="no", corr=frame.corr)
    assert outbox.refuse(frame.corr, refusal, now=0.0) is None
    with pytest.raises(PrometheanError) as failed:
        item.future.result()
    assert failed.value.code == "bad_name"


async def test_the_deadline_fails_only_unanswered_publishes_and_returns_every_slot() -> None:
    loop = asyncio.get_running_loop()
    released: list[int] = []
    deadline = PublishDeadline(
        loop,
        0.05,
        lambda p: ConnectionLostError(f"{p.item.id} timed out"),
        lambda: released.append(1),
    )
    answered, unanswered = pending(0), pending(1)
    deadline.add(answered)
    deadline.add(unanswered)
    answered.future.set_result(Published("orders", 0, 0, "id-0"))
    await asyncio.sleep(0.1)
    assert answered.future.result().offset == 0
    with pytest.raises(ConnectionLostError, match="id-1 timed out"):
        unanswered.future.result()
    assert len(released) == 2
