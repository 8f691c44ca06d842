"""A broker whose registration lapsed during a store outage says so once,
not on every heartbeat until the store takes the registration again."""

from __future__ import annotations

import logging

import pytest

from promethean.errors import StoreUnavailableError
from promethean.store.memory import MemoryStore
from promethean.store.ownership_records import BrokerRecord
from promethean_broker.presence import BrokerPresence

TTL_MS = 1_500


class FullDisk(MemoryStore):
    """Registrations fail while ``full`` is set."""

    full = False

    async def register_broker(
        self, broker_id: str, address: str, ttl_ms: int, now_ms: int
    ) -> BrokerRecord:
        if self.full:
            raise StoreUnavailableError("database or disk is full")
        return await super().register_broker(broker_id, address, ttl_ms, now_ms)


async def test_a_lapsed_registration_is_logged_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FullDisk("memory://presence-tests")
    await store.open()
    now = [1_000_000]
    presence = BrokerPresence(store, "b1", "ws://b1:7070", TTL_MS, lambda: now[0])
    await presence.beat()
    store.full = True
    now[0] += TTL_MS + 1  # the registration lapsed during the outage
    with caplog.at_level(logging.WARNING, logger="promethean.broker.presence"):
        for _ in range(5):
            with pytest.raises(StoreUnavailableError):
                await presence.beat()
            now[0] += TTL_MS // 3
        store.full = False
        await presence.beat()
    lapsed = [r for r in caplog.records if "registration had expired" in r.getMessage()]
    assert len(lapsed) == 1
    assert [b.broker_id for b in await store.list_brokers(now[0])] == ["b1"]
    await store.close()
