"""The pass loop: outbox pass after pass while rows keep coming, a wait between.

After a full batch the next pass starts at once; otherwise the loop waits
for the notifier (change stream) or the poll interval. While the broker is
unreachable it claims nothing, so rows stay pending for whoever can publish
them. `stop` lets the pass under way finish (publish and mark), then ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from promethean.errors import StoreError
from promethean.runtime.health import JobTimer, Progress, Readiness
from promethean_outbox_drainer.notify import Notifier
from promethean_outbox_drainer.passes import OutboxPass

log = logging.getLogger("promethean.outbox_drainer")


class PassLoop:
    def __init__(
        self,
        outbox_pass: OutboxPass,
        notifier: Notifier,
        connected: Callable[[], bool],
        *,
        poll_ms: int,
        progress: Progress,
        readiness: Readiness,
        timer: JobTimer,
    ) -> None:
        self.outbox_pass = outbox_pass
        self.notifier = notifier
        self.connected = connected
        self.poll_s = poll_ms / 1000
        self.progress = progress
        self.readiness = readiness
        self.timer = timer
        self._stopping = False
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self.notifier.wake.set()

    async def run(self) -> None:
        batch = self.outbox_pass.config.batch
        while not self._stopping:
            self.progress.tick()
            if not self.connected():
                await self._pause()  # new rows wake nobody: nothing can be published
                continue
            self.notifier.wake.clear()
            try:
                result = await self.outbox_pass.run()
            except StoreError as error:
                self.readiness.fail("store", f"outbox pass failed: {error}")
                log.warning("outbox pass failed; retrying", extra={"error": str(error)})
                await self._wait()
                continue
            except Exception:
                log.exception("outbox pass failed; retrying")
                await self._wait()
                continue
            self.readiness.clear("store")
            self.progress.tick()
            if result.claimed:
                self.timer.observe(result.elapsed_ms)
            if result.claimed >= batch and not result.unavailable:
                continue
            await self._wait()

    async def _wait(self) -> None:
        """Until the notifier sees new rows, or one poll interval."""
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.notifier.wake.wait(), self.poll_s)

    async def _pause(self) -> None:
        """One poll interval, cut short only by `stop`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self.poll_s)
