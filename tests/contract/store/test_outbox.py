"""The transactional outbox: claims, publication, retries, purge, stats."""

from __future__ import annotations

import asyncio

from promethean.store import NewOutboxRow, OutboxRow, OutboxStats, OutboxStatus, Store

from .builders import outbox_row

NOW = 1_700_000_000_000
LEASE = 30_000


async def test_inserted_rows_are_pending_with_their_fields(store: Store) -> None:
    row = NewOutboxRow(
        id="r1",
        topic="orders",
        payload=b'{"total":12.5}',
        created_ms=NOW - 5,
        key="customer-1",
        headers={"traceparent": "00-a-b-01"},
    )
    await store.outbox_insert([row])

    stored = await store.outbox_get("r1")

    assert stored == OutboxRow(
        id="r1",
        topic="orders",
        payload=b'{"total":12.5}',
        created_ms=NOW - 5,
        status=OutboxStatus.PENDING,
        key="customer-1",
        headers={"traceparent": "00-a-b-01"},
    )
    assert await store.outbox_get("missing") is None


async def test_inserting_an_existing_id_leaves_the_row_as_it_is(store: Store) -> None:
    await store.outbox_insert([outbox_row("r1", NOW)])
    (claimed,) = await store.outbox_claim("drainer-a", 10, LEASE, NOW)

    await store.outbox_insert(
        [NewOutboxRow(id="r1", topic="other", payload=b"{}", created_ms=NOW + 1)]
    )

    assert await store.outbox_get("r1") == claimed


async def test_claim_takes_due_rows_oldest_first_up_to_the_limit(store: Store) -> None:
    await store.outbox_insert(
        [outbox_row("c", NOW - 10), outbox_row("a", NOW - 30), outbox_row("b", NOW - 20)]
    )

    first = await store.outbox_claim("drainer-a", 2, LEASE, NOW)
    rest = await store.outbox_claim("drainer-b", 10, LEASE, NOW)

    assert [r.id for r in first] == ["a", "b"]
    assert all(r.claimed_by == "drainer-a" and r.lease_until_ms == NOW + LEASE for r in first)
    assert all(r.status is OutboxStatus.PENDING for r in first)
    assert [r.id for r in rest] == ["c"]
    assert await store.outbox_claim("drainer-c", 10, LEASE, NOW) == []


async def test_three_concurrent_claimers_each_get_distinct_rows(store: Store) -> None:
    ids = [f"row-{i:02d}" for i in range(30)]
    await store.outbox_insert([outbox_row(row_id, NOW - 100 + i) for i, row_id in enumerate(ids)])

    async def drain(claimer: str) -> list[str]:
        got: list[str] = []
        while rows := await store.outbox_claim(claimer, 3, LEASE, NOW):
            assert all(r.claimed_by == claimer for r in rows)
            got.extend(r.id for r in rows)
        return got

    per_claimer = await asyncio.gather(*(drain(f"drainer-{n}") for n in range(3)))

    everything = [row_id for got in per_claimer for row_id in got]
    assert sorted(everything) == ids
    assert len(set(everything)) == len(ids)
    for claimer, got in zip(range(3), per_claimer, strict=True):
        for row_id in got:
            row = await store.outbox_get(row_id)
            assert row is not None
            assert row.claimed_by == f"drainer-{claimer}"


async def test_only_the_holder_marks_rows_published(store: Store) -> None:
    await store.outbox_insert([outbox_row("r1", NOW), outbox_row("r2", NOW + 1)])
    await store.outbox_claim("drainer-a", 10, LEASE, NOW)

    assert await store.outbox_mark_published("drainer-b", ["r1", "r2"], NOW + 5) == 0
    assert await store.outbox_mark_published("drainer-a", ["r1", "missing"], NOW + 5) == 1
    assert await store.outbox_mark_published("drainer-a", ["r1"], NOW + 6) == 0

    published = await store.outbox_get("r1")
    assert published is not None
    assert (published.status, published.published_ms) == (OutboxStatus.PUBLISHED, NOW + 5)
    still_held = await store.outbox_get("r2")
    assert still_held is not None
    assert still_held.status is OutboxStatus.PENDING


