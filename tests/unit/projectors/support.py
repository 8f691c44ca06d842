"""Heartbeat records as services publish them, for projector tests."""

from __future__ import annotations

from typing import Any

from promethean.projectors.heartbeat import HeartbeatProjectorSettings
from promethean.projectors.process_status import StatusPolicy

POLICY = StatusPolicy(stall_after_ms=30_000, dead_after_ms=15_000, forget_after_ms=60_000)
SETTINGS = HeartbeatProjectorSettings(policy=POLICY, snapshot_every_ms=10_000, sweep_every_ms=1_000)


def beat(
    ts: int,
    *,
    pid: int = 100,
    name: str = "worker",
    host: str = "node-a",
    connected: bool = True,
    last_progress_ts: int | None = None,
    queue: int = 0,
) -> dict[str, Any]:
    return {
        "pid": pid,
        "name": name,
        "host": host,
        "connected": connected,
        "queue": queue,
        "inflight": 0,
        "last_progress_ts": ts if last_progress_ts is None else last_progress_ts,
        "avg_job_ms": 1.5,
        "ts": ts,
    }


def key_of(record: dict[str, Any]) -> str:
    return f"{record['host']}:{record['name']}:{record['pid']}"
