"""The ownership rules every adapter applies, without a store."""

from __future__ import annotations

import pytest

from promethean.errors import FencedError
from promethean.store.ownership_records import RELEASED_EXPIRY_MS, PartitionFence, PartitionOwner
from promethean.store.ownership_rules import check_fence, commit_fences, next_grant

NOW = 1_000


def _owner(broker: str, token: int, expires: int) -> PartitionOwner:
    return PartitionOwner(
        topic="orders", partition=2, broker_id=broker, token=token, expires_at_ms=expires
    )


@pytest.mark.parametrize(
    ("current", "broker", "expected"),
    [
        (None, "b1", _owner("b1", 1, NOW + 50)),
        (_owner("b0", 4, NOW + 1), "b1", None),
        (_owner("b0", 4, NOW + 1), "b0", _owner("b0", 4, NOW + 1)),
        (_owner("b0", 4, NOW), "b1", _owner("b1", 5, NOW + 50)),
        (_owner("b0", 4, NOW), "b0", _owner("b0", 5, NOW + 50)),
        (_owner("b0", 4, RELEASED_EXPIRY_MS), "b1", _owner("b1", 5, NOW + 50)),
    ],
    ids=["never-owned", "live-other", "live-self", "expired", "expired-self", "released"],
)
def test_next_grant(
    current: PartitionOwner | None, broker: str, expected: PartitionOwner | None
) -> None:
    assert next_grant(current, "orders", 2, broker, NOW + 50, NOW) == expected


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (None, "has no owner"),
        ((4, NOW), "owned with token 4; a write fenced with token 3"),
        ((3, RELEASED_EXPIRY_MS), "was released under token 3"),
    ],
)
def test_check_fence_refuses_with_the_reason(stored: tuple[int, int] | None, message: str) -> None:
    with pytest.raises(FencedError, match=message):
        check_fence(PartitionFence("orders", 2, 3), stored)


def test_check_fence_lets_the_current_token_through_even_past_expiry() -> None:
    check_fence(PartitionFence("orders", 2, 3), (3, NOW))


def test_commit_fences_need_a_token_for_every_partition() -> None:
    assert commit_fences("g", "orders", {0: 5, 1: 7}, {0: 2, 1: 3, 9: 9}) == [
        PartitionFence("orders", 0, 2),
        PartitionFence("orders", 1, 3),
    ]
    with pytest.raises(FencedError, match="partition 1 without an ownership token"):
        commit_fences("g", "orders", {0: 5, 1: 7}, {0: 2})
