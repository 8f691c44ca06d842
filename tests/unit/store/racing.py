"""Brokers in separate store instances racing for one partition."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from promethean.store import Store

T0 = 1_700_000_000_000
TTL = 1_000


async def assert_one_grant_per_round(stores: Sequence[Store], rounds: int) -> None:
    """Each round every store asks for the partition at once, after the last
    grant expired: exactly one wins, and the log holds one grant per round."""
    for round_ in range(rounds):
        now = T0 + round_ * TTL
        grants = await asyncio.gather(
            *(
                store.acquire_partition("orders", 0, f"broker-{n}", TTL, now)
                for n, store in enumerate(stores)
            )
        )
        assert sum(grant is not None for grant in grants) == 1
    log = await stores[0].ownership_log("orders", 0)
    assert [grant.token for grant in log] == list(range(1, rounds + 1))


def skip_without_atomic_updates(store: Store) -> None:
    """Skip, naming the server, where conditional updates are not atomic
    across connections (FerretDB): racing instances are not serialized there."""
    if "not atomic" in store.capabilities.detail:
        pytest.skip(
            "the server lacks atomic conditional updates across connections "
            f"({store.capabilities.detail}); one process is covered by the contract suite"
        )
