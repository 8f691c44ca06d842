"""Records of the broker cluster kept in the store: live brokers, who owns
each (topic, partition) under which fencing token, and the history of those
grants. Plain data, no I/O.

A partition's token (its *epoch*) only grows: every new grant gets
``previous + 1``, so a write carrying an older token is told apart from the
current owner's and refused with `FencedError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from promethean.errors import FencedError

RELEASED_EXPIRY_MS: Final = 0
"""``expires_at_ms`` of a released grant: in the past for every caller's clock."""


class BrokerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A registered broker and where clients reach it; live while
    ``now_ms < expires_at_ms``."""

    broker_id: str
    address: str
    expires_at_ms: int


class PartitionOwner(msgspec.Struct, frozen=True, kw_only=True):
    """The current grant of one (topic, partition). ``token`` is the epoch;
    the grant is live while ``now_ms < expires_at_ms`` and a released grant
    has ``expires_at_ms == RELEASED_EXPIRY_MS``."""

    topic: str
    partition: int
    broker_id: str
    token: int
    expires_at_ms: int

    @property
    def released(self) -> bool:
        return self.expires_at_ms == RELEASED_EXPIRY_MS

    def live(self, now_ms: int) -> bool:
        return now_ms < self.expires_at_ms


class OwnershipGrant(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the ownership log: ``broker_id`` was granted the
    partition with ``token`` at ``acquired_ms``. A grant ends when the next
    one (token + 1) begins."""

    topic: str
    partition: int
    token: int
    broker_id: str
    acquired_ms: int


class PartitionFence(msgspec.Struct, frozen=True):
    """The grant a write claims: refused unless ``token`` is the partition's
    current, unreleased token."""

    topic: str
    partition: int
    token: int


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


def fence_refusal(fence: PartitionFence, stored: tuple[int, int] | None) -> str | None:
    """Why a write fenced with ``fence`` must be refused, or None when it may
    proceed. ``stored`` is the partition's (token, expires_at_ms), if any.

    Expiry alone does not refuse a write (the store has no clock): an owner
    whose grant lapsed keeps writing until someone else is granted token + 1.
    """
    if stored is None:
        return NOT_OWNED.format(topic=fence.topic, partition=fence.partition, given=fence.token)
    token, expires_at_ms = stored
    if token != fence.token:
        return FENCED.format(
            topic=fence.topic, partition=fence.partition, current=token, given=fence.token
        )
    if expires_at_ms == RELEASED_EXPIRY_MS:
        return RELEASED.format(topic=fence.topic, partition=fence.partition, current=token)
    return None


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
