"""The client's `SendQueue` and `PublishDeadline` without a broker (no I/O):
batching, ordering, requeue after a loss or a retryable refusal, timeouts."""

from __future__ import annotations

import asyncio
import itertools

import msgspec
import pytest

from promethean.client.send_queue import (
    MAX_BATCH_ITEMS,
    PendingPublish,
    PublishDeadline,
    SendQueue,
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


def sent(send_queue: SendQueue) -> list[bf.BrokerRequest]:
    frames = [parse_broker_request(frame) for frame in send_queue.frames]
    send_queue.frames.clear()
    return frames


def published_for(frame: bf.PublishBatch | bf.Publish) -> list[bf.PublishedItem]:
    items = frame.items if isinstance(frame, bf.PublishBatch) else [frame]
    return [
        bf.PublishedItem(topic=i.topic, partition=0, offset=n, id=i.id or "")
        for n, i in enumerate(items)
    ]


async def test_publishes_of_one_turn_share_a_batch_frame() -> None:
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    items = [pending(i) for i in range(MAX_BATCH_ITEMS + 10)]
    for item in items:
        send_queue.add_publish(item)
    send_queue.fill(now=0.0)
    first, second = sent(send_queue)
    assert isinstance(first, bf.PublishBatch)
    assert len(first.items) == MAX_BATCH_ITEMS
    assert isinstance(second, bf.PublishBatch)
    assert [i.id for i in second.items] == [f"id-{i}" for i in range(MAX_BATCH_ITEMS, 266)]


async def test_a_batch_stays_under_the_frame_limit() -> None:
    limit = 64 * 1024
    send_queue = SendQueue(itertools.count(1), limit)
    for i in range(10):
        send_queue.add_publish(pending(i, payload_bytes=20 * 1024))
    send_queue.fill(now=0.0)
    frames = list(send_queue.frames)
    assert len(frames) > 1
    assert all(len(frame) <= limit for frame in frames)
    assert (
        sum(len(f.items) if isinstance(f, bf.PublishBatch) else 1 for f in sent(send_queue)) == 10
    )


async def test_results_resolve_the_publishes_in_order() -> None:
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    items = [pending(i) for i in range(3)]
    for item in items:
        send_queue.add_publish(item)
    send_queue.fill(now=0.0)
    (frame,) = sent(send_queue)
    assert isinstance(frame, bf.PublishBatch)
    assert not send_queue.resolve(frame.corr, published_for(frame))
    assert [item.future.result().offset for item in items] == [0, 1, 2]
    assert send_queue.pending_publishes == 0


async def test_acks_go_before_a_frame_pushed_after_them() -> None:
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    send_queue.add_ack("orders", "billing", 0, 5)
    send_queue.add_ack("orders", "billing", 1, 7)
    send_queue.push(b'{"type":"UNSUBSCRIBE","topic":"orders","group":"billing"}', now=0.0)
    ack, unsubscribe = sent(send_queue)
    assert isinstance(ack, bf.AckBatch)
    assert ack.items == [(0, 5), (1, 7)]
    assert isinstance(unsubscribe, bf.Unsubscribe)


async def test_a_lost_connection_requeues_unanswered_publishes_first() -> None:
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    early = [pending(i) for i in range(2)]
    for item in early:
        send_queue.add_publish(item)
    send_queue.fill(now=0.0)
    sent(send_queue)
    late = pending(2)
    send_queue.add_publish(late)
    send_queue.add_ack("orders", "billing", 0, 1)
    send_queue.connection_lost()
    assert send_queue.pending_publishes == 3
    send_queue.fill(now=0.0)
    (again,) = sent(send_queue)  # the ack died with the connection
    assert isinstance(again, bf.PublishBatch)
    assert [i.id for i in again.items] == ["id-0", "id-1", "id-2"]


async def test_a_retryable_refusal_requeues_and_pauses_publishing() -> None:
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    item = pending(0)
    send_queue.add_publish(item)
    send_queue.fill(now=0.0)
    (frame,) = sent(send_queue)
    refusal = bf.Err(code="overloaded", msg="busy", retry_after_ms=250, corr=frame.corr)
    assert send_queue.refuse(frame.corr, refusal, now=10.0) == pytest.approx(0.25)
    send_queue.fill(now=10.1)
    assert not send_queue.frames  # still paused
    send_queue.fill(now=10.3)
    (again,) = sent(send_queue)
    assert isinstance(again, bf.Publish)
    assert again.id == "id-0"
    assert not item.future.done()


async def test_a_final_refusal_fails_the_publishes() -> None:
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    item = pending(0)
    send_queue.add_publish(item)
    send_queue.fill(now=0.0)
    (frame,) = sent(send_queue)
    refusal = bf.Err(code="bad_name", msg="no", corr=frame.corr)
    assert send_queue.refuse(frame.corr, refusal, now=0.0) is None
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
