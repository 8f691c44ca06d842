"""The compactor's settings: its pass interval, its leader lease and the size
of its store calls and snapshot chunks (docs/configuration.md,
"Compactor", is generated from `VARIABLES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Final

from promethean.settings import (
    CommonSettings,
    ServiceSettings,
    VariableTable,
    kinds,
)
from promethean.settings.identity import default_process_id
from promethean.settings.store import STORE_VARIABLES
from promethean.settings.units import DAY_MS, KIB
from promethean.store.factory import DEFAULT_SQLITE_URL

SERVICE: Final = "compactor"

DEFAULT_PORT: Final = 7073
DEFAULT_BUS_URL: Final = "ws://127.0.0.1:7070/ws"
DEFAULT_INTERVAL_MS: Final = 60_000
DEFAULT_LEASE_TTL_MS: Final = 15_000
DEFAULT_BATCH_EVENTS: Final = 50_000
DEFAULT_TOMBSTONE_RETENTION_MS: Final = DAY_MS
DEFAULT_SNAPSHOT_CHUNK_BYTES: Final = 256 * KIB

VARIABLES: Final = VariableTable(
    kinds.port(
        "PROMETHEAN_COMPACTOR_PORT", "port", DEFAULT_PORT, "Port of `/metrics` and `/healthz/*`."
    ),
    *STORE_VARIABLES,
    kinds.bus_url(
        "bus_url",
        "The broker: snapshots are published there, and its admin API (same host and port,"
        " `http`) creates `<topic>.snapshot`.",
        default=DEFAULT_BUS_URL,
    ),
    kinds.duration_ms(
        "PROMETHEAN_COMPACTOR_INTERVAL_MS",
        "interval_ms",
        DEFAULT_INTERVAL_MS,
        (10, DAY_MS),
        "Pause between the end of one pass over every topic and the start of the next.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_COMPACTOR_LEASE_TTL_MS",
        "lease_ttl_ms",
        DEFAULT_LEASE_TTL_MS,
        (300, 600_000),
        "Lifetime of the `compactor` lease; the leader renews it every third of it, and a"
        " standby takes over at most about this long (plus a third) after the leader dies.",
    ),
    kinds.process_id(
        "PROMETHEAN_COMPACTOR_ID", "compactor_id", "This replica's name in the lease and logs."
    ),
    kinds.integer(
        "PROMETHEAN_COMPACTOR_BATCH_EVENTS",
        "batch_events",
        DEFAULT_BATCH_EVENTS,
        (100, 10_000_000),
        "Offsets compacted per store call: a smaller value holds the store's write lock for"
        " shorter stretches (the broker's appends wait behind it on SQLite).",
    ),
    kinds.duration_ms(
        "PROMETHEAN_COMPACTOR_TOMBSTONE_RETENTION_MS",
        "tombstone_retention_ms",
        DEFAULT_TOMBSTONE_RETENTION_MS,
        (0, 365 * DAY_MS),
        "How long tombstones live on compacted topics whose config sets no"
        " `tombstone_retention_ms`.",
    ),
    kinds.integer(
        "PROMETHEAN_COMPACTOR_SNAPSHOT_CHUNK_BYTES",
        "snapshot_chunk_bytes",
        DEFAULT_SNAPSHOT_CHUNK_BYTES,
        (1024, 400 * KIB),
        "Target size of one snapshot chunk event (kept under the payload limit).",
    ),
)


@dataclass(frozen=True, slots=True, repr=False)
class CompactorSettings(ServiceSettings, service=SERVICE, variables=VARIABLES):
    common: CommonSettings = field(default_factory=partial(CommonSettings, service=SERVICE))
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

    @property
    def renew_every_ms(self) -> int:
        """A third of the TTL: two renewals may fail before the lease lapses."""
        return max(100, self.lease_ttl_ms // 3)
