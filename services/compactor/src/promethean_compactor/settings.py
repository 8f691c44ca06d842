"""The compactor's settings: read once from the environment at start-up.

Every variable, its default and its range is listed in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

from promethean.settings import CommonSettings, EnvReader, read_store_url, settings_repr
from promethean.settings.identity import default_process_id, read_process_id
from promethean.store.factory import DEFAULT_SQLITE_URL

SERVICE: Final = "compactor"

DEFAULT_PORT: Final = 7073
DEFAULT_BUS_URL: Final = "ws://127.0.0.1:7070/ws"
DEFAULT_INTERVAL_MS: Final = 60_000
DEFAULT_LEASE_TTL_MS: Final = 15_000
DEFAULT_BATCH_EVENTS: Final = 50_000
DEFAULT_TOMBSTONE_RETENTION_MS: Final = 24 * 3_600_000
DEFAULT_SNAPSHOT_CHUNK_BYTES: Final = 256 * 1024

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS


def _common_default() -> CommonSettings:
    return CommonSettings(service=SERVICE)


@dataclass(frozen=True, slots=True, repr=False)
class CompactorSettings:
    SERVICE: ClassVar[str] = SERVICE

    common: CommonSettings = field(default_factory=_common_default)
    port: int = DEFAULT_PORT
    store_url: str = DEFAULT_SQLITE_URL
    bus_url: str = DEFAULT_BUS_URL
    interval_ms: int = DEFAULT_INTERVAL_MS
    """Time between the end of one pass and the start of the next."""
    lease_ttl_ms: int = DEFAULT_LEASE_TTL_MS
    """How long the leader's lease lives unrenewed: the takeover bound."""
    batch_events: int = DEFAULT_BATCH_EVENTS
    """Offsets compacted per store call, so no single write holds the store long."""
    tombstone_retention_ms: int = DEFAULT_TOMBSTONE_RETENTION_MS
    """For compacted topics whose config leaves ``tombstone_retention_ms`` unset."""
    snapshot_chunk_bytes: int = DEFAULT_SNAPSHOT_CHUNK_BYTES
    compactor_id: str = field(default_factory=default_process_id)

    __repr__ = settings_repr

    @property
    def renew_every_ms(self) -> int:
        """A third of the TTL: two renewals may fail before the lease lapses."""
        return max(100, self.lease_ttl_ms // 3)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CompactorSettings:
        env = EnvReader(environ)
        return cls(
            common=CommonSettings.from_env(environ, service=SERVICE),
            port=env.port("PROMETHEAN_COMPACTOR_PORT", DEFAULT_PORT),
            store_url=read_store_url(environ),
            bus_url=env.url("BUS_URL", DEFAULT_BUS_URL, schemes=("ws", "wss")),
            interval_ms=env.duration_ms(
                "PROMETHEAN_COMPACTOR_INTERVAL_MS", DEFAULT_INTERVAL_MS, min_ms=10, max_ms=DAY_MS
            ),
            lease_ttl_ms=env.duration_ms(
                "PROMETHEAN_COMPACTOR_LEASE_TTL_MS",
                DEFAULT_LEASE_TTL_MS,
                min_ms=300,
                max_ms=600_000,
            ),
            batch_events=env.integer(
                "PROMETHEAN_COMPACTOR_BATCH_EVENTS",
                DEFAULT_BATCH_EVENTS,
                min_value=100,
                max_value=10_000_000,
            ),
            tombstone_retention_ms=env.duration_ms(
                "PROMETHEAN_COMPACTOR_TOMBSTONE_RETENTION_MS",
                DEFAULT_TOMBSTONE_RETENTION_MS,
                max_ms=365 * DAY_MS,
            ),
            snapshot_chunk_bytes=env.integer(
                "PROMETHEAN_COMPACTOR_SNAPSHOT_CHUNK_BYTES",
                DEFAULT_SNAPSHOT_CHUNK_BYTES,
                min_value=1024,
                max_value=400 * 1024,
            ),
            compactor_id=read_process_id(env, "PROMETHEAN_COMPACTOR_ID"),
        )
