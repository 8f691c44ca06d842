"""Properties of the broker spread (balanced across the cluster, spread
within a topic, sticky) and of the cooperative move plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promethean.broker_assignment import (
    MoveAction,
    MoveStep,
    Ownership,
    owned_counts,
    plan_moves,
    spread_partitions,
)

broker_ids = st.lists(
    st.sampled_from([f"broker-{n}" for n in range(6)]), min_size=1, max_size=6, unique=True
)
topic_counts = st.dictionaries(
    st.sampled_from(["orders", "users", "audit", "metrics"]),
    st.integers(min_value=0, max_value=24),
    max_size=4,
)


@st.composite
def clusters(draw: st.DrawFn) -> tuple[list[str], dict[str, int], Ownership]:
    """Live brokers, topics, and any current ownership (also stale: brokers
    that left, partitions that do not exist)."""
    brokers = draw(broker_ids)
    counts = draw(topic_counts)
    known = sorted(set(brokers) | {"gone-1", "gone-2"})
    current = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(["orders", "users", "nope"]), st.integers(0, 30)),
            st.sampled_from(known),
            max_size=40,
        )
    )
    return brokers, counts, current


def _every_partition(counts: dict[str, int]) -> set[tuple[str, int]]:
    return {(topic, p) for topic, n in counts.items() for p in range(n)}


@given(clusters())
def test_every_partition_gets_one_live_owner(
    cluster: tuple[list[str], dict[str, int], Ownership],
) -> None:
    brokers, counts, current = cluster
    spread = spread_partitions(brokers, counts, current)
    assert set(spread) == _every_partition(counts)
    assert set(spread.values()) <= set(brokers)


@given(clusters())
def test_owned_counts_differ_by_at_most_one(
    cluster: tuple[list[str], dict[str, int], Ownership],
) -> None:
    brokers, counts, current = cluster
    owned = owned_counts(brokers, spread_partitions(brokers, counts, current))
    assert max(owned.values()) - min(owned.values()) <= 1


@given(clusters())
def test_a_balanced_spread_is_kept_as_it_is(
    cluster: tuple[list[str], dict[str, int], Ownership],
) -> None:
    brokers, counts, current = cluster
    settled = spread_partitions(brokers, counts, current)
    assert spread_partitions(brokers, counts, settled) == settled
    assert plan_moves(settled, settled, brokers) == []


@given(clusters(), st.sampled_from([f"broker-{n}" for n in range(6, 9)]))
def test_adding_a_broker_moves_only_its_share(
    cluster: tuple[list[str], dict[str, int], Ownership], newcomer: str
) -> None:
    brokers, counts, current = cluster
    settled = spread_partitions(brokers, counts, current)
    grown = spread_partitions([*brokers, newcomer], counts, settled)
    moved = {slot for slot, broker in grown.items() if settled.get(slot) != broker}
    assert all(grown[slot] == newcomer for slot in moved)
    assert len(moved) == owned_counts([newcomer], grown)[newcomer]


@given(clusters())
def test_a_leaving_broker_moves_only_its_own_partitions(
    cluster: tuple[list[str], dict[str, int], Ownership],
) -> None:
    brokers, counts, current = cluster
    settled = spread_partitions(brokers, counts, current)
    leaving, staying = brokers[0], brokers[1:]
    shrunk = spread_partitions(staying, counts, settled)
    if not staying:
        assert shrunk == {}
        return
    moved = {slot for slot, broker in shrunk.items() if settled[slot] != broker}
    assert moved == {slot for slot, broker in settled.items() if broker == leaving}


def test_a_topics_partitions_are_spread_over_the_brokers() -> None:
    spread = spread_partitions(["b0", "b1", "b2"], {"orders": 6, "users": 3}, {})

    for topic in ("orders", "users"):
        owners = [spread[(topic, p)] for p in range(3)]
        assert sorted(owners) == ["b0", "b1", "b2"], topic
    assert owned_counts(["b0", "b1", "b2"], spread) == {"b0": 3, "b1": 3, "b2": 3}


def test_no_broker_owns_nothing_and_negative_counts_are_refused() -> None:
    assert spread_partitions([], {"orders": 4}, {("orders", 0): "b0"}) == {}
    with pytest.raises(ValueError, match="partitions"):
        spread_partitions(["b0"], {"orders": -1}, {})


@given(clusters(), broker_ids)
def test_the_plan_releases_before_it_acquires_and_reaches_the_target(
    cluster: tuple[list[str], dict[str, int], Ownership], next_brokers: list[str]
) -> None:
    brokers, counts, current = cluster
    before = spread_partitions(brokers, counts, current)
    after = spread_partitions(next_brokers, counts, before)
    live = set(brokers) | set(next_brokers)

    plan = plan_moves(before, after, live)

    actions = [step.action for step in plan]
    assert actions == sorted(actions, key=lambda a: a is MoveAction.ACQUIRE)
    held = {slot: broker for slot, broker in before.items() if broker in live}
    for step in plan:
        slot = (step.topic, step.partition)
        if step.action is MoveAction.RELEASE:
            assert held.pop(slot) == step.broker
        else:
            assert slot not in held, f"{slot} acquired while {held.get(slot)} holds it"
            held[slot] = step.broker
    assert held == after


def test_a_dead_owners_partition_is_only_acquired() -> None:
    current = {("orders", 0): "dead", ("orders", 1): "b0"}
    target = {("orders", 0): "b1", ("orders", 1): "b1"}

    assert plan_moves(current, target, {"b0", "b1"}) == [
        MoveStep(MoveAction.RELEASE, "b0", "orders", 1),
        MoveStep(MoveAction.ACQUIRE, "b1", "orders", 0),
        MoveStep(MoveAction.ACQUIRE, "b1", "orders", 1),
    ]


def test_a_partition_without_target_is_only_released() -> None:
    assert plan_moves({("gone", 0): "b0"}, {}, {"b0"}) == [
        MoveStep(MoveAction.RELEASE, "b0", "gone", 0)
    ]


@given(clusters())
def test_the_spread_keeps_as_many_owners_as_any_balanced_spread_can(
    cluster: tuple[list[str], dict[str, int], Ownership],
) -> None:
    brokers, counts, current = cluster
    slots = _every_partition(counts)
    holding = {b: sum(1 for s, o in current.items() if o == b and s in slots) for b in brokers}
    base, extra = divmod(len(slots), len(brokers))
    above_base = sum(1 for h in holding.values() if h > base)
    best = sum(min(h, base) for h in holding.values()) + min(extra, above_base)

    spread = spread_partitions(brokers, counts, current)

    assert sum(1 for slot, broker in spread.items() if current.get(slot) == broker) == best
