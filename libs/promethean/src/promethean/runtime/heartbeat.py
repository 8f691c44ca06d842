"""The enriched heartbeat every service publishes to ``heartbeat.received``.

The record is keyed ``host:name:pid``, the key the heartbeat projector uses
for ``process.state``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from promethean.client.port import BusClient

log = logging.getLogger("promethean.heartbeat")

HEARTBEAT_TOPIC = "heartbeat.received"


@dataclass(frozen=True, slots=True)
class HeartbeatStats:
    connected: bool
    queue: int
    inflight: int
    last_progress_ts: int
    avg_job_ms: float


def heartbeat_record(name: str, stats: HeartbeatStats, now_ms: int) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "name": name,
        "host": socket.gethostname(),
        "connected": stats.connected,
        "queue": stats.queue,
        "inflight": stats.inflight,
        "last_progress_ts": stats.last_progress_ts,
        "avg_job_ms": round(stats.avg_job_ms, 3),
        "ts": now_ms,
    }


def heartbeat_key(name: str) -> str:
    return f"{socket.gethostname()}:{name}:{os.getpid()}"


class HeartbeatPublisher:
    def __init__(
        self,
        bus: BusClient,
        name: str,
        interval_ms: int,
        stats: Callable[[], HeartbeatStats],
        now_ms: Callable[[], int],
    ) -> None:
        self._bus = bus
        self._name = name
        self._interval_ms = interval_ms
        self._stats = stats
        self._now_ms = now_ms

    async def beat(self) -> None:
        record = heartbeat_record(self._name, self._stats(), self._now_ms())
        await self._bus.publish(HEARTBEAT_TOPIC, record, key=heartbeat_key(self._name))

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # a missed beat is not worth dying for
                log.warning("heartbeat not published", extra={"error": repr(exc)})
            await asyncio.sleep(self._interval_ms / 1000)
