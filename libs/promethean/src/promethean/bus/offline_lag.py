"""Lag of groups that have a commit but no live member, and of the
partitions other brokers of a cluster write.

The engine computes lag only for groups it holds, and it drops a group when
its last consumer leaves: exactly when lag matters most (every consumer is
dead). `OfflineLag` reads those groups' commits from the store instead, at
most once per refresh interval, for at most ``max_groups`` (group, topic)
pairs; the pairs left out are counted in ``omitted`` so a dashboard can say
the picture is partial. On a broker of a cluster the engine's cursors of a
partition another broker writes stand still, so a live group's lag of those
partitions is read from the store too (``live`` pairs): every broker reports
the whole cluster's lag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final, Protocol

from promethean.store.port import Store

log = logging.getLogger("promethean.bus.lag")

DEFAULT_REFRESH_MS: Final = 15_000
DEFAULT_MAX_GROUPS: Final = 500


class LiveGroups(Protocol):
    def group(self, group: str, topic: str) -> object | None: ...

    def high_watermark(self, topic: str, partition: int) -> int: ...

    def writes(self, topic: str, partition: int) -> bool:
        """True when this broker writes (owns) the partition."""
        ...


@dataclass(frozen=True, slots=True)
class OfflineGroupLag:
    topic: str
    group: str
    committed: dict[int, int]
    """partition → committed offset (-1 when the partition has no commit)."""
    latest: dict[int, int]
    """partition → highest appended offset (-1 when empty)."""
    live: bool = False
    """The group is live here: these are only the partitions other brokers write."""

    def lag(self, partition: int) -> int:
        return max(0, self.latest.get(partition, -1) - self.committed.get(partition, -1))


@dataclass(slots=True)
class OfflineLagSnapshot:
    groups: list[OfflineGroupLag] = field(default_factory=list)
    omitted: int = 0
    refreshed_ms: int | None = None


class OfflineLag:
    def __init__(
        self,
        store: Store,
        live: LiveGroups,
        *,
        max_groups: int = DEFAULT_MAX_GROUPS,
        refresh_ms: int = DEFAULT_REFRESH_MS,
    ) -> None:
        if max_groups < 0:
            raise ValueError("max_groups must be 0 or more")
        self._store = store
        self._live = live
        self.max_groups = max_groups
        self.refresh_ms = refresh_ms
        self.snapshot = OfflineLagSnapshot()

    def due(self, now_ms: int) -> bool:
        last = self.snapshot.refreshed_ms
        return last is None or now_ms - last >= self.refresh_ms

    async def refresh(self, now_ms: int) -> OfflineLagSnapshot:
        """Read commits of every offline (group, topic) pair, and of every
        live pair's partitions other brokers write, up to the cap, in name
        order so the same pairs stay in across refreshes."""
        groups: list[OfflineGroupLag] = []
        omitted = 0
        for config in sorted(await self._store.list_topics(), key=lambda c: c.name):
            every = range(config.partitions)
            elsewhere = [p for p in every if not self._live.writes(config.name, p)]
            pairs: list[tuple[str, bool]] = []
            for group in sorted(await self._store.groups_for_topic(config.name)):
                live = self._live.group(group, config.name) is not None
                if not live or elsewhere:
                    pairs.append((group, live))
            if not pairs:
                continue
            room = self.max_groups - len(groups)
            if room <= 0:
                omitted += len(pairs)
                continue
            omitted += max(0, len(pairs) - room)
            latest = {p: await self._latest(config.name, p) for p in every}
            for group, live in pairs[:room]:
                commits = await self._store.get_commits(group, config.name)
                parts = elsewhere if live else every
                committed = {p: (commits[p].offset if p in commits else -1) for p in parts}
                shown = {p: latest[p] for p in parts}
                groups.append(OfflineGroupLag(config.name, group, committed, shown, live))
        self.snapshot = OfflineLagSnapshot(groups, omitted, now_ms)
        return self.snapshot

    async def _latest(self, topic: str, partition: int) -> int:
        cached = self._live.high_watermark(topic, partition)
        if cached >= 0:
            return cached
        return await self._store.latest_offset(topic, partition)

    def _is_live(self, group: OfflineGroupLag) -> bool:
        return self._live.group(group.group, group.topic) is not None

    def current(self) -> OfflineLagSnapshot:
        """The last refresh, minus offline pairs that came back to life since
        (and live pairs whose members left: until the next refresh)."""
        snap = self.snapshot
        still = [g for g in snap.groups if self._is_live(g) == g.live]
        return OfflineLagSnapshot(still, snap.omitted, snap.refreshed_ms)
