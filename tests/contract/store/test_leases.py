"""Leases with fencing tokens, and fenced appends."""

from __future__ import annotations

import pytest

from promethean.errors import FencedError
from promethean.store import AppendResult, Fence, Lease, Store

from .builders import event

NAME = "partition/orders/0"
TTL = 1_000
T0 = 1_700_000_000_000


async def test_acquiring_a_free_lease_grants_token_one(store: Store) -> None:
    assert await store.get_lease(NAME) is None

    lease = await store.acquire_lease(NAME, "broker-a", TTL, T0)

    assert lease == Lease(NAME, "broker-a", 1, T0 + TTL)
    assert await store.get_lease(NAME) == lease


async def test_a_live_lease_blocks_other_holders(store: Store) -> None:
    held = await store.acquire_lease(NAME, "broker-a", TTL, T0)

    assert await store.acquire_lease(NAME, "broker-b", TTL, T0 + TTL - 1) is None
    assert await store.get_lease(NAME) == held


async def test_an_expired_lease_goes_to_a_new_holder_with_the_next_token(store: Store) -> None:
    await store.acquire_lease(NAME, "broker-a", TTL, T0)

    taken = await store.acquire_lease(NAME, "broker-b", TTL, T0 + TTL + 1)
    taken_again = await store.acquire_lease(NAME, "broker-c", TTL, T0 + 3 * TTL)

    assert taken == Lease(NAME, "broker-b", 2, T0 + 2 * TTL + 1)
    assert taken_again == Lease(NAME, "broker-c", 3, T0 + 4 * TTL)


async def test_the_same_holder_reacquiring_keeps_its_token(store: Store) -> None:
    await store.acquire_lease(NAME, "broker-a", TTL, T0)

    again = await store.acquire_lease(NAME, "broker-a", TTL, T0 + 500)

    assert again == Lease(NAME, "broker-a", 1, T0 + 500 + TTL)


async def test_renew_extends_a_held_lease(store: Store) -> None:
    lease = await store.acquire_lease(NAME, "broker-a", TTL, T0)
    assert lease is not None

    renewed = await store.renew_lease(NAME, "broker-a", lease.token, 5_000, T0 + 900)

    assert renewed == Lease(NAME, "broker-a", 1, T0 + 900 + 5_000)
    assert await store.acquire_lease(NAME, "broker-b", TTL, T0 + 2_000) is None


async def test_renew_after_expiry_succeeds_while_nobody_took_it(store: Store) -> None:
    await store.acquire_lease(NAME, "broker-a", TTL, T0)

    renewed = await store.renew_lease(NAME, "broker-a", 1, TTL, T0 + TTL + 50)

    assert renewed == Lease(NAME, "broker-a", 1, T0 + 2 * TTL + 50)


async def test_renew_after_losing_the_lease_fails(store: Store) -> None:
    await store.acquire_lease(NAME, "broker-a", TTL, T0)
    taken = await store.acquire_lease(NAME, "broker-b", TTL, T0 + TTL + 1)

    assert await store.renew_lease(NAME, "broker-a", 1, TTL, T0 + TTL + 2) is None
    assert await store.renew_lease(NAME, "broker-b", 1, TTL, T0 + TTL + 2) is None
    assert await store.renew_lease("never-acquired", "broker-a", 1, TTL, T0) is None
    assert await store.get_lease(NAME) == taken


async def test_release_frees_the_lease_and_keeps_the_token_counter(store: Store) -> None:
    await store.acquire_lease(NAME, "broker-a", TTL, T0)

    assert await store.release_lease(NAME, "broker-b", 1) is False
    assert await store.release_lease(NAME, "broker-a", 2) is False
    assert await store.acquire_lease(NAME, "broker-b", TTL, T0 + 10) is None
    assert await store.release_lease(NAME, "broker-a", 1) is True

    taken = await store.acquire_lease(NAME, "broker-b", TTL, T0 + 10)

    assert taken == Lease(NAME, "broker-b", 2, T0 + 10 + TTL)


async def test_leases_are_independent_by_name(store: Store) -> None:
    await store.acquire_lease("lease-1", "broker-a", TTL, T0)

    other = await store.acquire_lease("lease-2", "broker-b", TTL, T0)

    assert other == Lease("lease-2", "broker-b", 1, T0 + TTL)


async def test_a_stale_holders_fenced_append_is_refused(store: Store) -> None:
    old = await store.acquire_lease(NAME, "broker-a", TTL, T0)
    new = await store.acquire_lease(NAME, "broker-b", TTL, T0 + TTL + 1)
    assert old is not None
    assert new is not None

    with pytest.raises(FencedError):
        await store.append("orders", 0, [event("from-old")], fence=Fence(NAME, old.token))
    assert await store.latest_offset("orders", 0) == -1
    assert await store.find_ids("orders", ["from-old"]) == {}

    result = await store.append("orders", 0, [event("from-new")], fence=Fence(NAME, new.token))

    assert result == [AppendResult(0, 0, "from-new")]


async def test_a_fenced_append_without_such_a_lease_is_refused(store: Store) -> None:
    with pytest.raises(FencedError):
        await store.append("orders", 0, [event("x")], fence=Fence("no-such-lease", 1))
    assert await store.count_events("orders") == 0
