"""Tunables of the bus engine; the broker builds one from its settings,
the mock broker from its constructor arguments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineConfig:
    default_partitions: int = 12
    default_max_attempts: int = 5
    ack_timeout_ms: int = 30_000
    max_inflight: int = 256
    append_batch_max: int = 512
    publish_queue_max: int = 20_000
    redelivery_backoff_ms: int = 0
    redelivery_backoff_max_ms: int = 60_000
    fetch_batch: int = 256
    tail_cache_events: int = 8192
    tail_cache_partition_bytes: int = 4 * 1024 * 1024
    tail_cache_total_bytes: int = 64 * 1024 * 1024
    overload_retry_after_ms: int = 200
    system_retention_ms: int = 0
    """Retention given to new system topics (``system.*``, ``heartbeat.received``); 0: none."""
    dlq_retention_ms: int = 0
    """Retention given to new ``<topic>.DLQ`` topics; 0: none."""
