"""One pass over one topic, partition by partition: retention, then
compaction, then tombstone expiry, as the topic's config asks.

Every destructive store call is preceded by ``confirm()`` (the leader's
fencing check). Each call is safe to interrupt: the store applies it in one
write or in idempotent chunks, and neither ever removes the newest event of
a key, so a pass killed anywhere leaves a log a later pass can finish.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from promethean.store.port import Store
from promethean.store.records import Cleanup, TopicConfig
from promethean_compactor import planning
from promethean_compactor.metrics import CompactorMetrics

log = logging.getLogger("promethean.compactor.pass")

Confirm = Callable[[], Awaitable[None]]

COMPACTING = frozenset({Cleanup.COMPACT, Cleanup.COMPACT_DELETE})
DELETING = frozenset({Cleanup.DELETE, Cleanup.COMPACT_DELETE})


async def _always_leader() -> None:
    return None


@dataclass
class TopicReport:
    topic: str
    scanned: int = 0
    compacted: int = 0
    tombstones: int = 0
    retained: int = 0
    """Removed by retention."""
    skipped: dict[str, int] = field(default_factory=dict)
    """group → events forced retention removed before the group consumed them."""
    blocked_by: set[str] = field(default_factory=set)

    @property
    def removed(self) -> int:
        return self.compacted + self.tombstones + self.retained


@dataclass(frozen=True, slots=True)
class PassOptions:
    batch_events: int = 50_000
    tombstone_retention_ms: int = 24 * 3_600_000


class TopicPasses:
    """Runs passes against a store; remembers the last compaction point of
    each partition so an idle partition costs two reads per pass."""

    def __init__(
        self,
        store: Store,
        options: PassOptions,
        now_ms: Callable[[], int],
        *,
        confirm: Confirm = _always_leader,
        metrics: CompactorMetrics | None = None,
    ) -> None:
        self._store = store
        self._options = options
        self._now_ms = now_ms
        self._confirm = confirm
        self._metrics = metrics
        self._compacted_to: dict[tuple[str, int], tuple[int, int]] = {}
        """(topic, partition) → (latest offset, cut) of the last compaction."""

    def forget(self) -> None:
        """Drop remembered points (after a leadership change: another
        replica may have worked in between)."""
        self._compacted_to.clear()

    async def run(self, config: TopicConfig) -> TopicReport:
        report = TopicReport(config.name)
        commits = await self._commits(config.name)
        for partition in range(config.partitions):
            await self._partition(config, partition, commits, report)
        self._record(report)
        return report

    async def _commits(self, topic: str) -> dict[str, dict[int, int]]:
        groups = await self._store.groups_for_topic(topic)
        commits: dict[str, dict[int, int]] = {}
        for group in groups:
            rows = await self._store.get_commits(group, topic)
            commits[group] = {p: row.offset for p, row in rows.items()}
        return commits

    async def _partition(
        self,
        config: TopicConfig,
        partition: int,
        commits: planning.GroupCommits,
        report: TopicReport,
    ) -> None:
        latest = await self._store.latest_offset(config.name, partition)
        if latest < 0:
            return
        floors = planning.group_floors(commits, partition)
        if config.cleanup in DELETING and (
            config.retention_ms is not None or config.retention_events is not None
        ):
            await self._retention(config, partition, latest, floors, report)
        if config.cleanup in COMPACTING:
            cut = planning.compaction_point(
                latest, floors, beyond_commits=config.compact_beyond_commits
            )
            await self._compaction(config.name, partition, latest, cut, report)
            await self._tombstones(config, partition, cut, report)

    async def _retention(
        self,
        config: TopicConfig,
        partition: int,
        latest: int,
        floors: dict[str, int],
        report: TopicReport,
    ) -> None:
        topic = config.name
        first_recent = None
        if config.retention_ms is not None:
            cutoff = self._now_ms() - config.retention_ms
            first_recent = await self._store.offset_for_timestamp(topic, partition, cutoff)
        target = planning.retention_target(
            latest, retention_events=config.retention_events, first_recent_offset=first_recent
        )
        plan = planning.plan_retention(target, floors, force=config.retention_force)
        report.blocked_by.update(plan.blocked_by)
        earliest = await self._store.earliest_offset(topic, partition)
        removed_per_step: dict[int, int] = {}
        for step in plan.steps(floors, earliest):
            await self._confirm()
            removed_per_step[step] = await self._store.delete_below(topic, partition, step)
        report.retained += sum(removed_per_step.values())
        if plan.skipping:
            lost = planning.skipped_per_group(floors, removed_per_step, plan.skipping)
            for group, count in lost.items():
                report.skipped[group] = report.skipped.get(group, 0) + count
            log.warning(
                "forced retention removed events groups had not consumed",
                extra={"topic": topic, "partition": partition, "skipped": lost},
            )

    async def _compaction(
        self, topic: str, partition: int, latest: int, cut: int, report: TopicReport
    ) -> None:
        last = self._compacted_to.get((topic, partition))
        if last == (latest, cut):
            return
        start = last[1] if last is not None else await self._store.earliest_offset(topic, partition)
        report.scanned += await self._store.count_events(topic, partition)
        for step in planning.compaction_steps(start, cut, self._options.batch_events):
            await self._confirm()
            report.compacted += await self._store.compact_partition(topic, partition, step)
        self._compacted_to[(topic, partition)] = (latest, cut)

    async def _tombstones(
        self, config: TopicConfig, partition: int, cut: int, report: TopicReport
    ) -> None:
        retention_ms = config.tombstone_retention_ms
        if retention_ms is None:
            retention_ms = self._options.tombstone_retention_ms
        before_ms = planning.tombstone_cutoff_ms(self._now_ms(), retention_ms)
        await self._confirm()
        report.tombstones += await self._store.delete_tombstones(
            config.name, partition, cut, before_ms
        )

    def _record(self, report: TopicReport) -> None:
        if self._metrics is None:
            return
        m = self._metrics
        m.scanned.labels(report.topic).inc(report.scanned)
        m.removed.labels(report.topic, "compaction").inc(report.compacted)
        m.removed.labels(report.topic, "tombstone").inc(report.tombstones)
        m.removed.labels(report.topic, "retention").inc(report.retained)
        for group, count in report.skipped.items():
            m.retention_skipped.labels(report.topic, group).inc(count)
