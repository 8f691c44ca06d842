"""Liveness from progress, readiness from dependencies.

Each work loop calls ``progress.tick()``; liveness fails when no loop ticked
within the stall limit. Readiness is a set of named conditions; the service
is ready when none is failing, and the failing ones are the reason shown.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable


class Progress:
    def __init__(self, max_stall_ms: int) -> None:
        self.max_stall_ms = max_stall_ms
        self._last = time.monotonic()
        self.last_wall_ms = int(time.time() * 1000)
        self._waiting: Callable[[], bool] | None = None

    def tick(self) -> None:
        self._last = time.monotonic()
        self.last_wall_ms = int(time.time() * 1000)

    def excuse_while(self, waiting: Callable[[], bool]) -> None:
        """While ``waiting()`` holds, the work loops wait on a dependency
        known to be failing (a store call may block for its client's whole
        timeout): that is not a stall, the dependency's own limit applies
        (`Watchdog`, exit 70). The stall clock restarts when it ends."""
        self._waiting = waiting

    @property
    def stalled_ms(self) -> int:
        waiting = self._waiting
        if waiting is not None and waiting():
            self._last = time.monotonic()
            return 0
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


STORE_CONDITION = "store"
STORE_LOG_EVERY_S = 5.0
"""While the store stays unavailable, one log line per this many seconds."""
STORE_SETTLE_S = 2.0
"""A probe's success clears a failure only once no failure came this long."""

_store_log = logging.getLogger("promethean.store.health")


class StoreHealth:
    """Whether the store serves, from the outcomes of real work and probes.

    Failed writes and reads (publishes, commits, lease renewals, a periodic
    probe) call `failed`; the ``store`` readiness condition fails at once
    and the dependency is marked down (the watchdog's clock). A success
    clears it: at once for a write that stored client data (``settled``), or
    after `STORE_SETTLE_S` without failure for a probe, so a store that
    renews a small lease row but refuses appends (a full disk reuses WAL
    pages) does not flap ready. While failing, one line is logged per
    `STORE_LOG_EVERY_S`, never a traceback; recovery is logged once.
    """

    def __init__(
        self,
        readiness: Readiness,
        link: Dependency,
        *,
        log_every_s: float = STORE_LOG_EVERY_S,
        settle_s: float = STORE_SETTLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._readiness = readiness
        self._link = link
        self._log_every_s = log_every_s
        self._settle_s = settle_s
        self._clock = clock
        self._failing_since: float | None = None
        self._last_failure = -math.inf
        self._last_log = -math.inf
        self.failures = 0

    @property
    def healthy(self) -> bool:
        return self._failing_since is None

    def failed(self, reason: str) -> None:
        now = self._clock()
        self.failures += 1
        self._last_failure = now
        if self._failing_since is None:
            self._failing_since = now
        self._readiness.fail(STORE_CONDITION, reason)
        self._link.down()
        if now - self._last_log >= self._log_every_s:
            self._last_log = now
            _store_log.warning(
                "store unavailable; not ready until it answers again",
                extra={"reason": reason, "down_ms": int((now - self._failing_since) * 1000)},
            )

    def succeeded(self, *, settled: bool = False) -> None:
        if self._failing_since is None:
            return
        now = self._clock()
        if not settled and now - self._last_failure < self._settle_s:
            return
        down_ms = int((now - self._failing_since) * 1000)
        self._failing_since = None
        self._last_log = -math.inf
        self._readiness.clear(STORE_CONDITION)
        self._link.up()
        _store_log.warning("store available again", extra={"down_ms": down_ms})
