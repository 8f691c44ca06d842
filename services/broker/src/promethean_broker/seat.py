"""What the cluster roles of one broker share (promethean_broker/
controller.py, ownership.py): the store, this broker's id, the TTL of its
grants and leases, its clock, and where store failures are reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from promethean.runtime.health import StoreHealth
from promethean.store.port import Store


@dataclass(frozen=True, slots=True)
class ClusterSeat:
    store: Store
    broker_id: str
    ttl_ms: int
    now_ms: Callable[[], int]
    health: StoreHealth | None = None
