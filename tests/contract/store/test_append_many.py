"""``append_many``: several partitions in one call behave exactly like the
same appends made one after another."""

from __future__ import annotations

import pytest

from promethean.errors import FencedError
from promethean.store import AppendResult, Fence, Store

from .builders import event, fill

TOPIC = "orders"


async def test_batches_get_dense_offsets_per_partition(store: Store) -> None:
    await fill(store, TOPIC, 1, 2, prefix="old-")
    results = await store.append_many(
        [
            (TOPIC, 0, [event("a"), event("b")]),
            (TOPIC, 1, [event("c")]),
            ("other", 0, [event("d")]),
        ]
    )

    assert results == [
        [AppendResult(0, 0, "a"), AppendResult(0, 1, "b")],
        [AppendResult(1, 2, "c")],
        [AppendResult(0, 0, "d")],
    ]
    assert [e.id for e in await store.read(TOPIC, 1, 0, 10)] == ["old-0", "old-1", "c"]
    assert await store.latest_offset("other", 0) == 0


async def test_an_id_from_an_earlier_batch_is_a_duplicate_in_a_later_one(store: Store) -> None:
    results = await store.append_many(
        [(TOPIC, 0, [event("same")]), (TOPIC, 3, [event("same"), event("fresh")])]
    )

    assert results[0] == [AppendResult(0, 0, "same")]
    assert results[1] == [AppendResult(0, 0, "same", duplicate=True), AppendResult(3, 0, "fresh")]
    assert await store.latest_offset(TOPIC, 3) == 0


async def test_a_stale_fence_refuses_every_batch(store: Store) -> None:
    old = await store.acquire_lease("broker", "a", ttl_ms=100, now_ms=0)
    assert old is not None
    new = await store.acquire_lease("broker", "b", ttl_ms=100, now_ms=1_000)
    assert new is not None
    assert new.token > old.token

    with pytest.raises(FencedError):
        await store.append_many(
            [(TOPIC, 0, [event("x")]), (TOPIC, 1, [event("y")])],
            fence=Fence("broker", old.token),
        )
    assert await store.latest_offset(TOPIC, 0) == -1
    assert await store.latest_offset(TOPIC, 1) == -1
    accepted = await store.append_many([(TOPIC, 0, [event("x")])], fence=Fence("broker", new.token))
    assert accepted == [[AppendResult(0, 0, "x")]]
