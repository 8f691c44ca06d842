"""The coordinator's in-memory view of a partitioned group and its members."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from promethean.bus.subscription import Consumer, Subscription
from promethean.frames import broker as bf

LOG_MAX_ENTRIES: Final = 256
"""Ownership changes kept in the group's coordinator log."""


class MemberLink(Consumer, Protocol):
    """How the coordinator reaches a member: deliveries (as a `Consumer`)
    and membership frames. The broker connection and the mock both are one."""

    def send_membership(self, frame: bf.Assignment | bf.Revoke) -> None: ...


Partitions = dict[str, set[int]]
"""topic → partitions."""


@dataclass(eq=False)
class Member:
    member_id: str
    topics: list[str]
    expires_at_ms: int
    instance_id: str | None = None
    link: MemberLink | None = None
    generation: int = 0
    owned: Partitions = field(default_factory=dict)
    """Partitions the member may fetch."""
    revoking: Partitions = field(default_factory=dict)
    """Partitions it must give up; still its own until it confirms."""
    revoke_deadline_ms: int | None = None
    since: dict[tuple[str, int], int] = field(default_factory=dict)
    """(topic, partition) → generation in which the member received it."""
    subs: dict[str, Subscription] = field(default_factory=dict)
    max_inflight: int | None = None
    ack_timeout_ms: int | None = None

    def holds(self, topic: str, partition: int) -> bool:
        return partition in self.owned.get(topic, ()) or partition in self.revoking.get(topic, ())

    def held(self) -> dict[str, list[int]]:
        return {
            t: sorted(self.owned.get(t, set()) | self.revoking.get(t, set())) for t in self.topics
        }

    @staticmethod
    def wire(parts: Partitions, topics: list[str]) -> dict[str, list[int]]:
        return {t: sorted(parts.get(t, ())) for t in topics}


@dataclass(eq=False)
class GroupView:
    name: str
    generation: int = 0
    stored_generation: int | None = None
    target: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_MAX_ENTRIES))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def by_instance(self, instance_id: str, topics: list[str]) -> Member | None:
        """The static member ``instance_id`` reading ``topics`` (one process
        may hold one membership per topic under the same instance id)."""
        for member in self.members.values():
            if member.instance_id == instance_id and member.topics == topics:
                return member
        return None

    def holder(self, topic: str, partition: int) -> Member | None:
        for member in self.members.values():
            if member.holds(topic, partition):
                return member
        return None

    def record(self, now_ms: int) -> None:
        """Append who holds what now (owned or still revoking) to the log."""
        self.log.append(
            {
                "generation": self.generation,
                "ts": now_ms,
                "owners": {m.member_id: m.held() for m in self.members.values()},
            }
        )


class LinkIndex:
    """Which members each connection speaks for, keyed by member: one
    connection may hold several memberships of one group (one per topic,
    each with its own member id), and none displaces another."""

    def __init__(self) -> None:
        self._by_link: dict[str, dict[tuple[str, str], Member]] = {}

    def add(self, consumer_id: str, group: str, member: Member) -> None:
        self._by_link.setdefault(consumer_id, {})[(group, member.member_id)] = member

    def drop(self, consumer_id: str, group: str, member_id: str) -> None:
        members = self._by_link.get(consumer_id)
        if members is None:
            return
        members.pop((group, member_id), None)
        if not members:
            del self._by_link[consumer_id]

    def get(self, consumer_id: str, group: str, member_id: str) -> Member | None:
        return self._by_link.get(consumer_id, {}).get((group, member_id))

    def reading(self, consumer_id: str, group: str, topic: str) -> Member | None:
        """The link's member of ``group`` that reads ``topic`` (a connection
        holds at most one membership per group and topic)."""
        for (g, _), member in self._by_link.get(consumer_id, {}).items():
            if g == group and topic in member.topics:
                return member
        return None

    def pop_link(self, consumer_id: str) -> list[tuple[str, Member]]:
        """Forget the link; returns (group, member) pairs it spoke for."""
        members = self._by_link.pop(consumer_id, {})
        return [(group, member) for (group, _), member in members.items()]
