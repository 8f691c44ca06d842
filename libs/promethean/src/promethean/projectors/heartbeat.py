"""The heartbeat projector: ``heartbeat.received`` → ``process.state``.

Every service publishes a heartbeat keyed ``host:name:pid``. The projector
keeps the latest one per process, derives its status (see
`process_status`), and publishes the process's state to ``process.state``
(same key) only when the status changes. A periodic sweep marks processes
whose heartbeats stopped as ``dead`` and, after ``forget_after_ms`` more,
publishes a tombstone (payload ``null``) so views drop them. A periodic
``process.state.snapshot`` (keyed by the worker instance) carries every
state this instance holds.

Run by ``promethean-worker`` as ``promethean.projectors.heartbeat:project``.
Each instance holds only the processes whose heartbeats land on the
partitions it owns; a revoked partition's processes are dropped and rebuilt
by the new owner from their next heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from promethean.client.port import BusClient
from promethean.client.types import Message
from promethean.clock import Clock
from promethean.projectors.contract import HandlerContext, HandlerSpec, PartitionHandler
from promethean.projectors.process_status import (
    ProcessEntry,
    ProcessStatus,
    StatusPolicy,
    decode_heartbeat,
    is_dead,
    status_of,
)
from promethean.runtime.heartbeat import HEARTBEAT_TOPIC
from promethean.settings import Derived, EnvReader, Variable, VariableTable, kinds
from promethean.settings.units import DAY_MS, HOUR_MS
from promethean.settings.variables import Values

log = logging.getLogger("promethean.projectors.heartbeat")

STATE_TOPIC: Final = "process.state"
SNAPSHOT_TOPIC: Final = "process.state.snapshot"
DEAD_AFTER_HEARTBEATS: Final = 5
DEFAULT_FORGET_MS: Final = 600_000
DEFAULT_SNAPSHOT_MS: Final = 10_000
DEFAULT_SWEEP_MS: Final = 1_000


WorkerDefault = Callable[[Values], int]
"""A default computed from the settings of the worker running the projector."""


def _worker_default(
    name: str, field: str, default: WorkerDefault, shown_default: str, doc: str
) -> Variable:
    """A duration whose default follows a setting of the worker."""

    def read(env: EnvReader, values: Values) -> int:
        return env.duration_ms(name, default(values), min_ms=1, max_ms=HOUR_MS)

    return kinds.custom(name, field, read, doc, default=shown_default, allowed=f"1 to {HOUR_MS}")


def _policy(env: EnvReader, values: Values) -> StatusPolicy:
    return StatusPolicy(
        stall_after_ms=values["stall_after_ms"],
        dead_after_ms=values["dead_after_ms"],
        forget_after_ms=values["forget_after_ms"],
    )


VARIABLES: Final = VariableTable(
    _worker_default(
        "PROMETHEAN_PROCESS_STALL_MS",
        "stall_after_ms",
        lambda worker: int(worker["liveness_max_stall_ms"]),
        "`PROMETHEAN_LIVENESS_MAX_STALL_MS` of the worker",
        "A process whose heartbeat shows no progress for this long is `stalled`.",
    ),
    _worker_default(
        "PROMETHEAN_PROCESS_DEAD_MS",
        "dead_after_ms",
        lambda worker: DEAD_AFTER_HEARTBEATS * int(worker["heartbeat_ms"]),
        f"{DEAD_AFTER_HEARTBEATS} \N{MULTIPLICATION SIGN} `PROMETHEAN_HEARTBEAT_MS` of the worker",
        "A process with no heartbeat for this long is `dead`.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_PROCESS_FORGET_MS",
        "forget_after_ms",
        DEFAULT_FORGET_MS,
        (0, DAY_MS),
        "A process dead this long is removed (tombstone on `process.state`).",
    ),
    Derived("policy", _policy),
    kinds.duration_ms(
        "PROMETHEAN_PROCESS_SNAPSHOT_MS",
        "snapshot_every_ms",
        DEFAULT_SNAPSHOT_MS,
        (0, HOUR_MS),
        "Interval of `process.state.snapshot`; `0` turns it off.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_PROCESS_SWEEP_MS",
        "sweep_every_ms",
        DEFAULT_SWEEP_MS,
        (10, HOUR_MS),
        "How often silent processes are looked for.",
    ),
)
"""The heartbeat projector's variables, read when the worker starts it."""


@dataclass(frozen=True, slots=True)
class HeartbeatProjectorSettings:
    policy: StatusPolicy
    snapshot_every_ms: int
    """0 turns the snapshot off."""
    sweep_every_ms: int

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, heartbeat_ms: int, liveness_max_stall_ms: int
    ) -> HeartbeatProjectorSettings:
        values = VARIABLES.read(
            environ, heartbeat_ms=heartbeat_ms, liveness_max_stall_ms=liveness_max_stall_ms
        )
        return cls(
            policy=values["policy"],
            snapshot_every_ms=values["snapshot_every_ms"],
            sweep_every_ms=values["sweep_every_ms"],
        )


