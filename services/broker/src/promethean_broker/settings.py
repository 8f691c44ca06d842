"""The broker's settings: ports, store, delivery limits and timings, leases,
retention of system topics, and JWT sign-in for the admin API
(docs/configuration.md, "Broker", is generated from `VARIABLES`)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from promethean.auth import JwtConfig
from promethean.bus import EngineConfig
from promethean.errors import SettingsError
from promethean.names import MAX_FRAME_BYTES
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
from promethean.settings.units import DAY_MS, GIB, HOUR_MS, MIB
from promethean.settings.variables import Derived, Values
from promethean.store.factory import DEFAULT_SQLITE_URL
from promethean_broker.access import MIN_SECRET_BYTES, read_jwt_config

SERVICE: Final = "broker"

DEFAULT_ACK_TIMEOUT_MS: Final = 30_000
DEFAULT_MAX_INFLIGHT: Final = 256
DEFAULT_PARTITIONS: Final = 12
DEFAULT_MAX_ATTEMPTS: Final = 5
DEFAULT_REDELIVERY_BACKOFF_MS: Final = 0
DEFAULT_REDELIVERY_BACKOFF_MAX_MS: Final = 60_000
DEFAULT_MAX_CONNECTIONS: Final = 10_000
DEFAULT_MAX_FRAME_BYTES: Final = MAX_FRAME_BYTES
DEFAULT_SEND_BUFFER_BYTES: Final = 8 * MIB
DEFAULT_LEASE_TTL_MS: Final = 10_000
DEFAULT_COMMIT_INTERVAL_MS: Final = 100
DEFAULT_APPEND_BATCH_MAX: Final = 512
DEFAULT_PUBLISH_QUEUE_MAX: Final = 20_000
DEFAULT_AUDIT_SAMPLE: Final = 0.0
DEFAULT_SYSTEM_METRICS_MS: Final = 10_000
DEFAULT_SESSION_TIMEOUT_MS: Final = 10_000
DEFAULT_MAX_INFLIGHT_CAP: Final = 10_000
DEFAULT_SEND_STALL_MS: Final = 5_000
DEFAULT_METRICS_MAX_LABEL_SETS: Final = 2_000
DEFAULT_LAG_REFRESH_MS: Final = 15_000
DEFAULT_LAG_OFFLINE_GROUPS_MAX: Final = 500
DEFAULT_SYSTEM_RETENTION_MS: Final = DAY_MS
DEFAULT_DLQ_RETENTION_MS: Final = 7 * DAY_MS

WILDCARD_HOSTS: Final = frozenset({"0.0.0.0", "::", ""})
MAX_INFLIGHT_BOUNDS: Final = (1, 100_000)
MAX_RETENTION_MS: Final = 3650 * DAY_MS


def _max_inflight_cap(env: EnvReader, values: Values) -> int:
    """The server-side cap on a subscription's ``max_inflight``; at least
    the default a subscription gets when it asks for nothing (unset, it is
    the larger of the two defaults)."""
    name = "PROMETHEAN_MAX_INFLIGHT_CAP"
    default: int = values["max_inflight"]
    if env.raw(name) is None:
        return max(DEFAULT_MAX_INFLIGHT_CAP, default)
    low, high = MAX_INFLIGHT_BOUNDS
    value = env.integer(name, DEFAULT_MAX_INFLIGHT_CAP, min_value=low, max_value=high)
    if value < default:
        raise SettingsError(name, str(value), f"at least BUS_MAX_INFLIGHT ({default})")
    return value


def _session_timeout_ms(env: EnvReader, values: Values) -> int:
    """A member must get at least two heartbeats in before its session ends;
    unset, it is the default or three heartbeats, whichever is longer."""
    name = "PROMETHEAN_SESSION_TIMEOUT_MS"
    heartbeat_ms: int = values["common"].heartbeat_ms
    if env.raw(name) is None:
        return max(DEFAULT_SESSION_TIMEOUT_MS, 3 * heartbeat_ms)
    value = env.duration_ms(name, DEFAULT_SESSION_TIMEOUT_MS, min_ms=200, max_ms=HOUR_MS)
    if value < 2 * heartbeat_ms:
        raise SettingsError(
            name, str(value), f"at least twice PROMETHEAN_HEARTBEAT_MS ({2 * heartbeat_ms})"
        )
    return value


def _advertised_url(env: EnvReader, values: Values) -> str | None:
    """None when unset: `BrokerSettings.advertised_address` derives it."""
    if env.raw("PROMETHEAN_ADVERTISED_URL") is None:
        return None
    return env.url("PROMETHEAN_ADVERTISED_URL", "", schemes=("ws", "wss"))


def _jwt(env: EnvReader, values: Values) -> JwtConfig:
    return read_jwt_config(env)


VARIABLES: Final = VariableTable(
    kinds.port(
        "BUS_PORT",
        "port",
        DEFAULT_BUS_PORT,
        "Port of the broker's WebSocket (`/`, `/ws`) and HTTP API (`/topics`, `/metrics`,"
        " `/healthz/*`, ...).",
    ),
    *STORE_VARIABLES,
    kinds.duration_ms(
        "BUS_ACK_TIMEOUT_MS",
        "ack_timeout_ms",
        DEFAULT_ACK_TIMEOUT_MS,
        (100, HOUR_MS),
        "Default ack deadline of a delivery; unacked after this (plus any MODACK extension),"
        " it is redelivered. A subscription may ask for its own (`ack_timeout_ms`).",
    ),
    kinds.integer(
        "BUS_MAX_INFLIGHT",
        "max_inflight",
        DEFAULT_MAX_INFLIGHT,
        MAX_INFLIGHT_BOUNDS,
        "Default number of unacked deliveries per subscription; a subscription may ask for fewer.",
    ),
    kinds.integer(
        "PROMETHEAN_DEFAULT_PARTITIONS",
        "default_partitions",
        DEFAULT_PARTITIONS,
        (1, 1024),
        "Partitions of a topic created implicitly (first publish) or without an explicit count.",
    ),
    kinds.integer(
        "PROMETHEAN_MAX_ATTEMPTS",
        "max_attempts",
        DEFAULT_MAX_ATTEMPTS,
        (1, 1000),
        "Deliveries of one event to one group before it moves to `<topic>.DLQ`.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_REDELIVERY_BACKOFF_MS",
        "redelivery_backoff_ms",
        DEFAULT_REDELIVERY_BACKOFF_MS,
        (0, HOUR_MS),
        "Base delay before a nacked or expired event is redelivered; doubles per attempt."
        " `0` redelivers at once.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_REDELIVERY_BACKOFF_MAX_MS",
        "redelivery_backoff_max_ms",
        DEFAULT_REDELIVERY_BACKOFF_MAX_MS,
        (0, DAY_MS),
        "Cap of that growing delay.",
        at_least=AtLeast("redelivery_backoff_ms", "PROMETHEAN_REDELIVERY_BACKOFF_MS"),
    ),
    kinds.integer(
        "PROMETHEAN_MAX_CONNECTIONS",
        "max_connections",
        DEFAULT_MAX_CONNECTIONS,
        (1, 1_000_000),
        "WebSocket connections the broker accepts at once; further upgrades are refused.",
    ),
    kinds.integer(
        "PROMETHEAN_MAX_FRAME_BYTES",
        "max_frame_bytes",
        DEFAULT_MAX_FRAME_BYTES,
        (1024, 16 * MIB),
        "Largest frame accepted or sent; a larger one is answered with `ERR`.",
    ),
    kinds.integer(
        "PROMETHEAN_SEND_BUFFER_BYTES",
        "send_buffer_bytes",
        DEFAULT_SEND_BUFFER_BYTES,
        (1024, GIB),
        "Bytes queued for one connection; a connection whose buffer is full gets no more"
        " deliveries until it drains (a slow consumer slows only itself).",
        at_least=AtLeast("max_frame_bytes", "PROMETHEAN_MAX_FRAME_BYTES"),
    ),
    kinds.custom(
        "PROMETHEAN_MAX_INFLIGHT_CAP",
        "max_inflight_cap",
        _max_inflight_cap,
        "The most deliveries any one subscription holds unacked, whatever `max_inflight` it"
        " asks for (a larger request is lowered to this).",
        default=f"`{DEFAULT_MAX_INFLIGHT_CAP}` (or `BUS_MAX_INFLIGHT` if larger)",
        allowed="1 to 100000, and at least `BUS_MAX_INFLIGHT`",
    ),
    kinds.duration_ms(
        "PROMETHEAN_SEND_STALL_MS",
        "send_stall_ms",
        DEFAULT_SEND_STALL_MS,
        (100, HOUR_MS),
        "A client whose socket takes nothing for this long (a frame waiting to be written,"
        " or bytes the kernel holds for it not shrinking) is disconnected and its in-flight"
        " deliveries go back to its group at once.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_LEASE_TTL_MS",
        "lease_ttl_ms",
        DEFAULT_LEASE_TTL_MS,
        (1_000, 600_000),
        "Lifetime of the partition-writer and leader leases in the store; renewed well"
        " before expiry, taken over by another broker after it.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_COMMIT_INTERVAL_MS",
        "commit_interval_ms",
        DEFAULT_COMMIT_INTERVAL_MS,
        (1, 60_000),
        "How often acked offsets (the contiguous low watermark) are written to the store.",
    ),
    kinds.integer(
        "PROMETHEAN_APPEND_BATCH_MAX",
        "append_batch_max",
        DEFAULT_APPEND_BATCH_MAX,
        (1, 100_000),
        "Most events written to a partition in one store append.",
    ),
    kinds.integer(
        "PROMETHEAN_PUBLISH_QUEUE_MAX",
        "publish_queue_max",
        DEFAULT_PUBLISH_QUEUE_MAX,
        (1, 10_000_000),
        "Publishes waiting for the store, per broker; beyond it new publishes get"
        " `ERR overloaded` with `retry_after_ms`.",
    ),
    kinds.number(
        "PROMETHEAN_AUDIT_SAMPLE",
        "audit_sample",
        DEFAULT_AUDIT_SAMPLE,
        (0.0, 1.0),
        "Fraction of publishes recorded on `system.bus.audit`.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_SYSTEM_METRICS_MS",
        "system_metrics_ms",
        DEFAULT_SYSTEM_METRICS_MS,
        (0, HOUR_MS),
        "Interval of the snapshot published to `system.metrics`; `0` turns it off.",
    ),
    kinds.custom(
        "PROMETHEAN_SESSION_TIMEOUT_MS",
        "session_timeout_ms",
        _session_timeout_ms,
        "A partitioned-group member silent this long (no `HEARTBEAT`), or not confirming a"
        " `REVOKE` this long, is removed and fenced; its partitions move. A member that"
        " rejoins with the same `instance_id` within it keeps its partitions.",
        default=f"`{DEFAULT_SESSION_TIMEOUT_MS}`"
        " (or three times `PROMETHEAN_HEARTBEAT_MS` if longer)",
        allowed=f"200 to {HOUR_MS}, at least twice `PROMETHEAN_HEARTBEAT_MS`",
    ),
    kinds.duration_ms(
        "PROMETHEAN_SYSTEM_RETENTION_MS",
        "system_retention_ms",
        DEFAULT_SYSTEM_RETENTION_MS,
        (0, MAX_RETENTION_MS),
        "Retention given to system topics (`system.*`, `heartbeat.received`) when they are"
        " created, and once at start-up to existing ones that keep everything; `0` turns"
        " the default off. Shown by `promethean topics list`; change one topic with"
        " `promethean topics set`.",
        shown_default=f"`{DEFAULT_SYSTEM_RETENTION_MS}` (24 h)",
    ),
    kinds.duration_ms(
        "PROMETHEAN_DLQ_RETENTION_MS",
        "dlq_retention_ms",
        DEFAULT_DLQ_RETENTION_MS,
        (0, MAX_RETENTION_MS),
        "The same for `<topic>.DLQ` topics.",
        shown_default=f"`{DEFAULT_DLQ_RETENTION_MS}` (7 d)",
    ),
    kinds.duration_ms(
        "PROMETHEAN_LAG_REFRESH_MS",
        "lag_refresh_ms",
        DEFAULT_LAG_REFRESH_MS,
        (100, HOUR_MS),
        "How often the lag of groups that have a commit but no live member is read from the"
        " store (`promethean_consumer_lag` keeps their series).",
    ),
    kinds.integer(
        "PROMETHEAN_LAG_OFFLINE_GROUPS_MAX",
        "lag_offline_groups_max",
        DEFAULT_LAG_OFFLINE_GROUPS_MAX,
        (0, 100_000),
        "At most this many (group, topic) pairs without a live member get lag series; the"
        " rest are counted by `promethean_lag_groups_omitted`.",
    ),
    kinds.integer(
        "PROMETHEAN_METRICS_MAX_LABEL_SETS",
        "metrics_max_label_sets",
        DEFAULT_METRICS_MAX_LABEL_SETS,
        (1, 1_000_000),
        "Distinct topic/group label sets per broker metric; further ones are folded into"
        ' `topic="_other"`/`group="_other"` and counted by'
        " `promethean_metric_label_overflow_total{metric}`.",
    ),
    kinds.process_id("PROMETHEAN_BROKER_ID", "broker_id", "This broker's name in leases and logs."),
    kinds.custom(
        "PROMETHEAN_ADVERTISED_URL",
        "advertised_url",
        _advertised_url,
        "The WebSocket address other brokers' clients dial to reach this broker: it is"
        " registered in the store and answered in `METADATA` and `ERR not_owner`. On"
        " Kubernetes, the pod's stable DNS name behind the headless Service.",
        default="`ws://<host>:<port>` (the machine's hostname when the bind host is a wildcard)",
        allowed="a `ws://` or `wss://` URL",
    ),
    kinds.secret(
        "JWT_SECRET",
        None,
        "Lets the admin API and the console (`/console`) accept an HS256 JWT besides"
        " `PROMETHEAN_BROKER_TOKEN`: scopes `admin:*` may change things, `read:*` may only"
        " read. See [console.md](console.md).",
        allowed=f"at least {MIN_SECRET_BYTES} bytes",
    ),
    kinds.documented(
        "JWT_AUD",
        "When set, such a JWT must carry this `aud`.",
        allowed="text",
    ),
    kinds.documented(
        "JWT_ISS",
        "When set, such a JWT must carry this `iss`.",
        allowed="text",
    ),
    Derived("jwt", _jwt),
)


@dataclass(frozen=True, slots=True, repr=False)
class BrokerSettings(ServiceSettings, service=SERVICE, variables=VARIABLES):
    common: CommonSettings = field(default_factory=partial(CommonSettings, service=SERVICE))
    port: int = DEFAULT_BUS_PORT
    store_url: str = DEFAULT_SQLITE_URL
    ack_timeout_ms: int = DEFAULT_ACK_TIMEOUT_MS
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    default_partitions: int = DEFAULT_PARTITIONS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    redelivery_backoff_ms: int = DEFAULT_REDELIVERY_BACKOFF_MS
    redelivery_backoff_max_ms: int = DEFAULT_REDELIVERY_BACKOFF_MAX_MS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    send_buffer_bytes: int = DEFAULT_SEND_BUFFER_BYTES
    lease_ttl_ms: int = DEFAULT_LEASE_TTL_MS
    commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS
    append_batch_max: int = DEFAULT_APPEND_BATCH_MAX
    publish_queue_max: int = DEFAULT_PUBLISH_QUEUE_MAX
    audit_sample: float = DEFAULT_AUDIT_SAMPLE
    system_metrics_ms: int = DEFAULT_SYSTEM_METRICS_MS
    session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS
    max_inflight_cap: int = DEFAULT_MAX_INFLIGHT_CAP
    """The most any subscription gets in flight, whatever it asks for."""
    send_stall_ms: int = DEFAULT_SEND_STALL_MS
    """A client whose socket takes nothing for this long is disconnected."""
    broker_id: str = field(default_factory=default_process_id)
    advertised_url: str | None = None
    """Set by ``PROMETHEAN_ADVERTISED_URL``; see `advertised_address`."""
    jwt: JwtConfig = field(default_factory=JwtConfig)
    """Admin API and console sign-in with a JWT (see `promethean_broker.access`)."""
    metrics_max_label_sets: int = DEFAULT_METRICS_MAX_LABEL_SETS
    lag_refresh_ms: int = DEFAULT_LAG_REFRESH_MS
    lag_offline_groups_max: int = DEFAULT_LAG_OFFLINE_GROUPS_MAX
    system_retention_ms: int = DEFAULT_SYSTEM_RETENTION_MS
    dlq_retention_ms: int = DEFAULT_DLQ_RETENTION_MS

    @property
    def advertised_address(self) -> str:
        """Where clients reach this broker: ``PROMETHEAN_ADVERTISED_URL``, else
        ``ws://<host>:<port>`` (the hostname when bound to every interface)."""
        if self.advertised_url is not None:
            return self.advertised_url
        host = self.common.host
        if host in WILDCARD_HOSTS:
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    def engine_config(self) -> EngineConfig:
        """The bus engine's part of these settings."""
        return EngineConfig(
            default_partitions=self.default_partitions,
            default_max_attempts=self.max_attempts,
            ack_timeout_ms=self.ack_timeout_ms,
            max_inflight=self.max_inflight,
            append_batch_max=self.append_batch_max,
            publish_queue_max=self.publish_queue_max,
            redelivery_backoff_ms=self.redelivery_backoff_ms,
            redelivery_backoff_max_ms=self.redelivery_backoff_max_ms,
            system_retention_ms=self.system_retention_ms,
            dlq_retention_ms=self.dlq_retention_ms,
        )
