"""Lag per owned partition, read from the broker's admin API (``GET /lag``).

The client protocol carries no log-end offsets, so every
``PROMETHEAN_WORKER_LAG_POLL_MS`` the worker asks the broker, and exports
``promethean_worker_lag`` for the partitions it owns (all partitions when
the subscription is not partitioned). A failed poll leaves the gauges as
they were and is retried next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from promethean_worker.metrics import WorkerMetrics

log = logging.getLogger("promethean.worker")

Owned = Callable[[], Mapping[str, frozenset[int] | None]]
"""topic → owned partitions; None means "every partition"."""


class LagPoller:
    def __init__(
        self,
        http_url: str,
        group: str,
        token: str | None,
        metrics: WorkerMetrics,
        owned: Owned,
        interval_ms: int,
    ) -> None:
        self._url = http_url.rstrip("/") + "/lag"
        self._group = group
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._metrics = metrics
        self._owned = owned
        self._interval_s = interval_ms / 1000
        self._shown: set[tuple[str, str, str]] = set()

    async def poll_once(self, session: aiohttp.ClientSession) -> None:
        shown: set[tuple[str, str, str]] = set()
        for topic, owned in self._owned().items():
            params = {"topic": topic, "group": self._group}
            async with session.get(self._url, params=params, headers=self._headers) as response:
                if response.status != 200:
                    continue  # no such topic yet
                body: dict[str, Any] = await response.json()
            for row in body.get("partitions", []):
                partition = int(row["partition"])
                if owned is not None and partition not in owned:
                    continue
                labels = (topic, str(partition), self._group)
                self._metrics.lag.labels(*labels).set(int(row["lag"]))
                shown.add(labels)
        for labels in self._shown - shown:
            self._metrics.lag.remove(*labels)
        self._shown = shown

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=max(1.0, self._interval_s))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    await self.poll_once(session)
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                    log.debug("lag poll failed", extra={"error": repr(exc)})
                await asyncio.sleep(self._interval_s)
