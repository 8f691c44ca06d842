"""Partition assignment for partitioned groups: balanced, sticky, deterministic.

Pure functions, no I/O. Each topic is assigned on its own, among the members
that read it:

* **balanced**: owned counts of one topic differ by at most 1;
* **sticky**: a partition keeps its owner unless the owner left or holds more
  than its share; the larger shares go to the members that already hold the
  most, so the number of moved partitions is the least any balanced
  assignment can reach;
* **deterministic**: the result depends only on the arguments (ties break by
  member id, partitions are handed out in ascending order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Assignment = dict[str, list[int]]
"""member id → owned partitions (ascending) of one topic."""

GroupAssignment = dict[str, dict[str, list[int]]]
"""member id → topic → owned partitions (ascending)."""


def assign_topic(
    members: Iterable[str], partitions: int, previous: Mapping[str, Iterable[int]]
) -> Assignment:
    """Assign ``range(partitions)`` among ``members`` starting from ``previous``.

    Every member appears in the result (possibly with no partition). Entries
    of ``previous`` for absent members, partitions out of range and
    partitions claimed twice (the lower member id keeps it) are ignored.
    """
    if partitions < 0:
        raise ValueError("partitions must be >= 0")
    ordered = sorted(set(members))
    if not ordered:
        return {}
    held = _valid_holdings(ordered, partitions, previous)
    base, extra = divmod(partitions, len(ordered))
    by_holding = sorted(ordered, key=lambda m: (-len(held[m]), m))
    quota = {m: base + (1 if i < extra else 0) for i, m in enumerate(by_holding)}
    result: Assignment = {m: held[m][: quota[m]] for m in ordered}
    taken = {p for owned in result.values() for p in owned}
    free = iter(p for p in range(partitions) if p not in taken)
    for member in ordered:
        missing = quota[member] - len(result[member])
        if missing > 0:
            result[member] = sorted(result[member] + [next(free) for _ in range(missing)])
    return result


def _valid_holdings(
    ordered: Sequence[str], partitions: int, previous: Mapping[str, Iterable[int]]
) -> dict[str, list[int]]:
    seen: set[int] = set()
    held: dict[str, list[int]] = {}
    for member in ordered:
        mine = []
        for p in sorted(set(previous.get(member, ()))):
            if 0 <= p < partitions and p not in seen:
                seen.add(p)
                mine.append(p)
        held[member] = mine
    return held


def assign_group(
    members: Mapping[str, Iterable[str]],
    partition_counts: Mapping[str, int],
    previous: Mapping[str, Mapping[str, Iterable[int]]],
) -> GroupAssignment:
    """Assign every topic of ``partition_counts`` among the members reading
    it (``members``: member id → topics it joined with)."""
    result: GroupAssignment = {m: {} for m in sorted(members)}
    for topic in sorted(partition_counts):
        readers = [m for m, topics in members.items() if topic in set(topics)]
        before = {m: previous.get(m, {}).get(topic, ()) for m in readers}
        for member, owned in assign_topic(readers, partition_counts[topic], before).items():
            result[member][topic] = owned
    return result


def moved(before: Mapping[str, Iterable[int]], after: Mapping[str, Iterable[int]]) -> int:
    """How many partitions of ``after`` are owned by someone other than in ``before``."""
    owner_before = {p: m for m, owned in before.items() for p in owned}
    return sum(1 for m, owned in after.items() for p in owned if owner_before.get(p) != m)
