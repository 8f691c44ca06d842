"""Consumer-group state held in memory: committed offsets, delivery attempt
counters, members and the coordinator's group state."""

from __future__ import annotations

from collections.abc import Sequence

from promethean.errors import StaleGenerationError
from promethean.store.memory.copies import decode_as, encode_json
from promethean.store.records import CommittedOffset, GroupState, Member

STALE_COMMIT = (
    "commit of group {group!r} on {topic!r} partition {partition} carries"
    " generation {given}, older than the stored generation {stored}"
)


class CommitTable:
    """Committed offsets by (group, topic), plus attempt counters by
    (group, topic, partition)."""

    def __init__(self) -> None:
        self._commits: dict[tuple[str, str], dict[int, CommittedOffset]] = {}
        self._attempts: dict[tuple[str, str, int], dict[int, int]] = {}

    def get(self, group: str, topic: str) -> dict[int, CommittedOffset]:
        return dict(self._commits.get((group, topic), {}))

    def commit(
        self, group: str, topic: str, offsets: dict[int, int], generation: int
    ) -> dict[int, CommittedOffset]:
        rows = self._commits.get((group, topic), {})
        for partition in offsets:
            stored = rows.get(partition)
            if stored is not None and stored.generation > generation:
                raise StaleGenerationError(
                    STALE_COMMIT.format(
                        group=group,
                        topic=topic,
                        partition=partition,
                        given=generation,
                        stored=stored.generation,
                    )
                )
        if not offsets:
            return {}
        rows = self._commits.setdefault((group, topic), rows)
        result: dict[int, CommittedOffset] = {}
        for partition, offset in offsets.items():
            stored = rows.get(partition)
            kept = offset if stored is None else max(stored.offset, offset)
            rows[partition] = result[partition] = CommittedOffset(partition, kept, generation)
        return result

    def groups_for_topic(self, topic: str) -> list[str]:
        return sorted(group for (group, t), rows in self._commits.items() if t == topic and rows)

    def add_attempts(
        self, group: str, topic: str, partition: int, offsets: Sequence[int]
    ) -> dict[int, int]:
        counters = self._attempts.setdefault((group, topic, partition), {})
        totals: dict[int, int] = {}
        for offset in offsets:
            counters[offset] = totals[offset] = counters.get(offset, 0) + 1
        return totals

    def get_attempts(
        self, group: str, topic: str, partition: int, from_offset: int
    ) -> dict[int, int]:
        counters = self._attempts.get((group, topic, partition), {})
        return {offset: n for offset, n in sorted(counters.items()) if offset >= from_offset}

    def clear_attempts(self, group: str, topic: str, partition: int, up_to: int) -> None:
        counters = self._attempts.get((group, topic, partition))
        if counters is None:
            return
        for offset in [offset for offset in counters if offset <= up_to]:
            del counters[offset]
        if not counters:
            del self._attempts[(group, topic, partition)]

    def reset(self, group: str, topic: str, offsets: dict[int, int]) -> dict[int, CommittedOffset]:
        rows = self._commits.setdefault((group, topic), {})
        result: dict[int, CommittedOffset] = {}
        for partition, offset in offsets.items():
            stored = rows.get(partition)
            generation = 0 if stored is None else stored.generation
            rows[partition] = result[partition] = CommittedOffset(partition, offset, generation)
            self._attempts.pop((group, topic, partition), None)
        return result

    def delete(self, group: str, topic: str) -> bool:
        found = self._commits.pop((group, topic), None) is not None
        for key in [k for k in self._attempts if k[0] == group and k[1] == topic]:
            del self._attempts[key]
            found = True
        return found

    def delete_topic(self, topic: str) -> None:
        for pair in [k for k in self._commits if k[1] == topic]:
            del self._commits[pair]
        for triple in [k for k in self._attempts if k[1] == topic]:
            del self._attempts[triple]

    def commit_rows(self) -> int:
        return sum(len(rows) for rows in self._commits.values())

    def attempt_rows(self) -> int:
        return sum(len(counters) for counters in self._attempts.values())


class MembershipTable:
    """Members by group and the coordinator's `GroupState`, kept as JSON so
    every read hands out a fresh record."""

    def __init__(self) -> None:
        self._members: dict[str, dict[str, bytes]] = {}
        self._states: dict[str, tuple[int, bytes]] = {}

    def upsert_member(self, member: Member) -> None:
        self._members.setdefault(member.group, {})[member.member_id] = encode_json(member)

    def remove_member(self, group: str, member_id: str) -> bool:
        members = self._members.get(group)
        if members is None or member_id not in members:
            return False
        del members[member_id]
        if not members:
            del self._members[group]
        return True

    def list_members(self, group: str) -> list[Member]:
        members = self._members.get(group, {})
        return [decode_as(members[member_id], Member) for member_id in sorted(members)]

    def get_state(self, group: str) -> GroupState | None:
        stored = self._states.get(group)
        return None if stored is None else decode_as(stored[1], GroupState)

    def put_state(self, state: GroupState, expected_generation: int | None) -> bool:
        stored = self._states.get(state.group)
        stored_generation = None if stored is None else stored[0]
        if stored_generation != expected_generation:
            return False
        self._states[state.group] = (state.generation, encode_json(state))
        return True

    def member_rows(self) -> int:
        return sum(len(members) for members in self._members.values())

    def state_rows(self) -> int:
        return len(self._states)
