"""SIGKILL a compactor in the middle of compacting, restart it: no key is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from promethean.store import open_store
from promethean.store.records import Cleanup, TopicConfig
from tests.integration.compactor.conftest import CompactorFactory, wait_until
from tests.integration.compactor.model import KeyedModel, append_all, random_events

EVENTS = 100_000
KEYS = 2_000


async def test_sigkill_during_compaction_then_restart_loses_no_key(
    compactor_process: CompactorFactory, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    store = open_store(url)
    await store.open()
    try:
        topic = "accounts.state"
        config = TopicConfig(name=topic, partitions=1, cleanup=Cleanup.COMPACT)
        await store.put_topic_config(config)
        model = KeyedModel()
        events = random_events(EVENTS, KEYS, 1, seed=3, tombstone_share=0.0, ts=1)
        await append_all(store, topic, events, model)

        def count() -> int:
            return asyncio.run_coroutine_threadsafe(store.count_events(topic), loop).result()

        loop = asyncio.get_running_loop()
        # Small steps make the compaction long enough to be caught half-way.
        env = {"PROMETHEAN_COMPACTOR_BATCH_EVENTS": "500"}
        compactor = compactor_process(url, env, name="doomed")
        await asyncio.to_thread(
            wait_until, lambda: count() < EVENTS, 20, "compaction never started"
        )
        compactor.kill()
        left = await store.count_events(topic)
        assert KEYS < left < EVENTS, f"the kill did not land mid-compaction ({left} left)"
        for key, (_, offset, payload) in model.latest.items():
            event = await store.latest_by_key(topic, key)
            assert event is not None
            assert (event.offset, event.payload) == (offset, payload)

        compactor_process(url, env, name="restarted")
        await asyncio.to_thread(
            wait_until, lambda: count() == KEYS, 60, "the restarted compactor did not finish"
        )
        for key, (_, offset, payload) in model.latest.items():
            event = await store.latest_by_key(topic, key)
            assert event is not None
            assert (event.offset, event.payload) == (offset, payload)
    finally:
        await store.close()
