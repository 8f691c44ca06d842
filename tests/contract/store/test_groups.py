"""Consumer groups: CAS commits, attempt counters, members, coordinator state."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from promethean.errors import StaleGenerationError
from promethean.store import CommittedOffset, GroupState, Member, Store

TOPIC = "orders"


def member(group: str, member_id: str, **changes: Any) -> Member:
    plain = Member(group=group, member_id=member_id, topics=[TOPIC], expires_at_ms=10_000)
    return msgspec.structs.replace(plain, **changes)


async def test_commit_stores_offsets_per_partition(store: Store) -> None:
    assert await store.get_commits("billing", TOPIC) == {}

    result = await store.commit("billing", TOPIC, {0: 4, 2: 9})

    assert result[0] == CommittedOffset(0, 4, 0)
    assert result[2] == CommittedOffset(2, 9, 0)
    assert await store.get_commits("billing", TOPIC) == {
        0: CommittedOffset(0, 4, 0),
        2: CommittedOffset(2, 9, 0),
    }


async def test_commits_are_kept_per_group_and_topic(store: Store) -> None:
    await store.commit("billing", TOPIC, {0: 4})
    await store.commit("shipping", TOPIC, {0: 1})
    await store.commit("billing", "invoices", {0: 7})

    assert await store.get_commits("billing", TOPIC) == {0: CommittedOffset(0, 4)}
    assert await store.get_commits("shipping", TOPIC) == {0: CommittedOffset(0, 1)}
    assert await store.get_commits("billing", "invoices") == {0: CommittedOffset(0, 7)}


async def test_commit_never_moves_backwards(store: Store) -> None:
    await store.commit("billing", TOPIC, {0: 10, 1: 3})

    result = await store.commit("billing", TOPIC, {0: 6, 1: 5})

    assert result[0].offset == 10
    assert result[1].offset == 5
    commits = await store.get_commits("billing", TOPIC)
    assert (commits[0].offset, commits[1].offset) == (10, 5)


async def test_commit_with_a_stale_generation_is_refused_and_changes_nothing(
    store: Store,
) -> None:
    await store.commit("billing", TOPIC, {0: 10}, generation=3)

    with pytest.raises(StaleGenerationError):
        await store.commit("billing", TOPIC, {0: 20, 1: 5}, generation=2)

    assert await store.get_commits("billing", TOPIC) == {0: CommittedOffset(0, 10, 3)}


async def test_a_newer_generation_replaces_the_stored_one(store: Store) -> None:
    await store.commit("billing", TOPIC, {0: 10}, generation=3)

    result = await store.commit("billing", TOPIC, {0: 12}, generation=5)
    same = await store.commit("billing", TOPIC, {0: 13}, generation=5)

    assert result[0] == CommittedOffset(0, 12, 5)
    assert same[0] == CommittedOffset(0, 13, 5)
    with pytest.raises(StaleGenerationError):
        await store.commit("billing", TOPIC, {0: 14}, generation=4)
    assert await store.get_commits("billing", TOPIC) == {0: CommittedOffset(0, 13, 5)}


async def test_attempts_are_counted_read_and_cleared(store: Store) -> None:
    assert await store.add_attempts("billing", TOPIC, 0, [3, 4, 7]) == {3: 1, 4: 1, 7: 1}
    assert await store.add_attempts("billing", TOPIC, 0, [4, 7]) == {4: 2, 7: 2}
    await store.add_attempts("billing", TOPIC, 1, [4])
    await store.add_attempts("shipping", TOPIC, 0, [4])

    assert await store.get_attempts("billing", TOPIC, 0, 0) == {3: 1, 4: 2, 7: 2}
    assert await store.get_attempts("billing", TOPIC, 0, 4) == {4: 2, 7: 2}

    await store.clear_attempts("billing", TOPIC, 0, 4)

    assert await store.get_attempts("billing", TOPIC, 0, 0) == {7: 2}
    assert await store.get_attempts("billing", TOPIC, 1, 0) == {4: 1}
    assert await store.get_attempts("shipping", TOPIC, 0, 0) == {4: 1}
    assert await store.add_attempts("billing", TOPIC, 0, [4]) == {4: 1}


async def test_groups_for_topic_lists_groups_holding_a_commit(store: Store) -> None:
    await store.commit("billing", TOPIC, {0: 1})
    await store.commit("audit", TOPIC, {3: 0})
    await store.commit("shipping", "invoices", {0: 1})
    await store.add_attempts("only-attempts", TOPIC, 0, [0])

    assert sorted(await store.groups_for_topic(TOPIC)) == ["audit", "billing"]
    assert await store.groups_for_topic("nothing") == []


async def test_members_upsert_list_and_remove(store: Store) -> None:
    await store.upsert_member(member("workers", "m2", instance_id="pod-2"))
    await store.upsert_member(member("workers", "m1", data={"host": "a", "n": [1, 2]}))
    await store.upsert_member(member("others", "m9"))
    await store.upsert_member(member("workers", "m2", instance_id="pod-2", expires_at_ms=20_000))

    listed = sorted(await store.list_members("workers"), key=lambda m: m.member_id)

    assert listed == [
        member("workers", "m1", data={"host": "a", "n": [1, 2]}),
        member("workers", "m2", instance_id="pod-2", expires_at_ms=20_000),
    ]
    assert await store.remove_member("workers", "m1") is True
    assert await store.remove_member("workers", "m1") is False
    assert await store.remove_member("workers", "m9") is False
    assert [m.member_id for m in await store.list_members("workers")] == ["m2"]
    assert [m.member_id for m in await store.list_members("others")] == ["m9"]


async def test_group_state_is_compare_and_set_on_generation(store: Store) -> None:
    first = GroupState(group="workers", generation=1, assignment={"m1": {TOPIC: [0, 1]}})
    second = GroupState(
        group="workers", generation=2, assignment={"m1": {TOPIC: [0]}, "m2": {TOPIC: [1]}}
    )
    assert await store.get_group_state("workers") is None
    assert await store.put_group_state(first, expected_generation=0) is False
    assert await store.get_group_state("workers") is None

    assert await store.put_group_state(first, expected_generation=None) is True
    assert await store.put_group_state(first, expected_generation=None) is False
    assert await store.put_group_state(second, expected_generation=0) is False
    assert await store.get_group_state("workers") == first

    assert await store.put_group_state(second, expected_generation=1) is True
    assert await store.put_group_state(first, expected_generation=1) is False
    assert await store.get_group_state("workers") == second
    assert await store.get_group_state("other") is None


async def test_returned_group_records_cannot_change_stored_ones(store: Store) -> None:
    data: dict[str, object] = {"slots": [1]}
    await store.upsert_member(member("workers", "m1", data=data))
    state = GroupState(group="workers", generation=1, assignment={"m1": {TOPIC: [0]}})
    await store.put_group_state(state, expected_generation=None)
    data["slots"] = "changed-by-caller"
    state.assignment["m1"][TOPIC].append(9)

    (listed,) = await store.list_members("workers")
    listed.data["slots"] = "mutated"
    stored_state = await store.get_group_state("workers")
    assert stored_state is not None
    stored_state.assignment["m1"][TOPIC].append(7)

    (again,) = await store.list_members("workers")
    assert again.data == {"slots": [1]}
    again_state = await store.get_group_state("workers")
    assert again_state is not None
    assert again_state.assignment == {"m1": {TOPIC: [0]}}
