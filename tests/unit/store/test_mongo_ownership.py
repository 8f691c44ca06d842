"""Partition ownership on MongoDB beyond the contract: brokers in separate
store instances (separate connection pools) racing for one partition."""

from __future__ import annotations

import pytest
from tests.unit.store.racing import assert_one_grant_per_round, skip_without_atomic_updates

from promethean.store.mongo import MongoStore

pytestmark = pytest.mark.mongo


async def test_brokers_in_separate_instances_never_share_a_grant(mongo_store_url: str) -> None:
    stores = [MongoStore(mongo_store_url) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        skip_without_atomic_updates(stores[0])
        await assert_one_grant_per_round(stores, rounds=5)
    finally:
        for store in stores:
            await store.close()
