"""Which broker owns which partition: the spread the controller aims for and
the cooperative plan that gets there. Pure functions, no I/O.

* **balanced across the cluster**: owned counts of the live brokers differ
  by at most 1, counting the partitions of every topic together;
* **spread within a topic**: partitions are laid out partition-major
  (``(a, 0), (b, 0), (a, 1), …``) and the free ones dealt round-robin, so a
  topic's partitions land on different brokers rather than piling up on one;
* **sticky**: a partition keeps its broker unless that broker is gone or
  holds more than its share; the larger shares go to the brokers already
  holding the most, so the moves are the fewest any balanced spread needs
  (the rule of `promethean.assignment.assign_topic`, applied across topics;
  that function deals free partitions in runs, which would put a new
  topic's partitions on one broker, hence this module);
* **cooperative**: `plan_moves` lists every release before any acquire: a
  partition's old owner stops, flushes, commits and releases, and only then
  does the new owner acquire it with token + 1. A partition whose owner is
  gone has no release step; its acquire succeeds once the lease expired.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import cycle

TopicPartition = tuple[str, int]
Ownership = dict[TopicPartition, str]
"""(topic, partition) → broker id."""


def _slots(partition_counts: Mapping[str, int]) -> list[TopicPartition]:
    """Every (topic, partition), partition-major so topics interleave."""
    for topic, count in partition_counts.items():
        if count < 0:
            raise ValueError(f"topic {topic!r} has {count} partitions; must be >= 0")
    slots = [(topic, p) for topic, count in partition_counts.items() for p in range(count)]
    return sorted(slots, key=lambda slot: (slot[1], slot[0]))


def spread_partitions(
    brokers: Iterable[str],
    partition_counts: Mapping[str, int],
    current: Mapping[TopicPartition, str],
) -> Ownership:
    """The owner of every partition of ``partition_counts`` among ``brokers``
    (the live ones), starting from ``current``. Entries of ``current`` for
    brokers not in ``brokers`` or partitions that do not exist are ignored.
    Empty when there is no broker."""
    slots = _slots(partition_counts)
    ordered = sorted(set(brokers))
    if not ordered:
        return {}
    held: dict[str, list[TopicPartition]] = {broker: [] for broker in ordered}
    for slot in slots:
        owner = current.get(slot)
        if owner in held:
            held[owner].append(slot)
    base, extra = divmod(len(slots), len(ordered))
    by_holding = sorted(ordered, key=lambda broker: (-len(held[broker]), broker))
    quota = {broker: base + (1 if i < extra else 0) for i, broker in enumerate(by_holding)}
    result: Ownership = {
        slot: broker for broker in ordered for slot in held[broker][: quota[broker]]
    }
    room = {broker: quota[broker] - min(quota[broker], len(held[broker])) for broker in ordered}
    dealer = cycle(ordered)
    for slot in slots:
        if slot in result:
            continue
        broker = next(dealer)
        while room[broker] == 0:
            broker = next(dealer)
        result[slot] = broker
        room[broker] -= 1
    return result


def owned_counts(brokers: Iterable[str], ownership: Mapping[TopicPartition, str]) -> dict[str, int]:
    """How many partitions each of ``brokers`` owns (0 for one owning none)."""
    counted = Counter(ownership.values())
    return {broker: counted[broker] for broker in sorted(set(brokers))}


class MoveAction(enum.StrEnum):
    RELEASE = "release"
    ACQUIRE = "acquire"


@dataclass(frozen=True, order=True)
class MoveStep:
    """``broker`` releases or acquires (``topic``, ``partition``)."""

    action: MoveAction
    broker: str
    topic: str
    partition: int


def plan_moves(
    current: Mapping[TopicPartition, str],
    target: Mapping[TopicPartition, str],
    live: Collection[str],
) -> list[MoveStep]:
    """The steps from ``current`` to ``target``: releases by live old owners
    first, then acquires by the new owners, each group by (topic,
    partition). A partition owned by the same broker in both has no step; a
    partition with no live owner now has only its acquire; one with no
    owner in ``target`` (its topic is gone, or no broker is left) has only
    its release."""
    releases: list[MoveStep] = []
    acquires: list[MoveStep] = []
    for topic, partition in sorted(set(current) | set(target)):
        old = current.get((topic, partition))
        new = target.get((topic, partition))
        if old == new:
            continue
        if old is not None and old in live:
            releases.append(MoveStep(MoveAction.RELEASE, old, topic, partition))
        if new is not None:
            acquires.append(MoveStep(MoveAction.ACQUIRE, new, topic, partition))
    return releases + acquires
