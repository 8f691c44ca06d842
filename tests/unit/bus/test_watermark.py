"""AckWatermark: the contiguous low watermark behind every commit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promethean.watermark import AckWatermark


def test_in_order_acks_advance_one_by_one() -> None:
    mark = AckWatermark(-1)
    for offset in range(5):
        assert mark.mark_done(offset) is True
        assert mark.committed == offset
    assert mark.held == 0


def test_out_of_order_acks_wait_for_the_gap() -> None:
    mark = AckWatermark(-1)
    assert mark.mark_done(2) is False
    assert mark.mark_done(1) is False
    assert mark.mark_done(4) is False
    assert (mark.committed, mark.held) == (-1, 3)
    assert mark.is_done(2)
    assert mark.is_done(4)
    assert not mark.is_done(0)
    assert not mark.is_done(3)

    assert mark.mark_done(0) is True
    assert (mark.committed, mark.held) == (2, 1), "0..2 close, 4 still waits for 3"
    assert mark.mark_done(3) is True
    assert (mark.committed, mark.held) == (4, 0)


def test_never_moves_backwards_or_double_counts() -> None:
    mark = AckWatermark(9)
    assert mark.mark_done(3) is False
    assert mark.mark_done(9) is False
    assert mark.committed == 9
    assert mark.held == 0, "offsets at or below the watermark are not held"
    mark.mark_done(11)
    assert mark.mark_done(11) is False
    assert mark.held == 1


def test_starts_from_a_committed_offset() -> None:
    mark = AckWatermark(41)
    assert mark.is_done(41)
    assert not mark.is_done(42)
    assert mark.mark_done(42) is True
    assert mark.committed == 42


def test_range_done_at_the_watermark_jumps_and_absorbs_held_offsets() -> None:
    mark = AckWatermark(-1)
    mark.mark_done(12)
    mark.mark_done(13)
    mark.mark_done(20)
    assert mark.mark_range_done(0, 11) is True
    assert mark.committed == 13, "the range reaches 12 and 13 were already done"
    assert mark.held == 1
    assert mark.is_done(20)


def test_range_done_above_a_gap_is_held() -> None:
    mark = AckWatermark(-1)
    assert mark.mark_range_done(5, 7) is False
    assert mark.committed == -1
    assert all(mark.is_done(o) for o in (5, 6, 7))
    assert mark.mark_range_done(0, 4) is True
    assert (mark.committed, mark.held) == (7, 0)


def test_range_overlapping_the_watermark() -> None:
    mark = AckWatermark(10)
    assert mark.mark_range_done(3, 10) is False
    assert mark.mark_range_done(8, 15) is True
    assert mark.committed == 15


def test_a_long_range_at_the_watermark_is_cheap() -> None:
    mark = AckWatermark(-1)
    assert mark.mark_range_done(0, 10**12) is True
    assert mark.committed == 10**12
    assert mark.held == 0


@given(st.permutations(list(range(40))))
def test_any_ack_order_commits_the_longest_done_prefix(order: list[int]) -> None:
    mark = AckWatermark(-1)
    done: set[int] = set()
    previous = -1
    for offset in order:
        moved = mark.mark_done(offset)
        done.add(offset)
        prefix = -1
        while prefix + 1 in done:
            prefix += 1
        assert mark.committed == prefix
        assert moved == (prefix > previous)
        assert mark.committed >= previous
        assert mark.held == len(done) - (prefix + 1)
        previous = prefix
    assert mark.committed == 39


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("one"), st.integers(0, 60)),
            st.tuples(st.just("range"), st.integers(0, 60), st.integers(0, 10)),
        ),
        max_size=40,
    )
)
def test_mixed_acks_and_ranges_match_a_plain_set(ops: list[tuple[object, ...]]) -> None:
    mark = AckWatermark(-1)
    done: set[int] = set()
    for op in ops:
        if op[0] == "one":
            offset = int(op[1])  # type: ignore[call-overload]
            mark.mark_done(offset)
            done.add(offset)
        else:
            first, length = int(op[1]), int(op[2])  # type: ignore[call-overload]
            mark.mark_range_done(first, first + length)
            done.update(range(first, first + length + 1))
        prefix = -1
        while prefix + 1 in done:
            prefix += 1
        assert mark.committed == prefix
        assert all(mark.is_done(o) == (o in done) for o in range(80))
