"""The watchdog: exit so Kubernetes restarts the pod, instead of limping on.

Exits with 70 when the dependency (store or broker) has been unreachable for
longer than ``disconnect_kill_ms``, and with 71 when no work loop ticked its
progress for longer than the stall limit. Exiting is done through
``exit_process`` (default `os._exit`) because a stalled event loop or a stuck
thread could keep a graceful exit from ever finishing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable

from promethean.runtime.exit_codes import EXIT_DISCONNECTED, EXIT_STALLED
from promethean.runtime.health import Dependency, Progress

log = logging.getLogger("promethean.watchdog")


def _hard_exit(code: int) -> None:
    sys.stderr.flush()
    os._exit(code)


class Watchdog:
    def __init__(
        self,
        progress: Progress,
        dependency: Dependency,
        *,
        disconnect_kill_ms: int,
        check_every_ms: int = 250,
        exit_process: Callable[[int], None] = _hard_exit,
    ) -> None:
        self._progress = progress
        self._dependency = dependency
        self._disconnect_kill_ms = disconnect_kill_ms
        self._check_every_ms = check_every_ms
        self._exit = exit_process
        self.paused = False
        """Set while draining: a drain is supervised by its own hard cap."""

    def verdict(self) -> int | None:
        """The exit code the watchdog would use now, or None when healthy."""
        if self.paused:
            return None
        if self._dependency.down_for_ms > self._disconnect_kill_ms:
            return EXIT_DISCONNECTED
        if not self._progress.live:
            return EXIT_STALLED
        return None

    def start_thread(self) -> threading.Thread:
        """Watch from a thread of its own, with its own event loop, so a
        service whose event loop is blocked is still caught (exit 71)."""
        thread = threading.Thread(
            target=asyncio.run, args=(self.run(),), name="watchdog", daemon=True
        )
        thread.start()
        return thread

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._check_every_ms / 1000)
            code = self.verdict()
            if code is None:
                continue
            if code == EXIT_DISCONNECTED:
                log.error(
                    "dependency unreachable too long; exiting",
                    extra={
                        "dependency": self._dependency.name,
                        "down_ms": self._dependency.down_for_ms,
                        "exit_code": code,
                    },
                )
            else:
                log.error(
                    "no progress too long; exiting",
                    extra={"stalled_ms": self._progress.stalled_ms, "exit_code": code},
                )
            self._exit(code)
            return
