"""The status of a process from its heartbeats: pure rules, no I/O.

- ``dead``: no heartbeat received for ``dead_after_ms`` (judged by the
  projector's own clock at receipt, so clock skew between hosts does not
  matter);
- ``disconnected``: the last heartbeat says the process lost what it
  depends on (``connected: false``);
- ``stalled``: its work loop made no progress for ``stall_after_ms``,
  measured on the sender's clock (``ts - last_progress_ts``, both from the
  same host);
- ``alive``: otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import msgspec


class ProcessStatus(enum.StrEnum):
    ALIVE = "alive"
    STALLED = "stalled"
    DISCONNECTED = "disconnected"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    stall_after_ms: int
    dead_after_ms: int
    forget_after_ms: int
    """A process dead this long is removed (a tombstone on ``process.state``)."""


class Heartbeat(msgspec.Struct, frozen=True):
    """One record of ``heartbeat.received`` (promethean.runtime.heartbeat)."""

    pid: int
    name: str
    host: str
    connected: bool
    queue: int
    inflight: int
    last_progress_ts: int
    avg_job_ms: float
    ts: int

    @property
    def key(self) -> str:
        return f"{self.host}:{self.name}:{self.pid}"


_heartbeat_decoder = msgspec.json.Decoder(Heartbeat)


def decode_heartbeat(raw: bytes) -> Heartbeat:
    """Raises `msgspec.ValidationError` / `msgspec.DecodeError` on a bad record."""
    return _heartbeat_decoder.decode(raw)


def status_of(beat: Heartbeat, policy: StatusPolicy) -> ProcessStatus:
    """The status a fresh heartbeat shows (``dead`` is decided by `is_dead`)."""
    if not beat.connected:
        return ProcessStatus.DISCONNECTED
    if beat.ts - beat.last_progress_ts > policy.stall_after_ms:
        return ProcessStatus.STALLED
    return ProcessStatus.ALIVE


def is_dead(received_ms: int, now_ms: int, policy: StatusPolicy) -> bool:
    return now_ms - received_ms > policy.dead_after_ms


@dataclass(slots=True)
class ProcessEntry:
    """What the projector remembers of one process."""

    beat: Heartbeat
    partition: int
    status: ProcessStatus
    since_ms: int
    """When the current status began (projector clock)."""
    received_ms: int
    """When the last heartbeat arrived (projector clock)."""

    def state(self) -> dict[str, Any]:
        """The ``process.state`` record."""
        beat = self.beat
        return {
            "key": beat.key,
            "host": beat.host,
            "name": beat.name,
            "pid": beat.pid,
            "status": self.status.value,
            "since": self.since_ms,
            "connected": beat.connected,
            "queue": beat.queue,
            "inflight": beat.inflight,
            "last_progress_ts": beat.last_progress_ts,
            "avg_job_ms": beat.avg_job_ms,
            "last_heartbeat_ts": beat.ts,
            "received_ts": self.received_ms,
        }
