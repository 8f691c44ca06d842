"""A broker with short membership timers, raw members speaking the wire
protocol, and the group's admin view."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import pytest

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import Frame, WireClient

HEARTBEAT_MS: Final = 200
SESSION_TIMEOUT_MS: Final = 3_000
"""Fifteen heartbeats: long enough that a loaded machine never starves a live
member into a timeout the test did not ask for."""
MEMBERSHIP_ENV: Final = {
    "PROMETHEAN_HEARTBEAT_MS": str(HEARTBEAT_MS),
    "PROMETHEAN_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
    "BUS_ACK_TIMEOUT_MS": "30000",
}
"""Sessions short enough to expire within a test; ack deadlines long enough
that nothing is redelivered by timeout while a test looks at ownership."""

_ids = itertools.count(1)


@pytest.fixture
def broker(broker_process: BrokerFactory) -> BrokerProcess:
    return broker_process(MEMBERSHIP_ENV)


@pytest.fixture
def names() -> Callable[[str], str]:
    prefix = uuid.uuid4().hex[:8]
    return lambda label: f"{label}.{prefix}.{next(_ids)}"


class RawMember:
    """One group member driven frame by frame over its own connection."""

    def __init__(self, wire: WireClient, group: str, topic: str, member_id: str) -> None:
        self.wire = wire
        self.group = group
        self.topic = topic
        self.member_id = member_id
        self.generation = 0
        self._beating: asyncio.Task[None] | None = None

    async def join(self, *, instance_id: str | None = None, **extra: Any) -> Frame:
        frame: Frame = {
            "type": "JOIN",
            "group": self.group,
            "topics": [self.topic],
            "member_id": self.member_id,
            **extra,
        }
        if instance_id is not None:
            frame["instance_id"] = instance_id
        reply = await self.wire.request(frame)
        assert reply["type"] == "ASSIGNMENT", reply
        self.generation = reply["generation"]
        return reply

    def frames(self, kind: str) -> list[Frame]:
        return [f for f in self.wire.unrouted if f.get("type") == kind]

    def owned(self) -> set[int]:
        """Partitions of the latest ASSIGNMENT (reply or unsolicited)."""
        assignments = [f for f in self.wire.unrouted if f.get("type") == "ASSIGNMENT"]
        if not assignments:
            return set()
        latest = assignments[-1]
        self.generation = max(self.generation, latest["generation"])
        return set(latest["partitions"].get(self.topic, []))

    def start_heartbeats(self) -> None:
        async def beat() -> None:
            while True:
                await self.wire.send(
                    {
                        "type": "HEARTBEAT",
                        "group": self.group,
                        "member_id": self.member_id,
                        "generation": self.generation,
                    }
                )
                await asyncio.sleep(HEARTBEAT_MS / 1000)

        self._beating = asyncio.create_task(beat())

    async def stop_heartbeats(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._beating

    async def ack(self, message: Frame, *, generation: int | None = None) -> Frame:
        frame: Frame = {
            "type": "ACK",
            "topic": message["topic"],
            "partition": message["partition"],
            "group": message["group"],
            "offset": message["offset"],
        }
        if generation is not None:
            frame["generation"] = generation
        return await self.wire.request(frame)

    async def revoked(self, generation: int, partitions: list[int]) -> Frame:
        return await self.wire.request(
            {
                "type": "REVOKED",
                "group": self.group,
                "member_id": self.member_id,
                "generation": generation,
                "partitions": {self.topic: partitions},
            }
        )


@pytest.fixture
async def raw_member(
    broker: BrokerProcess,
) -> AsyncIterator[Callable[..., Any]]:
    """``await raw_member(group, topic, member_id=None)``: a connected `RawMember`."""
    made: list[RawMember] = []

    async def make(group: str, topic: str, member_id: str | None = None) -> RawMember:
        wire = await WireClient.connect(broker.url)
        member = RawMember(wire, group, topic, member_id or f"raw-{next(_ids)}")
        made.append(member)
        return member

    try:
        yield make
    finally:
        for member in made:
            await member.stop_heartbeats()
            await member.wire.close()


def group_view(broker: BrokerProcess, group: str) -> dict[str, Any]:
    status, body = broker.get(f"/groups/{group}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]
