"""Which partitions this engine may write, under which fencing token.

A broker of a cluster writes a partition only while it holds the
partition's grant in the store (see `promethean.store.port.OwnershipStore`).
The engine asks its `PartitionGrants` before queueing a publish (`claim`)
and again when the group commit writes it (`token`); the broker's ownership
loop adds and drops grants as the controller's target moves them. Without
grants (the mock broker, unit tests) the engine writes every partition, as
one broker always did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from promethean.errors import NotOwnerError
from promethean.store.ownership_records import PartitionFence


class PartitionGrants(Protocol):
    def admits(self, topic: str, partition: int) -> bool:
        """True when a new publish to ``partition`` may be queued now (the
        grant is held and not being released)."""
        ...

    def writable(self, topic: str) -> list[int]:
        """The partitions of ``topic`` that `admits` a publish now, ascending."""
        ...

    def token(self, topic: str, partition: int) -> int | None:
        """The token this engine writes ``partition`` under (queued publishes
        and commits included, while a release waits for them); None when it
        no longer holds the grant."""
        ...

    async def claim(self, topic: str, partition: int) -> int:
        """The token to write under, acquiring the grant first when nobody
        else may hold it; `promethean.errors.NotOwnerError` naming the owner
        otherwise."""
        ...

    async def not_owner(self, topic: str, partition: int) -> NotOwnerError:
        """The refusal of a request for a partition this engine does not
        hold, naming its owner when known."""
        ...

    def fenced(self, partitions: Iterable[tuple[str, int]]) -> None:
        """The store refused a write under these partitions' tokens: stop
        writing them at once and check them with the store."""
        ...


def renewed_fences(
    grants: PartitionGrants, fences: list[PartitionFence]
) -> list[PartitionFence] | None:
    """The fences under the tokens held now, when a refused write may be
    tried once more: every partition is still held and at least one was
    taken again meanwhile (a renewal that came late gets token + 1 when
    nobody else took the partition, so nothing was written under it and
    the refused write, which stored nothing, keeps its place). None: the
    refusal stands."""
    renewed: list[PartitionFence] = []
    for fence in fences:
        token = grants.token(fence.topic, fence.partition)
        if token is None:
            return None
        renewed.append(PartitionFence(fence.topic, fence.partition, token))
    if renewed == fences:
        return None
    return renewed
