"""How an `InMemoryBroker` behaves: the broker tunables it shares with the
real broker (same defaults), and the mock's own knobs (delivery mode,
ordering, latency, loss, subscriber buffers)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from promethean.bus.config import EngineConfig

DEFAULT_START_MS: Final = 1_700_000_000_000
DEFAULT_BUFFER_SIZE: Final = 1024
DEFAULT_EVENT_LOG_MAX: Final = 100_000
DEFAULT_MAX_ROUNDS: Final = 1_000_000


class DeliveryMode(enum.StrEnum):
    INLINE = "inline"
    """Whatever is due is handed to subscribers (and handlers run) before the
    call that caused it — publish, ack, subscribe — returns."""
    SCHEDULED = "scheduled"
    """Deliveries wait until the test calls ``tick()``, ``advance()`` or ``drain()``."""


class Ordering(enum.StrEnum):
    IN_ORDER = "in-order"
    """Each subscriber receives its deliveries in hand-out order."""
    SHUFFLE = "shuffle"
    """Deliveries released together are shuffled (seeded), per-subscriber FIFO is off."""


class Overflow(enum.StrEnum):
    """What a full subscriber buffer does with one more delivery."""

    BLOCK = "block"
    """Backpressure: the broker hands out no more until the subscriber takes one."""
    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"
    RAISE = "raise"
    """The subscriber fails with `BufferOverflowError` and is dropped as too slow."""


@dataclass(frozen=True, slots=True)
class Latency:
    """Transit time of one delivery on the fake clock, uniform in
    ``[min_ms, max_ms]`` (seeded)."""

    min_ms: int
    max_ms: int

    def __post_init__(self) -> None:
        if self.min_ms < 0 or self.max_ms < self.min_ms:
            raise ValueError(
                f"latency needs 0 <= min_ms <= max_ms, got {self.min_ms}..{self.max_ms}"
            )

    @classmethod
    def fixed(cls, ms: int) -> Latency:
        return cls(ms, ms)

    @classmethod
    def between(cls, min_ms: int, max_ms: int) -> Latency:
        return cls(min_ms, max_ms)


_ENGINE_DEFAULTS: Final = EngineConfig()


@dataclass(frozen=True, slots=True)
class MockConfig:
    # Broker semantics: the same names and defaults as the broker's settings.
    partitions: int = _ENGINE_DEFAULTS.default_partitions
    max_attempts: int = _ENGINE_DEFAULTS.default_max_attempts
    ack_timeout_ms: int = _ENGINE_DEFAULTS.ack_timeout_ms
    max_inflight: int = _ENGINE_DEFAULTS.max_inflight
    redelivery_backoff_ms: int = _ENGINE_DEFAULTS.redelivery_backoff_ms
    redelivery_backoff_max_ms: int = _ENGINE_DEFAULTS.redelivery_backoff_max_ms
    # The mock's own knobs.
    mode: DeliveryMode = DeliveryMode.INLINE
    ordering: Ordering = Ordering.IN_ORDER
    seed: int = 0
    latency: Latency | None = None
    drop_rate: float = 0.0
    buffer_size: int = DEFAULT_BUFFER_SIZE
    overflow: Overflow = Overflow.BLOCK
    start_ms: int = DEFAULT_START_MS
    event_log_max: int = DEFAULT_EVENT_LOG_MAX
    max_rounds: int = DEFAULT_MAX_ROUNDS
    """Steps one pump, tick or drain may take before the mock reports a
    runaway (a handler that publishes or fails without end)."""

    def __post_init__(self) -> None:
        positive = {
            "partitions": self.partitions,
            "max_attempts": self.max_attempts,
            "max_inflight": self.max_inflight,
            "buffer_size": self.buffer_size,
            "event_log_max": self.event_log_max,
            "max_rounds": self.max_rounds,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"MockConfig.{name} must be at least 1, got {value}")
        if self.ack_timeout_ms < 1:
            raise ValueError(
                f"MockConfig.ack_timeout_ms must be positive, got {self.ack_timeout_ms}"
            )
        if not 0.0 <= self.drop_rate <= 1.0:
            raise ValueError(f"MockConfig.drop_rate must lie in [0, 1], got {self.drop_rate}")
        if (
            self.redelivery_backoff_ms < 0
            or self.redelivery_backoff_max_ms < self.redelivery_backoff_ms
        ):
            raise ValueError(
                "MockConfig needs 0 <= redelivery_backoff_ms <= redelivery_backoff_max_ms"
            )
        # Accept the plain strings the docs use ("shuffle", "drop-oldest", ...).
        object.__setattr__(self, "mode", DeliveryMode(self.mode))
        object.__setattr__(self, "ordering", Ordering(self.ordering))
        object.__setattr__(self, "overflow", Overflow(self.overflow))

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            default_partitions=self.partitions,
            default_max_attempts=self.max_attempts,
            ack_timeout_ms=self.ack_timeout_ms,
            max_inflight=self.max_inflight,
            redelivery_backoff_ms=self.redelivery_backoff_ms,
            redelivery_backoff_max_ms=self.redelivery_backoff_max_ms,
        )
