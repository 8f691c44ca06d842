"""The drainer's settings: read once from the environment at start-up.

Every variable, its default and its range is listed in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

from promethean.errors import SettingsError
from promethean.outbox import DEFAULT_DRAINER_PORT, DRAINER_PORT_VAR
from promethean.settings import (
    DEFAULT_BUS_PORT,
    CommonSettings,
    EnvReader,
    read_store_url,
    settings_repr,
)
from promethean.settings.identity import default_process_id, read_process_id
from promethean.store.factory import DEFAULT_SQLITE_URL
from promethean_outbox_drainer.durations import read_duration_ms

SERVICE: Final = "outbox-drainer"

DEFAULT_PORT: Final = DEFAULT_DRAINER_PORT
DEFAULT_BUS_URL: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
DEFAULT_POLL_MS: Final = 500
DEFAULT_BATCH: Final = 256
DEFAULT_LEASE_MS: Final = 30_000
DEFAULT_MAX_ATTEMPTS: Final = 10
DEFAULT_BACKOFF_MS: Final = 1_000
DEFAULT_BACKOFF_MAX_MS: Final = 300_000
DEFAULT_RETENTION_MS: Final = 24 * 3_600_000

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS


def _common_default() -> CommonSettings:
    return CommonSettings(service=SERVICE)


@dataclass(frozen=True, slots=True, repr=False)
class DrainerSettings:
    SERVICE: ClassVar[str] = SERVICE

    common: CommonSettings = field(default_factory=_common_default)
    port: int = DEFAULT_PORT
    store_url: str = DEFAULT_SQLITE_URL
    bus_url: str = DEFAULT_BUS_URL
    poll_ms: int = DEFAULT_POLL_MS
    batch: int = DEFAULT_BATCH
    lease_ms: int = DEFAULT_LEASE_MS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_ms: int = DEFAULT_BACKOFF_MS
    backoff_max_ms: int = DEFAULT_BACKOFF_MAX_MS
    retention_ms: int = DEFAULT_RETENTION_MS
    drainer_id: str = field(default_factory=default_process_id)

    __repr__ = settings_repr

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DrainerSettings:
        env = EnvReader(environ)
        backoff_ms = env.duration_ms(
            "PROMETHEAN_OUTBOX_BACKOFF_MS", DEFAULT_BACKOFF_MS, min_ms=1, max_ms=HOUR_MS
        )
        return cls(
            common=CommonSettings.from_env(environ, service=SERVICE),
            port=env.port(DRAINER_PORT_VAR, DEFAULT_PORT),
            store_url=read_store_url(environ),
            bus_url=env.url("BUS_URL", _local_bus_url(env), schemes=("ws", "wss")),
            poll_ms=env.duration_ms(
                "PROMETHEAN_OUTBOX_POLL_MS", DEFAULT_POLL_MS, min_ms=10, max_ms=60_000
            ),
            batch=env.integer(
                "PROMETHEAN_OUTBOX_BATCH", DEFAULT_BATCH, min_value=1, max_value=10_000
            ),
            lease_ms=env.duration_ms(
                "PROMETHEAN_OUTBOX_LEASE_MS", DEFAULT_LEASE_MS, min_ms=500, max_ms=HOUR_MS
            ),
            max_attempts=env.integer(
                "PROMETHEAN_OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, min_value=1, max_value=1000
            ),
            backoff_ms=backoff_ms,
            backoff_max_ms=_backoff_max_ms(env, backoff_ms),
            retention_ms=read_duration_ms(
                env, "PROMETHEAN_OUTBOX_RETENTION", DEFAULT_RETENTION_MS, max_ms=365 * DAY_MS
            ),
            drainer_id=read_process_id(env, "PROMETHEAN_DRAINER_ID"),
        )


def _local_bus_url(env: EnvReader) -> str:
    """Without ``BUS_URL``: the broker of this machine, on ``BUS_PORT``
    (as ``promethean dev`` runs it)."""
    return f"ws://127.0.0.1:{env.port('BUS_PORT', DEFAULT_BUS_PORT)}/ws"


def _backoff_max_ms(env: EnvReader, backoff_ms: int) -> int:
    name = "PROMETHEAN_OUTBOX_BACKOFF_MAX_MS"
    value = env.duration_ms(name, DEFAULT_BACKOFF_MAX_MS, max_ms=DAY_MS)
    if value < backoff_ms:
        raise SettingsError(
            name, str(value), f"at least PROMETHEAN_OUTBOX_BACKOFF_MS ({backoff_ms})"
        )
    return value
