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
