"""Settings every service shares: name, logging, bind host, broker token,
dev mode, and the drain / liveness / disconnect / heartbeat / GC pacing timings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final

from promethean.errors import SettingsError
from promethean.settings import kinds
from promethean.settings.env import EnvReader
from promethean.settings.gc import GcPacing
from promethean.settings.redaction import settings_repr
from promethean.settings.secret import Secret
from promethean.settings.units import DAY_MS, HOUR_MS
from promethean.settings.variables import Values, VariableTable

DEFAULT_HOST: Final = "0.0.0.0"

DEFAULT_DRAIN_MS: Final = 10_000
DEFAULT_LIVENESS_MAX_STALL_MS: Final = 30_000
DEFAULT_DISCONNECT_KILL_MS: Final = 60_000
DEFAULT_HEARTBEAT_MS: Final = 3_000
DEFAULT_GC_FREEZE_MS: Final = 5_000
DEFAULT_GC_SWEEP_MS: Final = 600_000
MIN_GC_FREEZE_MS: Final = 1_000


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def logging_level(self) -> int:
        """The matching level number of the standard ``logging`` module."""
        return logging.getLevelNamesMapping()[self.value.upper()]


def _gc_freeze_ms(env: EnvReader, values: Values) -> int:
    """0 (pacing off) or at least a second: each freeze counts the frozen
    objects, a few milliseconds for a busy gateway."""
    value = env.duration_ms("PROMETHEAN_GC_FREEZE_MS", DEFAULT_GC_FREEZE_MS, max_ms=HOUR_MS)
    if 0 < value < MIN_GC_FREEZE_MS:
        raise SettingsError(
            "PROMETHEAN_GC_FREEZE_MS",
            str(value),
            f"0 (off) or a whole number of milliseconds from {MIN_GC_FREEZE_MS} to {HOUR_MS}",
        )
    return value


COMMON_VARIABLES: Final = VariableTable(
    kinds.choice(
        "PROMETHEAN_LOG_LEVEL",
        "log_level",
        LogLevel.INFO,
        "Lowest level written to the JSON log on stderr.",
    ),
    kinds.host(
        "PROMETHEAN_HOST",
        "host",
        DEFAULT_HOST,
        "Address the service's WebSocket and HTTP listener binds to.",
    ),
    kinds.secret(
        "PROMETHEAN_BROKER_TOKEN",
        "broker_token",
        "Shared secret of the internal broker protocol: the broker requires `AUTH {token}`"
        " first when it is set; the other services send it. Never exposed outside the"
        " cluster.",
        default="unset (no authentication)",
    ),
    kinds.boolean(
        "PROMETHEAN_DEV",
        "dev",
        False,
        "Dev mode: conveniences for one machine (for example the gateway's `WS_TOKEN`)."
        " Never set it in production.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_DRAIN_MS",
        "drain_ms",
        DEFAULT_DRAIN_MS,
        (0, HOUR_MS),
        "On SIGTERM: how long in-flight work may take to finish before the process exits"
        " anyway. Keep it below the pod's `terminationGracePeriodSeconds`.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_LIVENESS_MAX_STALL_MS",
        "liveness_max_stall_ms",
        DEFAULT_LIVENESS_MAX_STALL_MS,
        (1_000, HOUR_MS),
        "`GET /healthz/live` fails, and the watchdog exits with code 71, when the work loop"
        " made no progress for this long.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_DISCONNECT_KILL_MS",
        "disconnect_kill_ms",
        DEFAULT_DISCONNECT_KILL_MS,
        (1_000, DAY_MS),
        "The watchdog exits with code 70 after the service lost what it depends on (store"
        " for the broker, broker for the others) for this long, so Kubernetes restarts it.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_HEARTBEAT_MS",
        "heartbeat_ms",
        DEFAULT_HEARTBEAT_MS,
        (100, 600_000),
        "Interval of the enriched heartbeat published to `heartbeat.received`; the broker"
        " also tells partitioned-group members to send `HEARTBEAT` this often.",
    ),
    kinds.custom(
        "PROMETHEAN_GC_FREEZE_MS",
        "gc_freeze_ms",
        _gc_freeze_ms,
        "How often objects that survived so far are frozen out of the cycle collector's"
        " reach, so full collections stop pausing the event loop for every long-lived"
        " connection. `0` leaves CPython's collector as it is. See docs/operations.md,"
        ' "GC pauses".',
        default=kinds.code(DEFAULT_GC_FREEZE_MS),
        allowed=f"0, or {MIN_GC_FREEZE_MS} to {HOUR_MS}",
    ),
    kinds.duration_ms(
        "PROMETHEAN_GC_SWEEP_MS",
        "gc_sweep_ms",
        DEFAULT_GC_SWEEP_MS,
        (10_000, DAY_MS),
        "Longest time between two sweeps (one full collection that reclaims reference"
        " cycles among frozen objects). A sweep also runs whenever the frozen set, or the"
        " resident memory (by at least 32 MiB), grew by a quarter since the last one.",
    ),
    kinds.documented(
        "PROMETHEAN_EVENT_LOOP",
        "The event loop: `auto` runs on uvloop when it is installed (it is a dependency of"
        " the library on Linux and macOS) and on asyncio's own loop otherwise, with one log"
        " line; `uvloop` refuses to start without it; `asyncio` never uses it. The start-up"
        " banner names the loop.",
        default="`auto`",
        allowed="`auto`, `uvloop`, `asyncio`",
    ),
)


@dataclass(frozen=True, slots=True, repr=False)
class CommonSettings:
    service: str
    log_level: LogLevel = LogLevel.INFO
    host: str = DEFAULT_HOST
    broker_token: Secret | None = None
    dev: bool = False
    drain_ms: int = DEFAULT_DRAIN_MS
    liveness_max_stall_ms: int = DEFAULT_LIVENESS_MAX_STALL_MS
    disconnect_kill_ms: int = DEFAULT_DISCONNECT_KILL_MS
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS
    gc_freeze_ms: int = DEFAULT_GC_FREEZE_MS
    gc_sweep_ms: int = DEFAULT_GC_SWEEP_MS

    VARIABLES: ClassVar[VariableTable] = COMMON_VARIABLES
    __repr__ = settings_repr

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, service: str) -> CommonSettings:
        return cls(**COMMON_VARIABLES.read(environ, service=service))

    @property
    def gc_pacing(self) -> GcPacing:
        return GcPacing(freeze_ms=self.gc_freeze_ms, sweep_ms=self.gc_sweep_ms)
