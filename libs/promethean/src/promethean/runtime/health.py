"""Liveness from progress, readiness from dependencies.

Each work loop calls ``progress.tick()``; liveness fails when no loop ticked
within the stall limit. Readiness is a set of named conditions; the service
is ready when none is failing, and the failing ones are the reason shown.
"""

from __future__ import annotations

import time


class Progress:
    def __init__(self, max_stall_ms: int) -> None:
        self.max_stall_ms = max_stall_ms
        self._last = time.monotonic()
        self.last_wall_ms = int(time.time() * 1000)

    def tick(self) -> None:
        self._last = time.monotonic()
        self.last_wall_ms = int(time.time() * 1000)

    @property
    def stalled_ms(self) -> int:
        return int((time.monotonic() - self._last) * 1000)

    @property
    def live(self) -> bool:
        return self.stalled_ms <= self.max_stall_ms


class Readiness:
    def __init__(self) -> None:
        self._failing: dict[str, str] = {}

    def fail(self, condition: str, reason: str) -> None:
        self._failing[condition] = reason

    def clear(self, condition: str) -> None:
        self._failing.pop(condition, None)

    @property
    def ready(self) -> bool:
        return not self._failing

    @property
    def reasons(self) -> dict[str, str]:
        return dict(self._failing)


EXIT_DISCONNECTED = 70
"""Exit code after the broker/store was unreachable longer than allowed."""
EXIT_STALLED = 71
"""Exit code after a work loop made no progress longer than allowed."""


class Dependency:
    """Connection state of what a service depends on (store or broker)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._down_since: float | None = time.monotonic()

    def up(self) -> None:
        self._down_since = None

    def down(self) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()

    @property
    def connected(self) -> bool:
        return self._down_since is None

    @property
    def down_for_ms(self) -> int:
        if self._down_since is None:
            return 0
        return int((time.monotonic() - self._down_since) * 1000)


class JobTimer:
    """Exponentially weighted average job duration, for heartbeats."""

    def __init__(self, weight: float = 0.1) -> None:
        self._weight = weight
        self.avg_ms = 0.0
        self.count = 0

    def observe(self, ms: float) -> None:
        self.count += 1
        if self.count == 1:
            self.avg_ms = ms
        else:
            self.avg_ms += self._weight * (ms - self.avg_ms)
