"""The controller's target ownership, kept in the store where every broker
reads it.

It is one row of the store's views (`ViewStore`), whose offset rule gives
the epoch guard for free: a row is replaced only by one with a higher
offset, and the offset is the target's epoch. The epoch is the controller
lease's token in the high bits and a counter in the low ones, so a new
controller's first target supersedes everything an older one wrote, and an
older controller woken from a pause can never overwrite it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from promethean.broker_assignment import Ownership
from promethean.store.port import ViewStore

TARGET_VIEW: Final = "broker.ownership"
TARGET_KEY: Final = "target"
EPOCH_TOKEN_SHIFT: Final = 32
"""Bits of the epoch left for the targets one controller publishes."""


@dataclass(frozen=True, slots=True)
class Target:
    """Which broker each (topic, partition) should belong to, as of
    ``epoch``, and the live ``brokers`` the controller spread them over."""

    epoch: int = 0
    owners: Ownership = field(default_factory=dict)
    brokers: frozenset[str] = frozenset()

    def next_epoch(self, controller_token: int) -> int:
        first = controller_token << EPOCH_TOKEN_SHIFT
        return max(first, self.epoch + 1)


def _encode(target: Target) -> dict[str, Any]:
    """Objects in arrays, not nested arrays (FerretDB refuses those)."""
    return {
        "brokers": sorted(target.brokers),
        "owners": [{"t": t, "p": p, "b": broker} for (t, p), broker in target.owners.items()],
    }


async def read_target(store: ViewStore) -> Target:
    """The newest published target; empty (epoch 0) before the first."""
    row = await store.view_get(TARGET_VIEW, TARGET_KEY)
    if row is None or not isinstance(row.value, dict):
        return Target()
    owners: Ownership = {}
    for entry in row.value.get("owners", []):
        owners[(str(entry["t"]), int(entry["p"]))] = str(entry["b"])
    brokers = frozenset(str(b) for b in row.value.get("brokers", []))
    return Target(row.offset, owners, brokers)


async def publish_target(store: ViewStore, target: Target) -> bool:
    """Store ``target``; False when a target of an equal or higher epoch is
    already there (another controller took over)."""
    return await store.view_upsert(TARGET_VIEW, TARGET_KEY, _encode(target), target.epoch)
