"""The broker's settings: read once from the environment at start-up.

Every variable, its default and its range is listed in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

from promethean.auth import JwtConfig
from promethean.errors import SettingsError
from promethean.names import MAX_FRAME_BYTES
from promethean.settings import (
    DEFAULT_BUS_PORT,
    CommonSettings,
    EnvReader,
    read_store_url,
    settings_repr,
)
from promethean.settings.identity import default_process_id, read_process_id
from promethean.store.factory import DEFAULT_SQLITE_URL
from promethean_broker.access import read_jwt_config

SERVICE: Final = "broker"

DEFAULT_ACK_TIMEOUT_MS: Final = 30_000
DEFAULT_MAX_INFLIGHT: Final = 256
DEFAULT_PARTITIONS: Final = 12
DEFAULT_MAX_ATTEMPTS: Final = 5
DEFAULT_REDELIVERY_BACKOFF_MS: Final = 0
DEFAULT_REDELIVERY_BACKOFF_MAX_MS: Final = 60_000
DEFAULT_MAX_CONNECTIONS: Final = 10_000
DEFAULT_MAX_FRAME_BYTES: Final = MAX_FRAME_BYTES
DEFAULT_SEND_BUFFER_BYTES: Final = 8 * 1024 * 1024
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
DEFAULT_SYSTEM_RETENTION_MS: Final = 24 * 3_600_000
DEFAULT_DLQ_RETENTION_MS: Final = 7 * 24 * 3_600_000

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS
GIB: Final = 1024 * 1024 * 1024


def _common_default() -> CommonSettings:
    return CommonSettings(service=SERVICE)


@dataclass(frozen=True, slots=True, repr=False)
class BrokerSettings:
    SERVICE: ClassVar[str] = SERVICE

    common: CommonSettings = field(default_factory=_common_default)
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
    jwt: JwtConfig = field(default_factory=JwtConfig)
    """Admin API and console sign-in with a JWT (see `promethean_broker.access`)."""
    metrics_max_label_sets: int = DEFAULT_METRICS_MAX_LABEL_SETS
    lag_refresh_ms: int = DEFAULT_LAG_REFRESH_MS
    lag_offline_groups_max: int = DEFAULT_LAG_OFFLINE_GROUPS_MAX
    system_retention_ms: int = DEFAULT_SYSTEM_RETENTION_MS
    dlq_retention_ms: int = DEFAULT_DLQ_RETENTION_MS

    __repr__ = settings_repr

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BrokerSettings:
        env = EnvReader(environ)
        backoff_ms = env.duration_ms(
            "PROMETHEAN_REDELIVERY_BACKOFF_MS", DEFAULT_REDELIVERY_BACKOFF_MS, max_ms=HOUR_MS
        )
        max_frame_bytes = env.integer(
            "PROMETHEAN_MAX_FRAME_BYTES",
            DEFAULT_MAX_FRAME_BYTES,
            min_value=1024,
            max_value=16 * 1024 * 1024,
        )
        common = CommonSettings.from_env(environ, service=SERVICE)
        return cls(
            common=common,
            port=env.port("BUS_PORT", DEFAULT_BUS_PORT),
            store_url=read_store_url(environ),
            ack_timeout_ms=env.duration_ms(
                "BUS_ACK_TIMEOUT_MS", DEFAULT_ACK_TIMEOUT_MS, min_ms=100, max_ms=HOUR_MS
            ),
            max_inflight=env.integer(
                "BUS_MAX_INFLIGHT", DEFAULT_MAX_INFLIGHT, min_value=1, max_value=100_000
            ),
            default_partitions=env.integer(
                "PROMETHEAN_DEFAULT_PARTITIONS", DEFAULT_PARTITIONS, min_value=1, max_value=1024
            ),
            max_attempts=env.integer(
                "PROMETHEAN_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, min_value=1, max_value=1000
            ),
            redelivery_backoff_ms=backoff_ms,
            redelivery_backoff_max_ms=_backoff_max_ms(env, backoff_ms),
            max_connections=env.integer(
                "PROMETHEAN_MAX_CONNECTIONS",
                DEFAULT_MAX_CONNECTIONS,
                min_value=1,
                max_value=1_000_000,
            ),
            max_frame_bytes=max_frame_bytes,
            send_buffer_bytes=_send_buffer_bytes(env, max_frame_bytes),
            lease_ttl_ms=env.duration_ms(
                "PROMETHEAN_LEASE_TTL_MS", DEFAULT_LEASE_TTL_MS, min_ms=1_000, max_ms=600_000
            ),
            commit_interval_ms=env.duration_ms(
                "PROMETHEAN_COMMIT_INTERVAL_MS", DEFAULT_COMMIT_INTERVAL_MS, min_ms=1, max_ms=60_000
            ),
            append_batch_max=env.integer(
                "PROMETHEAN_APPEND_BATCH_MAX",
                DEFAULT_APPEND_BATCH_MAX,
                min_value=1,
                max_value=100_000,
            ),
            publish_queue_max=env.integer(
                "PROMETHEAN_PUBLISH_QUEUE_MAX",
                DEFAULT_PUBLISH_QUEUE_MAX,
                min_value=1,
                max_value=10_000_000,
            ),
            audit_sample=env.number(
                "PROMETHEAN_AUDIT_SAMPLE", DEFAULT_AUDIT_SAMPLE, min_value=0.0, max_value=1.0
            ),
            system_metrics_ms=env.duration_ms(
                "PROMETHEAN_SYSTEM_METRICS_MS", DEFAULT_SYSTEM_METRICS_MS, max_ms=HOUR_MS
            ),
            session_timeout_ms=_session_timeout_ms(env, common.heartbeat_ms),
            max_inflight_cap=_max_inflight_cap(env),
            send_stall_ms=env.duration_ms(
                "PROMETHEAN_SEND_STALL_MS", DEFAULT_SEND_STALL_MS, min_ms=100, max_ms=HOUR_MS
            ),
            broker_id=read_process_id(env, "PROMETHEAN_BROKER_ID"),
            jwt=read_jwt_config(env),
            metrics_max_label_sets=env.integer(
                "PROMETHEAN_METRICS_MAX_LABEL_SETS",
                DEFAULT_METRICS_MAX_LABEL_SETS,
                min_value=1,
                max_value=1_000_000,
            ),
            lag_refresh_ms=env.duration_ms(
                "PROMETHEAN_LAG_REFRESH_MS", DEFAULT_LAG_REFRESH_MS, min_ms=100, max_ms=HOUR_MS
            ),
            lag_offline_groups_max=env.integer(
                "PROMETHEAN_LAG_OFFLINE_GROUPS_MAX",
                DEFAULT_LAG_OFFLINE_GROUPS_MAX,
                min_value=0,
                max_value=100_000,
            ),
            system_retention_ms=env.duration_ms(
                "PROMETHEAN_SYSTEM_RETENTION_MS", DEFAULT_SYSTEM_RETENTION_MS, max_ms=3650 * DAY_MS
            ),
            dlq_retention_ms=env.duration_ms(
                "PROMETHEAN_DLQ_RETENTION_MS", DEFAULT_DLQ_RETENTION_MS, max_ms=3650 * DAY_MS
            ),
        )


def _backoff_max_ms(env: EnvReader, backoff_ms: int) -> int:
    name = "PROMETHEAN_REDELIVERY_BACKOFF_MAX_MS"
    value = env.duration_ms(name, DEFAULT_REDELIVERY_BACKOFF_MAX_MS, max_ms=DAY_MS)
    if value < backoff_ms:
        raise SettingsError(
            name, str(value), f"at least PROMETHEAN_REDELIVERY_BACKOFF_MS ({backoff_ms})"
        )
    return value


def _max_inflight_cap(env: EnvReader) -> int:
    """The server-side cap on a subscription's ``max_inflight``; at least
    the default a subscription gets when it asks for nothing (unset, it is
    the larger of the two defaults)."""
    name = "PROMETHEAN_MAX_INFLIGHT_CAP"
    default = env.integer("BUS_MAX_INFLIGHT", DEFAULT_MAX_INFLIGHT, min_value=1, max_value=100_000)
    if env.raw(name) is None:
        return max(DEFAULT_MAX_INFLIGHT_CAP, default)
    value = env.integer(name, DEFAULT_MAX_INFLIGHT_CAP, min_value=1, max_value=100_000)
    if value < default:
        raise SettingsError(name, str(value), f"at least BUS_MAX_INFLIGHT ({default})")
    return value


def _send_buffer_bytes(env: EnvReader, max_frame_bytes: int) -> int:
    """A connection's send buffer must hold at least one largest frame."""
    name = "PROMETHEAN_SEND_BUFFER_BYTES"
    value = env.integer(name, DEFAULT_SEND_BUFFER_BYTES, min_value=1024, max_value=GIB)
    if value < max_frame_bytes:
        raise SettingsError(
            name, str(value), f"at least PROMETHEAN_MAX_FRAME_BYTES ({max_frame_bytes})"
        )
    return value


def _session_timeout_ms(env: EnvReader, heartbeat_ms: int) -> int:
    """A member must get at least two heartbeats in before its session ends;
    unset, it is the default or three heartbeats, whichever is longer."""
    name = "PROMETHEAN_SESSION_TIMEOUT_MS"
    if env.raw(name) is None:
        return max(DEFAULT_SESSION_TIMEOUT_MS, 3 * heartbeat_ms)
    value = env.duration_ms(name, DEFAULT_SESSION_TIMEOUT_MS, min_ms=200, max_ms=HOUR_MS)
    if value < 2 * heartbeat_ms:
        raise SettingsError(
            name, str(value), f"at least twice PROMETHEAN_HEARTBEAT_MS ({2 * heartbeat_ms})"
        )
    return value
