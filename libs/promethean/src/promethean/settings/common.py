"""Settings every service shares: name, logging, bind host, broker token,
dev mode, and the drain / liveness / disconnect / heartbeat / GC pacing timings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from promethean.errors import SettingsError
from promethean.settings.env import EnvReader
from promethean.settings.gc import GcPacing
from promethean.settings.redaction import settings_repr
from promethean.settings.secret import Secret

DEFAULT_HOST: Final = "0.0.0.0"
DEFAULT_BUS_PORT: Final = 7070
DEFAULT_WS_PORT: Final = 8090

DEFAULT_DRAIN_MS: Final = 10_000
DEFAULT_LIVENESS_MAX_STALL_MS: Final = 30_000
DEFAULT_DISCONNECT_KILL_MS: Final = 60_000
DEFAULT_HEARTBEAT_MS: Final = 3_000
DEFAULT_GC_FREEZE_MS: Final = 5_000
HOUR_MS: Final = 3_600_000
DEFAULT_GC_SWEEP_MS: Final = 600_000
MIN_GC_FREEZE_MS: Final = 1_000

DAY_MS: Final = 24 * HOUR_MS


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def logging_level(self) -> int:
        """The matching level number of the standard ``logging`` module."""
        return logging.getLevelNamesMapping()[self.value.upper()]


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

    __repr__ = settings_repr

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, service: str) -> CommonSettings:
        env = EnvReader(environ)
        return cls(
            service=service,
            log_level=env.choice("PROMETHEAN_LOG_LEVEL", LogLevel.INFO, LogLevel),
            host=env.host("PROMETHEAN_HOST", DEFAULT_HOST),
            broker_token=env.secret("PROMETHEAN_BROKER_TOKEN"),
            dev=env.boolean("PROMETHEAN_DEV", False),
            drain_ms=env.duration_ms("PROMETHEAN_DRAIN_MS", DEFAULT_DRAIN_MS, max_ms=HOUR_MS),
            liveness_max_stall_ms=env.duration_ms(
                "PROMETHEAN_LIVENESS_MAX_STALL_MS",
                DEFAULT_LIVENESS_MAX_STALL_MS,
                min_ms=1_000,
                max_ms=HOUR_MS,
            ),
            disconnect_kill_ms=env.duration_ms(
                "PROMETHEAN_DISCONNECT_KILL_MS",
                DEFAULT_DISCONNECT_KILL_MS,
                min_ms=1_000,
                max_ms=DAY_MS,
            ),
            heartbeat_ms=env.duration_ms(
                "PROMETHEAN_HEARTBEAT_MS", DEFAULT_HEARTBEAT_MS, min_ms=100, max_ms=600_000
            ),
            gc_freeze_ms=_gc_freeze_ms(env),
            gc_sweep_ms=env.duration_ms(
                "PROMETHEAN_GC_SWEEP_MS", DEFAULT_GC_SWEEP_MS, min_ms=10_000, max_ms=DAY_MS
            ),
        )

    @property
    def gc_pacing(self) -> GcPacing:
        return GcPacing(freeze_ms=self.gc_freeze_ms, sweep_ms=self.gc_sweep_ms)


def _gc_freeze_ms(env: EnvReader) -> int:
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
