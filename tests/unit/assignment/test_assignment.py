"""Properties of the partition assignment: balance, minimal moves, determinism."""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from promethean.assignment import assign_group, assign_topic, moved

member_ids = st.lists(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3), min_size=1, max_size=9, unique=True
)
partition_counts = st.integers(min_value=0, max_value=64)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[str], int, dict[str, list[int]]]:
    """Members, a partition count, and any previous assignment (also stale:
    departed members, partitions out of range, a partition claimed twice)."""
    members = draw(member_ids)
    partitions = draw(partition_counts)
    former = members + draw(st.lists(st.sampled_from(["x", "y", "zz"]), max_size=2, unique=True))
    previous = draw(
        st.dictionaries(
            st.sampled_from(former),
            st.lists(st.integers(min_value=0, max_value=80), max_size=20),
            max_size=len(former),
        )
    )
    return members, partitions, previous


def _owners(
    members: list[str], partitions: int, previous: dict[str, list[int]]
) -> dict[str, set[int]]:
    """The valid previous holdings: in range, and a partition claimed twice
    belongs to the lower member id."""
    seen: set[int] = set()
    owners: dict[str, set[int]] = {}
    for member in sorted(members):
        mine = {p for p in previous.get(member, ()) if 0 <= p < partitions and p not in seen}
        seen |= mine
        owners[member] = mine
    return owners


def _kept_at_best(members: list[str], partitions: int, previous: dict[str, list[int]]) -> int:
    """The most partitions any balanced assignment can leave with their owner."""
    holding = {m: len(owned) for m, owned in _owners(members, partitions, previous).items()}
    base, extra = divmod(partitions, len(members))
    above_base = sum(1 for h in holding.values() if h > base)
    return sum(min(h, base) for h in holding.values()) + min(extra, above_base)


@given(scenarios())
def test_every_partition_has_exactly_one_owner(
    scenario: tuple[list[str], int, dict[str, list[int]]],
) -> None:
    members, partitions, previous = scenario
    result = assign_topic(members, partitions, previous)
    owned = sorted(p for parts in result.values() for p in parts)
    assert owned == list(range(partitions))
    assert set(result) == set(members)
    assert all(parts == sorted(parts) for parts in result.values())


@given(scenarios())
def test_owned_counts_differ_by_at_most_one(
    scenario: tuple[list[str], int, dict[str, list[int]]],
) -> None:
    members, partitions, previous = scenario
    counts = [len(parts) for parts in assign_topic(members, partitions, previous).values()]
    assert max(counts) - min(counts) <= 1


@given(scenarios())
@example((["a", "c", "b", "aa", "aaa"], 9, {"a": [0, 1, 8], "c": [8]}))  # a double claim
def test_moves_are_minimal(scenario: tuple[list[str], int, dict[str, list[int]]]) -> None:
    members, partitions, previous = scenario
    result = assign_topic(members, partitions, previous)
    owners = _owners(members, partitions, previous)
    kept = sum(1 for m, parts in result.items() for p in parts if p in owners[m])
    assert kept == _kept_at_best(members, partitions, previous)


@given(scenarios(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(
    scenario: tuple[list[str], int, dict[str, list[int]]], rnd: random.Random
) -> None:
    members, partitions, previous = scenario
    shuffled_members = list(members)
    rnd.shuffle(shuffled_members)
    items = list(previous.items())
    rnd.shuffle(items)
    shuffled_previous = {m: list(reversed(parts)) for m, parts in items}
    assert assign_topic(members, partitions, previous) == assign_topic(
        shuffled_members, partitions, shuffled_previous
    )


@given(member_ids, partition_counts)
def test_a_stable_assignment_is_a_fixed_point(members: list[str], partitions: int) -> None:
    first = assign_topic(members, partitions, {})
    assert assign_topic(members, partitions, first) == first
    assert moved(first, assign_topic(members, partitions, first)) == 0


@given(member_ids, st.integers(min_value=1, max_value=64), st.data())
def test_one_member_leaving_moves_only_its_partitions_and_the_rebalance_share(
    members: list[str], partitions: int, data: st.DataObject
) -> None:
    before = assign_topic(members, partitions, {})
    leaver = data.draw(st.sampled_from(members))
    rest = [m for m in members if m != leaver]
    if not rest:
        return
    after = assign_topic(rest, partitions, before)
    # Survivors keep all they had: their share can only grow or stay.
    for member in rest:
        assert set(before[member]) <= set(after[member])
    assert moved({m: before[m] for m in rest}, after) == len(before[leaver])


def test_scale_up_moves_the_fewest_partitions() -> None:
    one = assign_topic(["a"], 12, {})
    three = assign_topic(["a", "b", "c"], 12, one)
    assert one == {"a": list(range(12))}
    assert three == {"a": [0, 1, 2, 3], "b": [4, 5, 6, 7], "c": [8, 9, 10, 11]}
    two = assign_topic(["a", "c"], 12, three)
    assert two == {"a": [0, 1, 2, 3, 4, 5], "c": [6, 7, 8, 9, 10, 11]}
    assert moved(three, two) == 4


def test_no_members_means_no_assignment() -> None:
    assert assign_topic([], 5, {"a": [1]}) == {}


def test_negative_partition_count_is_refused() -> None:
    with pytest.raises(ValueError, match="partitions"):
        assign_topic(["a"], -1, {})


def test_group_assignment_covers_only_the_topics_a_member_reads() -> None:
    result = assign_group(
        {"a": ["orders", "users"], "b": ["orders"]},
        {"orders": 4, "users": 3},
        {"a": {"orders": [0, 1, 2, 3]}},
    )
    assert result == {"a": {"orders": [0, 1], "users": [0, 1, 2]}, "b": {"orders": [2, 3]}}
