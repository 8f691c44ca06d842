"""The heartbeat projector on the mock broker: states on change only,
dead after silence, forgotten with a tombstone, snapshots, revokes."""

from __future__ import annotations

from typing import Any

import pytest

from promethean.client.mock.helpers import RecordingSubscriber
from promethean.errors import SettingsError
from promethean.projectors.heartbeat import (
    SNAPSHOT_TOPIC,
    STATE_TOPIC,
    HeartbeatProjector,
    HeartbeatProjectorSettings,
)
from promethean.runtime.heartbeat import HEARTBEAT_TOPIC
from promethean.testing import InMemoryBroker
from tests.unit.projectors.support import SETTINGS, beat, key_of


async def started(bus: InMemoryBroker) -> tuple[HeartbeatProjector, RecordingSubscriber]:
    projector = HeartbeatProjector(bus, bus.clock, SETTINGS, instance_id="worker-0")
    states = bus.recording_subscriber()
    await bus.subscribe(STATE_TOPIC, "observer", states)
    await bus.subscribe(HEARTBEAT_TOPIC, "projector", projector.handle)
    return projector, states


async def send(bus: InMemoryBroker, record: dict[str, Any]) -> None:
    await bus.publish(HEARTBEAT_TOPIC, record, key=key_of(record))


async def test_states_are_published_only_when_the_status_changes(bus: InMemoryBroker) -> None:
    projector, states = await started(bus)
    now = bus.clock.now_ms()
    for n in range(3):
        await send(bus, beat(now + n * 1000, queue=n))
    assert [m.payload["status"] for m in states.messages] == ["alive"]
    assert states.messages[0].key == "node-a:worker:100"

    await send(bus, beat(now + 40_000, last_progress_ts=now))
    await send(bus, beat(now + 41_000, connected=False))
    await send(bus, beat(now + 42_000))
    assert [m.payload["status"] for m in states.messages] == [
        "alive",
        "stalled",
        "disconnected",
        "alive",
    ]
    assert projector.entries["node-a:worker:100"].beat.ts == now + 42_000


async def test_a_silent_process_is_marked_dead_then_forgotten(bus: InMemoryBroker) -> None:
    projector, states = await started(bus)
    await send(bus, beat(bus.clock.now_ms()))
    await send(bus, beat(bus.clock.now_ms(), pid=200))

    bus.clock.advance(10_000)
    await send(bus, beat(bus.clock.now_ms(), pid=200))  # pid 200 keeps beating
    bus.clock.advance(5_001)
    assert await projector.sweep() == 1
    dead = states.messages[-1]
    assert (dead.key, dead.payload["status"]) == ("node-a:worker:100", "dead")
    assert dead.payload["since"] == bus.clock.now_ms()
    assert await projector.sweep() == 0, "dead is published once"

    bus.clock.advance(60_000)
    await projector.sweep()
    tombstone = [m for m in states.messages if m.key == "node-a:worker:100"][-1]
    assert tombstone.raw_payload == b"null"
    assert "node-a:worker:100" not in projector.entries
    assert states.messages[-1].key == "node-a:worker:200"
    assert states.messages[-1].payload["status"] == "dead"


async def test_a_heartbeat_after_death_brings_the_process_back(bus: InMemoryBroker) -> None:
    projector, states = await started(bus)
    await send(bus, beat(bus.clock.now_ms()))
    bus.clock.advance(20_000)
    await projector.sweep()
    await send(bus, beat(bus.clock.now_ms()))
    assert [m.payload["status"] for m in states.messages] == ["alive", "dead", "alive"]


async def test_an_older_redelivered_heartbeat_changes_nothing(bus: InMemoryBroker) -> None:
    projector, states = await started(bus)
    now = bus.clock.now_ms()
    await send(bus, beat(now + 5_000))
    await send(bus, beat(now, connected=False))
    assert [m.payload["status"] for m in states.messages] == ["alive"]
    assert projector.entries["node-a:worker:100"].beat.ts == now + 5_000


async def test_a_malformed_heartbeat_is_skipped_and_acked(bus: InMemoryBroker) -> None:
    projector, states = await started(bus)
    await bus.publish(HEARTBEAT_TOPIC, {"pid": "not a number"}, key="bad")
    await send(bus, beat(bus.clock.now_ms()))
    assert len(states.messages) == 1
    assert bus.counters.nacked == 0
    assert list(projector.entries) == ["node-a:worker:100"]


async def test_revoked_partitions_drop_their_processes(bus: InMemoryBroker) -> None:
    projector, _ = await started(bus)
    for pid in range(20):
        await send(bus, beat(bus.clock.now_ms(), pid=pid))
    partitions = {entry.partition for entry in projector.entries.values()}
    assert len(partitions) > 1, "20 keys should spread over several partitions"
    revoked = frozenset({min(partitions)})
    await projector.on_revoked(HEARTBEAT_TOPIC, revoked)
    assert projector.entries
    assert all(entry.partition not in revoked for entry in projector.entries.values())
    assert len(projector.entries) < 20


async def test_the_snapshot_holds_every_current_state(bus: InMemoryBroker) -> None:
    projector, _ = await started(bus)
    await send(bus, beat(bus.clock.now_ms(), pid=2))
    await send(bus, beat(bus.clock.now_ms(), pid=1, connected=False))
    await projector.snapshot()
    snapshot = await bus.next_message(SNAPSHOT_TOPIC)
    assert snapshot.key == "worker-0"
    assert snapshot.payload["instance"] == "worker-0"
    assert [(p["pid"], p["status"]) for p in snapshot.payload["processes"]] == [
        (1, "disconnected"),
        (2, "alive"),
    ]


async def test_timers_sweep_on_their_own(bus: InMemoryBroker) -> None:
    settings = HeartbeatProjectorSettings(
        policy=SETTINGS.policy, snapshot_every_ms=1, sweep_every_ms=10
    )
    projector = HeartbeatProjector(bus, bus.clock, settings, instance_id="w")
    states = bus.recording_subscriber()
    await bus.subscribe(STATE_TOPIC, "observer", states)
    await bus.subscribe(HEARTBEAT_TOPIC, "projector", projector.handle)
    await send(bus, beat(bus.clock.now_ms()))
    bus.clock.advance(20_000)
    projector.start_timers()
    try:
        await states.wait_for(2)
    finally:
        await projector.close()
    assert states.messages[-1].payload["status"] == "dead"


def test_settings_default_from_the_heartbeat_and_liveness_limits() -> None:
    settings = HeartbeatProjectorSettings.from_env(
        {}, heartbeat_ms=2_000, liveness_max_stall_ms=9_000
    )
    assert settings.policy.dead_after_ms == 10_000
    assert settings.policy.stall_after_ms == 9_000
    tuned = HeartbeatProjectorSettings.from_env(
        {"PROMETHEAN_PROCESS_DEAD_MS": "4000", "PROMETHEAN_PROCESS_SNAPSHOT_MS": "0"},
        heartbeat_ms=2_000,
        liveness_max_stall_ms=9_000,
    )
    assert (tuned.policy.dead_after_ms, tuned.snapshot_every_ms) == (4_000, 0)


def test_a_bad_setting_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_PROCESS_SWEEP_MS"):
        HeartbeatProjectorSettings.from_env(
            {"PROMETHEAN_PROCESS_SWEEP_MS": "soon"}, heartbeat_ms=1_000, liveness_max_stall_ms=1_000
        )
