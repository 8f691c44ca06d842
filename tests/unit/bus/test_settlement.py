"""The settlement path on its own: backoff, and what observers learn of a
NACK or an expiry (the verb, never the client's text)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from promethean.bus import BusEngine, EngineHooks, PublishRequest
from promethean.bus.settlement import ACK_TIMEOUT, backoff_ms
from promethean.clock import FakeClock
from promethean.frames.settle import SettleVerb
from promethean.store.memory import MemoryStore
from tests.unit.bus.support import ACK_TIMEOUT_MS, Inbox, config, ref


@pytest.mark.parametrize(
    ("base", "cap", "failed", "expected"),
    [
        (0, 10_000, 3, 0),
        (100, 10_000, 1, 100),
        (100, 10_000, 2, 200),
        (100, 10_000, 4, 800),
        (100, 300, 4, 300),
    ],
)
def test_backoff_doubles_per_failed_attempt_up_to_the_cap(
    base: int, cap: int, failed: int, expected: int
) -> None:
    settings = config(redelivery_backoff_ms=base, redelivery_backoff_max_ms=cap)
    assert backoff_ms(settings, failed) == expected


@dataclass
class Redeliveries(EngineHooks):
    kinds: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    def redelivery(self, topic: str, group: str, partition: int, reason: str) -> None:
        self.kinds.append(reason)

    def dead_lettered(self, topic: str, group: str, partition: int, reason: str) -> None:
        self.dead.append(reason)


async def test_hooks_see_the_verb_or_the_timeout_and_the_dlq_keeps_the_text(
    store: MemoryStore, clock: FakeClock
) -> None:
    hooks = Redeliveries()
    engine = BusEngine(store, config(default_max_attempts=3), clock, hooks=hooks, background=False)
    try:
        inbox = Inbox("c1")
        await engine.subscribe(inbox, "orders", "billing")
        await engine.publish([PublishRequest(topic="orders", payload=b"{}")])
        await engine.settle()
        await engine.nack(ref(inbox.take()[0]), "card 4111 declined")
        await engine.settle()
        inbox.take()
        clock.advance(ACK_TIMEOUT_MS)
        assert await engine.expire_due() == 1
        await engine.settle()
        await engine.nack(ref(inbox.take()[0]), "card 4111 declined")
        assert hooks.kinds == [SettleVerb.NACK, ACK_TIMEOUT]
        assert hooks.dead == ["card 4111 declined"]
    finally:
        await engine.close()
