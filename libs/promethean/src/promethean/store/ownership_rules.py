"""The rules every store adapter applies to partition ownership: who gets
a grant, which fenced write is refused, which fences a commit needs. Pure
functions over `promethean.store.ownership_records`; each adapter runs them
inside its own atomic step (a memory call, a SQLite transaction, a MongoDB
compare-and-set).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from promethean.errors import FencedError
from promethean.store.ownership_records import (
    RELEASED_EXPIRY_MS,
    PartitionFence,
    PartitionOwner,
)

FENCED: Final = (
    "partition {partition} of {topic!r} is owned with token {current}"
    "; a write fenced with token {given} is refused"
)
RELEASED: Final = (
    "partition {partition} of {topic!r} was released under token {current}"
    "; a write fenced with it is refused"
)
NOT_OWNED: Final = (
    "partition {partition} of {topic!r} has no owner; a write fenced with token {given} is refused"
)
UNFENCED_COMMIT: Final = (
    "commit of {group!r} on {topic!r} names partition {partition} without an ownership token"
)


def check_fence(fence: PartitionFence, stored: tuple[int, int] | None) -> None:
    """Raise `FencedError` unless ``fence`` carries the partition's current,
    unreleased token; ``stored`` is the partition's (token, expires_at_ms),
    None when it was never owned.

    Expiry alone does not refuse a write (the store has no clock): an owner
    whose grant lapsed keeps writing until someone else is granted token + 1.
    """
    if stored is None:
        raise FencedError(
            NOT_OWNED.format(topic=fence.topic, partition=fence.partition, given=fence.token)
        )
    token, expires_at_ms = stored
    if token != fence.token:
        raise FencedError(
            FENCED.format(
                topic=fence.topic, partition=fence.partition, current=token, given=fence.token
            )
        )
    if expires_at_ms == RELEASED_EXPIRY_MS:
        raise FencedError(
            RELEASED.format(topic=fence.topic, partition=fence.partition, current=token)
        )


def next_grant(
    current: PartitionOwner | None,
    topic: str,
    partition: int,
    broker_id: str,
    expires_at_ms: int,
    now_ms: int,
) -> PartitionOwner | None:
    """The grant an acquire at ``now_ms`` produces, or None while another
    broker's grant is live. The live holder itself gets its grant back
    unchanged (a retried acquire); a free, released or expired partition goes
    to ``broker_id`` with token + 1 (1 for a partition never owned)."""
    if current is not None and current.live(now_ms):
        return current if current.broker_id == broker_id else None
    return PartitionOwner(
        topic=topic,
        partition=partition,
        broker_id=broker_id,
        token=1 if current is None else current.token + 1,
        expires_at_ms=expires_at_ms,
    )


def commit_fences(
    group: str, topic: str, offsets: Mapping[int, int], tokens: Mapping[int, int]
) -> list[PartitionFence]:
    """The fence of each partition a commit names; `FencedError` when
    ``tokens`` lacks one."""
    fences: list[PartitionFence] = []
    for partition in offsets:
        token = tokens.get(partition)
        if token is None:
            raise FencedError(UNFENCED_COMMIT.format(group=group, topic=topic, partition=partition))
        fences.append(PartitionFence(topic, partition, token))
    return fences