async def test_retry_counts_the_attempt_and_delays_the_row(store: Store) -> None:
    await store.outbox_insert([outbox_row("r1", NOW)])
    await store.outbox_claim("drainer-a", 10, LEASE, NOW)

    assert await store.outbox_mark_retry("drainer-b", "r1", "not mine", NOW + 100) is False
    assert await store.outbox_mark_retry("drainer-a", "r1", "broker down", NOW + 100) is True

    row = await store.outbox_get("r1")
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 1, "broker down")
    assert row.next_attempt_ms == NOW + 100
    assert row.claimed_by is None
    assert await store.outbox_claim("drainer-b", 10, LEASE, NOW + 99) == []
    (again,) = await store.outbox_claim("drainer-b", 10, LEASE, NOW + 100)
    assert (again.id, again.claimed_by, again.attempts) == ("r1", "drainer-b", 1)


async def test_failed_rows_are_never_claimed_again(store: Store) -> None:
    await store.outbox_insert([outbox_row("r1", NOW)])
    await store.outbox_claim("drainer-a", 10, LEASE, NOW)

    assert await store.outbox_mark_failed("drainer-b", "r1", "nope") is False
    assert await store.outbox_mark_failed("drainer-a", "r1", "poison payload") is True

    row = await store.outbox_get("r1")
    assert row is not None
    assert (row.status, row.last_error) == (OutboxStatus.FAILED, "poison payload")
    assert await store.outbox_claim("drainer-b", 10, LEASE, NOW + 10 * LEASE) == []


async def test_a_lapsed_claim_can_be_taken_over(store: Store) -> None:
    await store.outbox_insert([outbox_row("r1", NOW)])
    await store.outbox_claim("drainer-a", 10, LEASE, NOW)

    assert await store.outbox_claim("drainer-b", 10, LEASE, NOW + LEASE - 1) == []
    (taken,) = await store.outbox_claim("drainer-b", 10, LEASE, NOW + LEASE + 1)

    assert (taken.id, taken.claimed_by, taken.lease_until_ms) == (
        "r1",
        "drainer-b",
        NOW + 2 * LEASE + 1,
    )
    assert await store.outbox_mark_published("drainer-a", ["r1"], NOW + LEASE + 2) == 0
    assert await store.outbox_mark_published("drainer-b", ["r1"], NOW + LEASE + 2) == 1


async def test_purge_deletes_only_rows_published_before_the_cutoff(store: Store) -> None:
    await store.outbox_insert(
        [outbox_row("old", NOW), outbox_row("new", NOW + 1), outbox_row("pending", NOW + 2)]
    )
    await store.outbox_claim("drainer-a", 2, LEASE, NOW)
    await store.outbox_mark_published("drainer-a", ["old"], NOW + 10)
    await store.outbox_mark_published("drainer-a", ["new"], NOW + 20)

    assert await store.outbox_purge(NOW + 20) == 1

    assert await store.outbox_get("old") is None
    assert await store.outbox_get("new") is not None
    assert await store.outbox_get("pending") is not None
    assert await store.outbox_purge(NOW + 1_000) == 1
    assert await store.outbox_get("pending") is not None


async def test_stats_count_rows_by_state(store: Store) -> None:
    assert await store.outbox_stats(NOW) == OutboxStats(0, 0, 0, 0, None)
    await store.outbox_insert(
        [outbox_row("r1", NOW - 300), outbox_row("r2", NOW - 200), outbox_row("r3", NOW - 100)]
    )
    await store.outbox_claim("drainer-a", 1, LEASE, NOW)
    await store.outbox_mark_published("drainer-a", ["r1"], NOW + 1)

    assert await store.outbox_stats(NOW + 2) == OutboxStats(2, 0, 1, 0, NOW - 200)

    (claimed,) = await store.outbox_claim("drainer-a", 1, LEASE, NOW + 3)
    stats = await store.outbox_stats(NOW + 4)
    assert (stats.pending, stats.claimed, stats.published, stats.failed) == (1, 1, 1, 0)
    lapsed = await store.outbox_stats(NOW + 4 + LEASE)
    assert (lapsed.pending, lapsed.claimed) == (2, 0)

    await store.outbox_mark_failed("drainer-a", claimed.id, "poison")
    assert await store.outbox_stats(NOW + 5) == OutboxStats(1, 0, 1, 1, NOW - 100)
