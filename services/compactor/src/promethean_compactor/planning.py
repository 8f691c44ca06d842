"""Where each operation of a pass may cut a partition: pure functions.

A *cut* is an offset ``c``: the operation touches only offsets ``< c``.
Consumer groups set the floor: a group that committed ``C`` on a partition
has consumed every offset ``<= C``, so ``C + 1`` is the lowest offset it
still needs to see unchanged. A partition without a commit row for a group
that reads the topic pins the floor at 0 (the group has consumed nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GroupCommits = Mapping[str, Mapping[int, int]]
"""group → partition → committed offset (-1: nothing yet)."""


def group_floors(commits: GroupCommits, partition: int) -> dict[str, int]:
    """group → the lowest offset of ``partition`` the group has not consumed."""
    return {group: by_partition.get(partition, -1) + 1 for group, by_partition in commits.items()}


def compaction_point(latest_offset: int, floors: Mapping[str, int], *, beyond_commits: bool) -> int:
    """The cut for compaction: the end of the log, held back to the lowest
    group floor unless the topic allows compacting beyond commits."""
    end = latest_offset + 1
    if beyond_commits or not floors:
        return end
    return max(0, min(end, *floors.values()))


def retention_target(
    latest_offset: int,
    *,
    retention_events: int | None,
    first_recent_offset: int | None,
) -> int:
    """The cut retention wants before any group is considered.

    ``retention_events`` keeps the newest N offsets (gaps count: the rule is
    about the log's positions, not what compaction left). ``first_recent_offset``
    is the first offset young enough to keep by ``retention_ms`` (None when
    the topic has no time limit). The stricter of the two wins."""
    end = latest_offset + 1
    target = 0
    if retention_events is not None:
        target = max(target, end - retention_events)
    if first_recent_offset is not None:
        target = max(target, first_recent_offset)
    return min(target, end)


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    cut: int
    """Delete offsets below this."""
    blocked_by: tuple[str, ...] = ()
    """Groups that held the cut back (retention not forced)."""
    skipping: tuple[str, ...] = ()
    """Groups that lose unconsumed events (retention forced)."""

    def steps(self, floors: Mapping[str, int], start: int) -> list[int]:
        """Ascending cuts to delete in: ``start``-exclusive group floors below
        the cut, then the cut itself, so the removed count of each step can
        be charged to exactly the groups that had not consumed it."""
        inner = sorted({f for f in floors.values() if start < f < self.cut})
        return [*inner, self.cut] if self.cut > start else []


def plan_retention(target: int, floors: Mapping[str, int], *, force: bool) -> RetentionPlan:
    """Hold ``target`` back to the lowest group floor unless ``force``."""
    behind = tuple(sorted(g for g, floor in floors.items() if floor < target))
    if not behind:
        return RetentionPlan(cut=target)
    if force:
        return RetentionPlan(cut=target, skipping=behind)
    return RetentionPlan(cut=min(floors[g] for g in behind), blocked_by=behind)


def skipped_per_group(
    floors: Mapping[str, int], removed_per_step: Mapping[int, int], groups: tuple[str, ...]
) -> dict[str, int]:
    """Events each skipping group lost: the removals of every step whose cut
    lies above that group's floor (steps are keyed by their cut)."""
    return {
        group: sum(n for cut, n in removed_per_step.items() if cut > floors[group])
        for group in groups
    }


def compaction_steps(start: int, cut: int, batch: int) -> list[int]:
    """Rising compaction points from ``start`` to ``cut``, ``batch`` apart.

    Compacting below ``c1`` then below ``c2 > c1`` leaves the same log as
    compacting below ``c2`` once, but each store call holds its write lock
    for one batch plus what survived the previous step."""
    if cut <= start:
        return []
    return [*range(start + batch, cut, batch), cut]


def tombstone_cutoff_ms(now_ms: int, retention_ms: int) -> int:
    """Tombstones written before this time may go."""
    return now_ms - retention_ms
