"""Records of the broker cluster kept in the store: live brokers, who owns
each (topic, partition) under which fencing token, and the history of those
grants. Plain data, no I/O.

A partition's token (its *epoch*) only grows: every new grant gets
``previous + 1``, so a write carrying an older token is told apart from the
current owner's and refused with `FencedError`.
"""

from __future__ import annotations

from typing import Final

import msgspec

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