class HeartbeatProjector:
    def __init__(
        self,
        bus: BusClient,
        clock: Clock,
        settings: HeartbeatProjectorSettings,
        *,
        instance_id: str,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._policy = settings.policy
        self._instance_id = instance_id
        self.entries: dict[str, ProcessEntry] = {}
        self._lock = asyncio.Lock()
        """Handlers of different partitions and the sweep never interleave
        their read-modify-publish of one entry."""
        self._timers: asyncio.Task[None] | None = None
        self.published = 0

    # -- PartitionHandler ---------------------------------------------------

    async def handle(self, message: Message) -> None:
        try:
            beat = decode_heartbeat(message.raw_payload)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning(
                "skipping a malformed heartbeat",
                extra={"partition": message.partition, "offset": message.offset, "error": str(exc)},
            )
            return
        async with self._lock:
            now = self._clock.now_ms()
            status = status_of(beat, self._policy)
            entry = self.entries.get(beat.key)
            if entry is not None and beat.ts < entry.beat.ts:
                return  # a redelivered older heartbeat says nothing new
            changed = entry is None or entry.status is not status
            since = now if changed or entry is None else entry.since_ms
            entry = ProcessEntry(beat, message.partition, status, since, now)
            self.entries[beat.key] = entry
            if changed:
                await self._publish_state(beat.key, entry.state())

    async def on_assigned(self, topic: str, partitions: frozenset[int]) -> None:
        return None

    async def on_revoked(self, topic: str, partitions: frozenset[int]) -> None:
        async with self._lock:
            for key in [k for k, e in self.entries.items() if e.partition in partitions]:
                del self.entries[key]

    async def close(self) -> None:
        if self._timers is not None:
            self._timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timers
            self._timers = None

    # -- periodic work ------------------------------------------------------

    def start_timers(self) -> None:
        if self._timers is None:
            self._timers = asyncio.create_task(self._run_timers(), name="heartbeat-projector")

    async def _run_timers(self) -> None:
        sweep_s = self._settings.sweep_every_ms / 1000
        snapshot_every = self._settings.snapshot_every_ms
        next_snapshot = self._clock.now_ms() + snapshot_every
        while True:
            await asyncio.sleep(sweep_s)
            try:
                await self.sweep()
                if snapshot_every and self._clock.now_ms() >= next_snapshot:
                    next_snapshot = self._clock.now_ms() + snapshot_every
                    await self.snapshot()
            except Exception as exc:  # the next round tries again
                log.warning("heartbeat projector timer failed", extra={"error": repr(exc)})

    async def sweep(self) -> int:
        """Mark silent processes dead; forget the long dead. Returns how many
        states were published."""
        published = 0
        async with self._lock:
            now = self._clock.now_ms()
            for key, entry in list(self.entries.items()):
                if entry.status is ProcessStatus.DEAD:
                    if now - entry.since_ms >= self._policy.forget_after_ms:
                        await self._publish_state(key, None)
                        del self.entries[key]
                        published += 1
                elif is_dead(entry.received_ms, now, self._policy):
                    entry.status = ProcessStatus.DEAD
                    entry.since_ms = now
                    await self._publish_state(key, entry.state())
                    published += 1
        return published

    def snapshot_record(self) -> dict[str, Any]:
        return {
            "instance": self._instance_id,
            "ts": self._clock.now_ms(),
            "processes": [self.entries[key].state() for key in sorted(self.entries)],
        }

    async def snapshot(self) -> None:
        async with self._lock:
            record = self.snapshot_record()
        await self._bus.publish(SNAPSHOT_TOPIC, record, key=self._instance_id)

    async def _publish_state(self, key: str, state: dict[str, Any] | None) -> None:
        await self._bus.publish(STATE_TOPIC, state, key=key)
        self.published += 1


async def _start(context: HandlerContext, topics: tuple[str, ...]) -> PartitionHandler:
    settings = HeartbeatProjectorSettings.from_env(
        context.environ,
        heartbeat_ms=context.heartbeat_ms,
        liveness_max_stall_ms=context.liveness_max_stall_ms,
    )
    projector = HeartbeatProjector(
        context.bus, context.clock, settings, instance_id=context.instance_id
    )
    projector.start_timers()
    return projector


project: Final = HandlerSpec(name="heartbeat-projector", start=_start, topics=(HEARTBEAT_TOPIC,))
"""``promethean.projectors.heartbeat:project`` for ``PROMETHEAN_WORKER_HANDLERS``."""
