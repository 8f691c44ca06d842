"""The pure cut computations of a compactor pass."""

from __future__ import annotations

from promethean_compactor import planning


def test_group_floor_is_one_past_the_commit_and_zero_without_one() -> None:
    floors = planning.group_floors({"a": {0: 9, 1: 3}, "b": {1: 7}}, partition=0)
    assert floors == {"a": 10, "b": 0}


def test_compaction_point_is_the_end_without_groups() -> None:
    assert planning.compaction_point(99, {}, beyond_commits=False) == 100


def test_compaction_point_stops_at_the_slowest_group() -> None:
    assert planning.compaction_point(99, {"a": 40, "b": 70}, beyond_commits=False) == 40


def test_compaction_point_ignores_groups_when_the_topic_allows() -> None:
    assert planning.compaction_point(99, {"a": 0}, beyond_commits=True) == 100


def test_compaction_point_never_passes_the_end() -> None:
    assert planning.compaction_point(9, {"a": 500}, beyond_commits=False) == 10


def test_retention_target_takes_the_stricter_limit() -> None:
    by_count = planning.retention_target(99, retention_events=30, first_recent_offset=None)
    by_time = planning.retention_target(99, retention_events=None, first_recent_offset=50)
    both = planning.retention_target(99, retention_events=30, first_recent_offset=50)
    assert (by_count, by_time, both) == (70, 50, 70)


def test_retention_target_without_limits_keeps_everything() -> None:
    assert planning.retention_target(99, retention_events=None, first_recent_offset=None) == 0


def test_retention_target_beyond_the_log_is_clamped() -> None:
    assert planning.retention_target(9, retention_events=None, first_recent_offset=500) == 10


def test_retention_is_held_back_by_groups_unless_forced() -> None:
    floors = {"fast": 90, "slow": 20}
    held = planning.plan_retention(60, floors, force=False)
    forced = planning.plan_retention(60, floors, force=True)
    assert (held.cut, held.blocked_by, held.skipping) == (20, ("slow",), ())
    assert (forced.cut, forced.blocked_by, forced.skipping) == (60, (), ("slow",))


def test_forced_retention_charges_each_group_for_what_it_had_not_read() -> None:
    floors = {"a": 10, "b": 30, "c": 100}
    plan = planning.plan_retention(50, floors, force=True)
    steps = plan.steps(floors, start=0)
    assert steps == [10, 30, 50]
    removed = {10: 10, 30: 15, 50: 20}
    assert planning.skipped_per_group(floors, removed, plan.skipping) == {"a": 35, "b": 20}


def test_retention_steps_are_empty_when_nothing_is_below_the_cut() -> None:
    plan = planning.plan_retention(5, {}, force=False)
    assert plan.steps({}, start=5) == []


def test_compaction_steps_rise_to_the_cut() -> None:
    assert planning.compaction_steps(0, 25, 10) == [10, 20, 25]
    assert planning.compaction_steps(20, 20, 10) == []
    assert planning.compaction_steps(0, 10, 10) == [10]
