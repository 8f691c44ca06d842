"""The send queue sets publishes refused with ``not_owner`` aside (whole
frame or one batch item) for the client to send elsewhere, and hands back
queued publishes that now belong on another connection."""

from __future__ import annotations

import asyncio
import itertools

import msgspec

from promethean.client.send_queue import PendingPublish, SendQueue, encoded_size
from promethean.client.types import Published
from promethean.errors import PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import parse_broker_request


def pending(index: int) -> PendingPublish:
    item = bf.PublishItem(topic="orders", payload=msgspec.Raw(b'"x"'), id=f"id-{index}")
    future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
    return PendingPublish(item, encoded_size(item), future)


def sent(count: int) -> tuple[SendQueue, list[PendingPublish], int]:
    """A queue that sent ``count`` publishes in one frame, and that frame's corr."""
    send_queue = SendQueue(itertools.count(1), 1024 * 1024)
    items = [pending(i) for i in range(count)]
    for item in items:
        send_queue.add_publish(item)
    send_queue.fill(now=0.0)
    frame = parse_broker_request(send_queue.frames.popleft())
    assert isinstance(frame.corr, int)
    return send_queue, items, frame.corr


async def test_err_not_owner_sets_the_whole_frame_aside() -> None:
    send_queue, [item], corr = sent(1)
    refusal = bf.Err(code="not_owner", msg="owned by b1", corr=corr)
    assert send_queue.refuse(corr, refusal, now=0.0) is None, "no pause of this connection"
    assert send_queue.rerouted
    assert send_queue.take_rerouted() == [item]
    assert not send_queue.rerouted
    assert not item.future.done()
    assert send_queue.pending_publishes == 0


async def test_not_owner_items_of_a_batch_are_set_aside_the_others_settle() -> None:
    send_queue, [first, second], corr = sent(2)
    results: list[bf.PublishResult] = [
        bf.PublishedItem(topic="orders", partition=0, offset=0, id="id-0"),
        bf.ItemError(code="not_owner", msg="partition 1 moved"),
    ]
    assert not send_queue.resolve(corr, results)
    assert first.future.result().offset == 0
    assert send_queue.take_rerouted() == [second]


async def test_take_unsent_hands_back_what_is_rejected() -> None:
    send_queue, _, _ = sent(4)
    send_queue.connection_lost()
    taken = send_queue.take_unsent(lambda p: p.item.id in {"id-0", "id-2"})
    assert [p.item.id for p in taken] == ["id-1", "id-3"]
    assert send_queue.pending_publishes == 2


async def test_fail_all_fails_rerouted_publishes_too() -> None:
    send_queue, [item], corr = sent(1)
    send_queue.refuse(corr, bf.Err(code="not_owner", msg="moved", corr=corr), now=0.0)
    error = PrometheanError("client closed")
    send_queue.fail_all(error)
    assert item.future.exception() is error
