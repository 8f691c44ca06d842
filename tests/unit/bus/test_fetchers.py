"""The owner's side of FETCH: the check against the stored membership, and
the fetches it serves (one fetcher per partition, newer generations win)."""

from __future__ import annotations

import pytest

from promethean.bus.fetchers import Fetchers, check_assigned
from promethean.errors import FrameError
from promethean.frames import broker as bf
from promethean.store.records import Member
from tests.unit.bus.conftest import MakeHarness
from tests.unit.bus.support import Harness, Inbox

TOPIC = "orders"
GROUP = "fulfil"


def record(generation: int, owned: list[int], revoking: list[int] | None = None) -> Member:
    return Member(
        group=GROUP,
        member_id="m1",
        topics=[TOPIC],
        expires_at_ms=10_000,
        generation=generation,
        data={"owned": {TOPIC: owned}, "revoking": {TOPIC: revoking or []}},
    )


def request(generation: int, partitions: set[int], member_id: str = "m1") -> bf.Fetch:
    return bf.Fetch(
        topic=TOPIC,
        group=GROUP,
        member_id=member_id,
        generation=generation,
        partitions=sorted(partitions),
    )


def test_assigned_partitions_of_the_current_generation_pass() -> None:
    check_assigned(record(3, [0, 2]), request(3, {0, 2}), kept=set())


@pytest.mark.parametrize(
    ("stored", "asked", "kept", "why"),
    [
        (None, request(3, {0}), set(), "not a member"),
        (record(4, [0]), request(3, {0}), set(), "generation 3"),
        (record(3, [0]), request(3, {0, 1}), set(), "not assigned orders/1"),
        (record(3, [0], revoking=[1]), request(3, {0, 1}), set(), "not assigned orders/1"),
    ],
    ids=["no member", "stale generation", "not assigned", "revoking is not new"],
)
def test_a_fetch_the_membership_does_not_give_is_stale(
    stored: Member | None, asked: bf.Fetch, kept: set[int], why: str
) -> None:
    with pytest.raises(FrameError, match=why) as refused:
        check_assigned(stored, asked, kept)
    assert refused.value.code == "stale_generation"


def test_a_partition_being_revoked_may_stay_fetched() -> None:
    check_assigned(record(3, [0], revoking=[1]), request(3, {0, 1}), kept={1})


async def test_a_fetch_delivers_only_its_partitions(make_harness: MakeHarness) -> None:
    bus = await make_harness(default_partitions=4)
    fetchers = Fetchers(bus.engine)
    inbox = Inbox("c1")
    await fetchers.place(inbox, request(1, {1, 3}))
    for partition in range(4):
        await bus.publish(TOPIC, {"p": partition}, key=f"k{partition}")
    await bus.engine.settle()
    delivered = {p for p, _ in inbox.offsets()}
    assert delivered
    assert delivered <= {1, 3}
    fetch = fetchers.fetch_of("c1", GROUP, TOPIC)
    assert fetch is not None
    fetchers.check_settle(fetch, TOPIC, GROUP, 1, 1)
    with pytest.raises(FrameError) as refused:
        fetchers.check_settle(fetch, TOPIC, GROUP, 0, 1)
    assert refused.value.code == "stale_generation"
    with pytest.raises(FrameError):
        fetchers.check_settle(fetch, TOPIC, GROUP, 1, 0)


async def test_a_newer_generation_takes_a_partition_and_the_old_fetcher_is_refused(
    bus: Harness,
) -> None:
    fetchers = Fetchers(bus.engine)
    old, new = Inbox("old"), Inbox("new")
    await fetchers.place(old, request(1, {0}))
    await bus.publish(TOPIC, {"n": 1}, id="e1")
    await bus.engine.settle()
    assert old.offsets() == [(0, 0)]

    await fetchers.place(new, request(2, {0}, member_id="m2"))
    await bus.engine.settle()
    assert new.offsets() == [(0, 0)], "the old fetcher's in-flight event is redelivered"
    old_fetch = fetchers.fetch_of("old", GROUP, TOPIC)
    assert old_fetch is not None
    with pytest.raises(FrameError):
        fetchers.check_settle(old_fetch, TOPIC, GROUP, 0, 1)
    with pytest.raises(FrameError, match="generation 1"):
        await fetchers.place(old, request(1, {0}))


async def test_an_empty_fetch_ends_it_and_a_lost_link_is_forgotten(bus: Harness) -> None:
    fetchers = Fetchers(bus.engine)
    inbox = Inbox("c1")
    await fetchers.place(inbox, request(1, {0}))
    await fetchers.place(inbox, request(1, set()))
    assert fetchers.fetch_of("c1", GROUP, TOPIC) is None
    await fetchers.place(inbox, request(2, {0}))
    await bus.engine.release_consumer("c1")
    fetchers.link_lost("c1")
    assert fetchers.fetch_of("c1", GROUP, TOPIC) is None
