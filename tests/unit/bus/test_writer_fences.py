"""Group commit under per-partition grants: a write the store refused
because this broker took its partition again meanwhile (a late renewal gets
token + 1) is written once more under the new token; a write refused for a
partition still under the same token stands, and the partition is reported
fenced."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest

from promethean.bus.tail import PartitionTail, TailBudget
from promethean.bus.writer import GroupCommitter, PartitionWriter
from promethean.errors import NotOwnerError
from promethean.store.memory import MemoryStore
from promethean.store.records import NewEvent, TopicConfig

T0 = 1_000_000
TTL_MS = 1_000


class HeldGrants:
    """Grants as the ownership loop keeps them: a token per partition."""

    def __init__(self, tokens: dict[tuple[str, int], int]) -> None:
        self.tokens = tokens
        self.fenced_partitions: list[tuple[str, int]] = []
        self.on_token: list[int] = []
        """Tokens to hand out, one per call, before `tokens` (a renewal
        landing between the write and the refusal)."""

    def admits(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self.tokens

    def writable(self, topic: str) -> list[int]:
        return sorted(p for t, p in self.tokens if t == topic)

    def token(self, topic: str, partition: int) -> int | None:
        if self.on_token:
            return self.on_token.pop(0)
        return self.tokens.get((topic, partition))

    async def claim(self, topic: str, partition: int) -> int:
        return self.tokens[(topic, partition)]

    async def not_owner(self, topic: str, partition: int) -> NotOwnerError:
        return NotOwnerError(f"{topic}/{partition}")

    def fenced(self, partitions: Iterable[tuple[str, int]]) -> None:
        self.fenced_partitions.extend(partitions)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    opened = MemoryStore("memory://writer-fence-tests")
    await opened.open()
    await opened.create_topic(TopicConfig(name="t", partitions=1))
    yield opened
    await opened.close()


async def one_writer(
    store: MemoryStore, grants: HeldGrants
) -> tuple[GroupCommitter, PartitionWriter]:
    committer = GroupCommitter(store, fence=None, batch_max=100, grants=grants)
    writer = PartitionWriter(
        store,
        "t",
        0,
        committer=committer,
        tail=PartitionTail(TailBudget(1 << 20), 100, 1 << 16),
        on_appended=lambda _t, _p, _events: None,
    )
    await writer.load()
    return committer, writer


async def test_a_write_refused_after_a_late_renewal_goes_out_under_the_new_token(
    store: MemoryStore,
) -> None:
    first = await store.acquire_partition("t", 0, "b1", TTL_MS, T0)
    assert first is not None
    # The pass renewed too late: nobody took the partition, so b1 got token + 1.
    again = await store.acquire_partition("t", 0, "b1", TTL_MS, T0 + TTL_MS + 1)
    assert again is not None
    assert again.token == first.token + 1
    grants = HeldGrants({("t", 0): again.token})
    grants.on_token = [first.token]  # the write was fenced under the old token
    committer, writer = await one_writer(store, grants)

    result = await writer.submit(NewEvent(id="a", ts=0, payload=b"{}"))

    assert result.offset == 0
    assert grants.fenced_partitions == []
    assert await store.fence_tokens("t", 0, 0, 10) == [(0, again.token)]
    await committer.close()


async def test_a_write_refused_under_the_current_token_stands(store: MemoryStore) -> None:
    first = await store.acquire_partition("t", 0, "b1", TTL_MS, T0)
    assert first is not None
    taken = await store.acquire_partition("t", 0, "b2", TTL_MS, T0 + TTL_MS + 1)
    assert taken is not None
    grants = HeldGrants({("t", 0): first.token})  # b1 has not noticed yet
    committer, writer = await one_writer(store, grants)

    with pytest.raises(NotOwnerError):
        await writer.submit(NewEvent(id="a", ts=0, payload=b"{}"))

    assert grants.fenced_partitions == [("t", 0)]
    assert await store.latest_offset("t", 0) == -1
    await committer.close()
