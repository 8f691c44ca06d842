"""The broker settings a behaviour test runs under, applied identically to
the mock (`MockConfig`) and to the real broker process (environment)."""

from __future__ import annotations

from dataclasses import dataclass

from promethean.testing import MockConfig


@dataclass(frozen=True, slots=True)
class BusSettings:
    partitions: int = 4
    max_attempts: int = 3
    ack_timeout_ms: int = 10_000
    max_inflight: int = 256

    def environment(self) -> dict[str, str]:
        return {
            "PROMETHEAN_DEFAULT_PARTITIONS": str(self.partitions),
            "PROMETHEAN_MAX_ATTEMPTS": str(self.max_attempts),
            "BUS_ACK_TIMEOUT_MS": str(self.ack_timeout_ms),
            "BUS_MAX_INFLIGHT": str(self.max_inflight),
            "PROMETHEAN_REDELIVERY_BACKOFF_MS": "0",
        }

    def mock_config(self) -> MockConfig:
        return MockConfig(
            partitions=self.partitions,
            max_attempts=self.max_attempts,
            ack_timeout_ms=self.ack_timeout_ms,
            max_inflight=self.max_inflight,
            redelivery_backoff_ms=0,
        )
