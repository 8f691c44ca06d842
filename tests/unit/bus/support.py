"""Building blocks for engine tests: a recording consumer and an engine
driven inline (``background=False``) on the memory store and a fake clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from promethean.bus import AckRef, BusEngine, Delivery, EngineConfig, PublishRequest
from promethean.clock import FakeClock
from promethean.store.memory import MemoryStore
from promethean.store.records import AppendResult

ACK_TIMEOUT_MS = 1_000


@dataclass(eq=False)
class Inbox:
    """A consumer that records its deliveries; ``capacity`` makes it refuse
    (a full send buffer) after that many."""

    consumer_id: str
    capacity: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    dropped: bool = False

    def deliver(self, delivery: Delivery) -> bool:
        if self.capacity is not None and len(self.deliveries) >= self.capacity:
            return False
        self.deliveries.append(delivery)
        return True

    def drop_slow(self) -> None:
        self.dropped = True

    def take(self) -> list[Delivery]:
        taken, self.deliveries = self.deliveries, []
        return taken

    def offsets(self) -> list[tuple[int, int]]:
        return [(d.event.partition, d.event.offset) for d in self.deliveries]


def ref(delivery: Delivery) -> AckRef:
    return AckRef(
        delivery.event.topic, delivery.group, delivery.event.partition, delivery.event.offset
    )


def payload(value: Any) -> bytes:
    return json.dumps(value).encode()


class Harness:
    """One engine over one store; ``restart`` builds a new engine on the
    same store, as a broker process restart would."""

    def __init__(self, store: MemoryStore, clock: FakeClock, config: EngineConfig) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.engine = BusEngine(store, config, clock, background=False)

    async def publish(
        self,
        topic: str,
        value: Any,
        *,
        key: str | None = None,
        id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> AppendResult:
        request = PublishRequest(
            topic=topic, payload=payload(value), key=key, id=id, headers=headers
        )
        (result,) = await self.engine.publish([request])
        return result

    async def publish_many(
        self, topic: str, count: int, *, key: str | None = None
    ) -> list[AppendResult]:
        requests = [
            PublishRequest(topic=topic, payload=payload({"n": i}), key=key) for i in range(count)
        ]
        return await self.engine.publish(requests)

    async def tick(self, ms: int) -> int:
        """Advance the clock, expire due deliveries, dispatch; returns expiries."""
        self.clock.advance(ms)
        expired = await self.engine.expire_due()
        await self.engine.settle()
        return expired

    async def restart(self) -> None:
        """A clean restart: the old engine flushes its commits on close."""
        await self.engine.close()
        self.engine = BusEngine(self.store, self.config, self.clock, background=False)

    def crash(self) -> BusEngine:
        """A crash: a new engine on the store while the old one never gets to
        flush. Returns the old engine (the caller closes it later)."""
        old = self.engine
        self.engine = BusEngine(self.store, self.config, self.clock, background=False)
        return old


def config(**overrides: Any) -> EngineConfig:
    base: dict[str, Any] = {
        "default_partitions": 1,
        "default_max_attempts": 5,
        "ack_timeout_ms": ACK_TIMEOUT_MS,
        "max_inflight": 100,
    }
    base.update(overrides)
    return EngineConfig(**base)
