"""The drainer's settings: how often and how much of the outbox it claims,
its retry backoff and how long published rows are kept
(docs/configuration.md, "Outbox-drainer", is generated from `VARIABLES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Final

from promethean.outbox import DEFAULT_DRAINER_PORT, DRAINER_PORT_VAR
from promethean.settings import (
    DEFAULT_BUS_PORT,
    CommonSettings,
    EnvReader,
    ServiceSettings,
    VariableTable,
    kinds,
)
from promethean.settings.identity import default_process_id
from promethean.settings.kinds import AtLeast
from promethean.settings.store import STORE_VARIABLES
from promethean.settings.units import DAY_MS, HOUR_MS
from promethean.settings.variables import Values
from promethean.store.factory import DEFAULT_SQLITE_URL
from promethean_outbox_drainer.durations import read_duration_ms
from promethean_outbox_drainer.passes import PassConfig

SERVICE: Final = "outbox-drainer"

DEFAULT_PORT: Final = DEFAULT_DRAINER_PORT
DEFAULT_BUS_URL: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
DEFAULT_POLL_MS: Final = 500
DEFAULT_BATCH: Final = 256
DEFAULT_LEASE_MS: Final = 30_000
DEFAULT_MAX_ATTEMPTS: Final = 10
DEFAULT_BACKOFF_MS: Final = 1_000
DEFAULT_BACKOFF_MAX_MS: Final = 300_000
DEFAULT_RETENTION_MS: Final = DAY_MS
MAX_RETENTION_MS: Final = 365 * DAY_MS


def _retention_ms(env: EnvReader, values: Values) -> int:
    return read_duration_ms(
        env, "PROMETHEAN_OUTBOX_RETENTION", DEFAULT_RETENTION_MS, max_ms=MAX_RETENTION_MS
    )


VARIABLES: Final = VariableTable(
    kinds.port(
        DRAINER_PORT_VAR,
        "port",
        DEFAULT_PORT,
        "Port of the drainer's HTTP endpoints (`/metrics`, `/healthz/*`).",
    ),
    *STORE_VARIABLES,
    kinds.bus_url("bus_url", "The broker the drainer publishes to."),
    kinds.duration_ms(
        "PROMETHEAN_OUTBOX_POLL_MS",
        "poll_ms",
        DEFAULT_POLL_MS,
        (10, 60_000),
        "How often the outbox is checked for due rows: the only trigger when polling, and"
        " the sweep for due retries and lapsed leases beside a change stream.",
    ),
    kinds.integer(
        "PROMETHEAN_OUTBOX_BATCH",
        "batch",
        DEFAULT_BATCH,
        (1, 10_000),
        "Rows claimed (and published) per pass.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_OUTBOX_LEASE_MS",
        "lease_ms",
        DEFAULT_LEASE_MS,
        (500, HOUR_MS),
        "How long a claim lasts; the rows of a drainer that died are claimed again after it."
        " A publish waits at most 80 % of it for the broker.",
    ),
    kinds.integer(
        "PROMETHEAN_OUTBOX_MAX_ATTEMPTS",
        "max_attempts",
        DEFAULT_MAX_ATTEMPTS,
        (1, 1000),
        "Publishes the broker may refuse before the row is marked `failed` and an event goes"
        " to `outbox.DLQ`. An unreachable broker costs no attempt.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_OUTBOX_BACKOFF_MS",
        "backoff_ms",
        DEFAULT_BACKOFF_MS,
        (1, HOUR_MS),
        "Delay before the first retry of a refused row; doubles per attempt.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_OUTBOX_BACKOFF_MAX_MS",
        "backoff_max_ms",
        DEFAULT_BACKOFF_MAX_MS,
        (0, DAY_MS),
        "Cap of that growing delay.",
        at_least=AtLeast("backoff_ms", "PROMETHEAN_OUTBOX_BACKOFF_MS"),
    ),
    kinds.custom(
        "PROMETHEAN_OUTBOX_RETENTION",
        "retention_ms",
        _retention_ms,
        "Published rows older than this are deleted; `failed` rows are kept.",
        default="`24h`",
        allowed="a duration with its unit: `500ms`, `90s`, `15m`, `24h`, `7d` (or `0`),"
        " at most `365d`",
    ),
    kinds.process_id(
        "PROMETHEAN_DRAINER_ID",
        "drainer_id",
        "The name this replica's claims carry; must differ between replicas.",
    ),
)


@dataclass(frozen=True, slots=True, repr=False)
class DrainerSettings(ServiceSettings, service=SERVICE, variables=VARIABLES):
    common: CommonSettings = field(default_factory=partial(CommonSettings, service=SERVICE))
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

    def pass_config(self) -> PassConfig:
        """What one outbox pass needs of these settings."""
        return PassConfig(
            claimer=self.drainer_id,
            batch=self.batch,
            lease_ms=self.lease_ms,
            max_attempts=self.max_attempts,
            backoff_ms=self.backoff_ms,
            backoff_max_ms=self.backoff_max_ms,
        )
