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
from typing import Any, Protocol

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


class Publisher(Protocol):
    """Anything that can publish a JSON value: a `BusClient`, or a service's
    own path to the log (the broker's engine, the gateway's relay)."""

    async def publish(self, topic: str, payload: Any, *, key: str | None = None) -> object: ...


class HeartbeatPublisher:
    def __init__(
        self,
        bus: Publisher,
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
        """Beat every interval, the first one interval after start (by then
        the service has made progress worth reporting)."""
        while True:
            await asyncio.sleep(self._interval_ms / 1000)
            try:
                await self.beat()
            except Exception as exc:  # a missed beat is not worth dying for
                log.warning("heartbeat not published", extra={"error": repr(exc)})
