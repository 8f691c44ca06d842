"""Broker registration, per-partition ownership grants with fencing tokens,
fenced appends and commits, and the ownership log that proves no partition
was ever appended by two brokers."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from promethean.errors import FencedError
from promethean.store import AppendResult, CommittedOffset, Store
from promethean.store.ownership_records import (
    BrokerRecord,
    OwnershipGrant,
    PartitionFence,
    PartitionOwner,
)

from .builders import assert_one_writer_at_a_time, event

TOPIC = "orders"
TTL = 1_000
T0 = 1_700_000_000_000


def owner(broker_id: str, token: int, expires_at_ms: int, partition: int = 0) -> PartitionOwner:
    return PartitionOwner(
        topic=TOPIC,
        partition=partition,
        broker_id=broker_id,
        token=token,
        expires_at_ms=expires_at_ms,
    )


async def acquired(store: Store, broker_id: str, now_ms: int, partition: int = 0) -> int:
    """Acquire for ``broker_id``, failing the test if it is refused; the token."""
    grant = await store.acquire_partition(TOPIC, partition, broker_id, TTL, now_ms)
    assert grant is not None, f"{broker_id} was refused partition {partition} at {now_ms}"
    return grant.token


async def append_as(store: Store, token: int, *ids: str, partition: int = 0) -> None:
    fence = PartitionFence(TOPIC, partition, token)
    await store.append_owned([(fence, [event(i) for i in ids])])


# -- brokers -----------------------------------------------------------------


async def test_registered_brokers_are_listed_while_live(store: Store) -> None:
    b = await store.register_broker("broker-b", "b.brokers:7070", TTL, T0)
    a = await store.register_broker("broker-a", "a.brokers:7070", 2 * TTL, T0)

    assert b == BrokerRecord(broker_id="broker-b", address="b.brokers:7070", expires_at_ms=T0 + TTL)
    assert await store.list_brokers(T0 + 1) == [a, b]
    assert await store.list_brokers(T0 + TTL) == [a]
    assert await store.list_brokers(T0 + 2 * TTL) == []


async def test_a_heartbeat_extends_a_live_registration(store: Store) -> None:
    await store.register_broker("broker-a", "a:7070", TTL, T0)

    beat = await store.heartbeat_broker("broker-a", TTL, T0 + 900)

    assert beat == BrokerRecord(broker_id="broker-a", address="a:7070", expires_at_ms=T0 + 1_900)
    assert await store.list_brokers(T0 + 1_500) == [beat]


async def test_a_heartbeat_after_expiry_or_unknown_is_refused(store: Store) -> None:
    await store.register_broker("broker-a", "a:7070", TTL, T0)

    assert await store.heartbeat_broker("broker-a", TTL, T0 + TTL) is None
    assert await store.heartbeat_broker("never-registered", TTL, T0) is None
    again = await store.register_broker("broker-a", "a2:7070", TTL, T0 + TTL)
    assert await store.list_brokers(T0 + TTL) == [again]


async def test_deregister_removes_a_broker(store: Store) -> None:
    await store.register_broker("broker-a", "a:7070", TTL, T0)

    assert await store.deregister_broker("broker-a") is True
    assert await store.deregister_broker("broker-a") is False
    assert await store.list_brokers(T0) == []


# -- grants ------------------------------------------------------------------


async def test_a_free_partition_is_granted_with_token_one_and_logged(store: Store) -> None:
    grant = await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    assert grant == owner("broker-a", 1, T0 + TTL)
    assert await store.list_partition_owners(TOPIC) == [grant]
    assert await store.ownership_log(TOPIC, 0) == [
        OwnershipGrant(topic=TOPIC, partition=0, token=1, broker_id="broker-a", acquired_ms=T0)
    ]


async def test_a_live_grant_blocks_other_brokers(store: Store) -> None:
    held = await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    assert await store.acquire_partition(TOPIC, 0, "broker-b", TTL, T0 + TTL - 1) is None
    assert await store.list_partition_owners() == [held]


async def test_the_live_holder_acquiring_again_gets_its_grant_unchanged(store: Store) -> None:
    held = await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    assert await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0 + 500) == held
    assert len(await store.ownership_log(TOPIC, 0)) == 1


async def test_an_expired_grant_goes_to_the_next_broker_with_token_plus_one(store: Store) -> None:
    await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    taken = await store.acquire_partition(TOPIC, 0, "broker-b", TTL, T0 + TTL)
    back = await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0 + 3 * TTL)

    assert taken == owner("broker-b", 2, T0 + 2 * TTL)
    assert back == owner("broker-a", 3, T0 + 4 * TTL)
    assert [(g.token, g.broker_id) for g in await store.ownership_log(TOPIC, 0)] == [
        (1, "broker-a"),
        (2, "broker-b"),
        (3, "broker-a"),
    ]


async def test_a_released_grant_is_free_at_once_for_the_next_token(store: Store) -> None:
    await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    assert await store.release_partition(TOPIC, 0, "broker-b", 1) is False
    assert await store.release_partition(TOPIC, 0, "broker-a", 2) is False
    assert await store.release_partition(TOPIC, 0, "broker-a", 1) is True
    (released,) = await store.list_partition_owners(TOPIC)
    assert released.released
    assert released.token == 1
    assert await store.release_partition(TOPIC, 0, "broker-a", 1) is False

    assert await store.acquire_partition(TOPIC, 0, "broker-b", TTL, T0 + 10) == owner(
        "broker-b", 2, T0 + 10 + TTL
    )


async def test_renew_extends_a_live_grant(store: Store) -> None:
    await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    renewed = await store.renew_partition(TOPIC, 0, "broker-a", 1, 5_000, T0 + 900)

    assert renewed == owner("broker-a", 1, T0 + 900 + 5_000)
    assert await store.acquire_partition(TOPIC, 0, "broker-b", TTL, T0 + 2_000) is None


async def test_renewals_past_expiry_or_of_a_lost_grant_are_refused(store: Store) -> None:
    await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    assert await store.renew_partition(TOPIC, 0, "broker-a", 1, TTL, T0 + TTL) is None
    assert await store.renew_partition(TOPIC, 0, "broker-b", 1, TTL, T0 + 10) is None
    assert await store.renew_partition(TOPIC, 0, "broker-a", 2, TTL, T0 + 10) is None
    assert await store.renew_partition(TOPIC, 7, "broker-a", 1, TTL, T0) is None
    await store.release_partition(TOPIC, 0, "broker-a", 1)
    assert await store.renew_partition(TOPIC, 0, "broker-a", 1, TTL, T0 + 20) is None


async def test_the_ownership_table_lists_partitions_by_topic(store: Store) -> None:
    for partition in (2, 0, 1):
        await store.acquire_partition(TOPIC, partition, f"broker-{partition}", TTL, T0)
    await store.acquire_partition("audit", 0, "broker-x", TTL, T0)

    table = await store.list_partition_owners(TOPIC)
    everything = await store.list_partition_owners()

    assert [(o.partition, o.broker_id, o.token) for o in table] == [
        (0, "broker-0", 1),
        (1, "broker-1", 1),
        (2, "broker-2", 1),
    ]
    assert [(o.topic, o.partition) for o in everything] == [
        ("audit", 0),
        (TOPIC, 0),
        (TOPIC, 1),
        (TOPIC, 2),
    ]


async def test_two_brokers_racing_for_a_partition_one_wins(store: Store) -> None:
    grants = await asyncio.gather(
        *(store.acquire_partition(TOPIC, 0, f"broker-{n}", TTL, T0) for n in range(4))
    )

    winners = [grant for grant in grants if grant is not None]
    assert len(winners) == 1
    assert winners[0].token == 1
    assert len(await store.ownership_log(TOPIC, 0)) == 1


async def test_racing_takeovers_of_an_expired_grant_produce_one_next_token(store: Store) -> None:
    await store.acquire_partition(TOPIC, 0, "broker-a", TTL, T0)

    grants = await asyncio.gather(
        *(store.acquire_partition(TOPIC, 0, f"broker-{n}", TTL, T0 + TTL) for n in range(4))
    )

    winners = [grant for grant in grants if grant is not None]
    assert [w.token for w in winners] == [2]
    assert [g.token for g in await store.ownership_log(TOPIC, 0)] == [1, 2]


# -- fenced appends and commits ------------------------------------------------


async def test_an_owned_append_keeps_its_token_and_reads_stay_unchanged(store: Store) -> None:
    token = await acquired(store, "broker-a", T0)
    await store.append(TOPIC, 0, [event("plain")])

    results = await store.append_owned([(PartitionFence(TOPIC, 0, token), [event("owned")])])

    assert results == [[AppendResult(0, 1, "owned")]]
    assert await store.fence_tokens(TOPIC, 0, 0, 10) == [(0, None), (1, token)]
    assert await store.fence_tokens(TOPIC, 0, 1, 10) == [(1, token)]
    assert await store.fence_tokens(TOPIC, 0, 0, 1) == [(0, None)]
    await store.append(TOPIC, 1, [event("plain-twin")])
    (owned,) = await store.read(TOPIC, 0, 1, 10)
    (plain,) = await store.read(TOPIC, 1, 0, 10)
    assert owned == msgspec.structs.replace(plain, partition=0, offset=1, id="owned")


async def test_owned_appends_stay_idempotent(store: Store) -> None:
    token = await acquired(store, "broker-a", T0)
    fence = PartitionFence(TOPIC, 0, token)
    await store.append_owned([(fence, [event("e1")])])

    again = await store.append_owned([(fence, [event("e1"), event("e2")])])

    assert again == [[AppendResult(0, 0, "e1", duplicate=True), AppendResult(0, 1, "e2")]]


async def test_a_stale_owners_append_is_refused_after_a_takeover(store: Store) -> None:
    old = await acquired(store, "broker-a", T0)
    await append_as(store, old, "a1")
    new = await acquired(store, "broker-b", T0 + TTL)

    with pytest.raises(FencedError):
        await append_as(store, old, "a2")
    await append_as(store, new, "b1")

    assert await store.find_ids(TOPIC, ["a2"]) == {}
    assert await store.fence_tokens(TOPIC, 0, 0, 10) == [(0, old), (1, new)]
    await assert_one_writer_at_a_time(store, TOPIC, 0)


async def test_an_append_after_release_or_without_a_grant_is_refused(store: Store) -> None:
    token = await acquired(store, "broker-a", T0)
    await store.release_partition(TOPIC, 0, "broker-a", token)

    with pytest.raises(FencedError):
        await append_as(store, token, "late")
    with pytest.raises(FencedError):
        await append_as(store, 1, "nowhere", partition=5)
    assert await store.count_events(TOPIC) == 0


async def test_one_stale_fence_refuses_every_batch(store: Store) -> None:
    p0 = await acquired(store, "broker-a", T0, partition=0)
    p1 = await acquired(store, "broker-a", T0, partition=1)

    with pytest.raises(FencedError):
        await store.append_owned(
            [
                (PartitionFence(TOPIC, 0, p0), [event("fine")]),
                (PartitionFence(TOPIC, 1, p1 + 1), [event("stale")]),
            ]
        )
    assert await store.count_events(TOPIC) == 0


async def test_an_owned_commit_checks_every_partitions_token(store: Store) -> None:
    p0 = await acquired(store, "broker-a", T0, partition=0)
    p1 = await acquired(store, "broker-a", T0, partition=1)

    done = await store.commit_owned("g", TOPIC, {0: 4, 1: 2}, tokens={0: p0, 1: p1})
    assert done == {0: CommittedOffset(0, 4), 1: CommittedOffset(1, 2)}

    with pytest.raises(FencedError):
        await store.commit_owned("g", TOPIC, {0: 9}, tokens={1: p1})
    with pytest.raises(FencedError):
        await store.commit_owned("g", TOPIC, {0: 9, 1: 9}, tokens={0: p0, 1: p1 + 1})
    assert await store.get_commits("g", TOPIC) == done


async def test_a_stale_owners_commit_is_refused_after_a_takeover(store: Store) -> None:
    old = await acquired(store, "broker-a", T0)
    await store.commit_owned("g", TOPIC, {0: 1}, tokens={0: old})
    new = await acquired(store, "broker-b", T0 + TTL)

    with pytest.raises(FencedError):
        await store.commit_owned("g", TOPIC, {0: 5}, tokens={0: old})
    await store.commit_owned("g", TOPIC, {0: 3}, tokens={0: new})

    assert await store.get_commits("g", TOPIC) == {0: CommittedOffset(0, 3)}


async def test_a_stale_owner_racing_a_takeover_never_interleaves(store: Store) -> None:
    """The old owner keeps appending while another broker takes over and
    appends: some of the old owner's batches are refused, none lands after
    the new owner's first event."""
    old = await acquired(store, "broker-a", T0)
    refused = 0

    async def old_owner() -> None:
        nonlocal refused
        for n in range(20):
            try:
                await append_as(store, old, f"a{n}")
            except FencedError:
                refused += 1

    async def new_owner() -> None:
        token = await acquired(store, "broker-b", T0 + TTL)
        for n in range(5):
            await append_as(store, token, f"b{n}")

    await asyncio.gather(old_owner(), new_owner())

    assert refused > 0
    await assert_one_writer_at_a_time(store, TOPIC, 0)
    offsets = [offset for offset, _ in await store.fence_tokens(TOPIC, 0, 0, 100)]
    assert offsets == list(range(25 - refused))


async def test_handoffs_leave_every_event_traceable_to_one_grant(store: Store) -> None:
    a = await acquired(store, "broker-a", T0)
    await append_as(store, a, "a1", "a2")
    assert await store.release_partition(TOPIC, 0, "broker-a", a)
    b = await acquired(store, "broker-b", T0 + 10)
    await append_as(store, b, "b1")
    c = await acquired(store, "broker-c", T0 + 10 + TTL)  # broker-b died
    await append_as(store, c, "c1", "c2")

    log = {g.token: g.broker_id for g in await store.ownership_log(TOPIC, 0)}
    writers = [log[t] for _, t in await store.fence_tokens(TOPIC, 0, 0, 10) if t is not None]

    assert writers == ["broker-a", "broker-a", "broker-b", "broker-c", "broker-c"]
    await assert_one_writer_at_a_time(store, TOPIC, 0)
