"""Engine fixtures: a memory store, a fake clock and an inline engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from promethean.clock import FakeClock
from promethean.store.memory import MemoryStore
from tests.unit.bus.support import Harness, config

MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    opened = MemoryStore("memory://bus-tests")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def make_harness(store: MemoryStore, clock: FakeClock) -> AsyncIterator[MakeHarness]:
    """``await make_harness(**EngineConfig overrides)``; engines are closed after."""
    made: list[Harness] = []

    async def build(**overrides: Any) -> Harness:
        harness = Harness(store, clock, config(**overrides))
        made.append(harness)
        return harness

    yield build
    for harness in made:
        await harness.engine.close()


@pytest.fixture
async def bus(make_harness: MakeHarness) -> Harness:
    return await make_harness()
