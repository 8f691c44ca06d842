"""Group-membership frames on a broker connection, handed to the coordinator.

`JOIN` is answered by the coordinator's `ASSIGNMENT` (with the ``corr``);
`HEARTBEAT`, `REVOKED` and `LEAVE` get ``OK`` when they carry a ``corr``.
Acks of partitioned groups are checked here before they reach the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

from promethean.bus import BusEngine
from promethean.bus.coordinator import Coordinator
from promethean.bus.members import MemberLink
from promethean.errors import FrameError, NotOwnerError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean_broker.session import HandlerTable, Session, handles

MembershipFrame = bf.Join | bf.Heartbeat | bf.Revoked | bf.Leave
SettleFrame = bf.Ack | bf.Nack | bf.Modack | bf.AckBatch


async def handle_membership(
    coordinator: Coordinator,
    link: MemberLink,
    frame: MembershipFrame,
    reply_ok: Callable[[str | int | None], None],
) -> None:
    match frame:
        case bf.Join():
            await coordinator.join(link, frame)
            return
        case bf.Heartbeat():
            await still_coordinating(coordinator, frame.group)
            await coordinator.heartbeat(link, frame)
        case bf.Revoked():
            await coordinator.revoked(link, frame)
        case bf.Leave():
            await coordinator.leave(link, frame)
    reply_ok(frame.corr)


def check_settle(coordinator: Coordinator, consumer_id: str, frame: SettleFrame) -> None:
    """Refuse (``ERR stale_generation``) acks of a fenced or non-owning member."""
    if isinstance(frame, bf.AckBatch):
        for partition in sorted({p for p, _ in frame.items}):
            coordinator.check_settle(
                consumer_id, frame.topic, frame.group, partition, frame.generation
            )
        return
    coordinator.check_settle(
        consumer_id, frame.topic, frame.group, frame.partition, frame.generation
    )


async def claim_for_join(engine: BusEngine, topics: list[str]) -> None:
    """A partitioned group's coordinator is the owner of partition 0 of the
    first of its topics by name (docs/decisions.md): any other broker sends
    the member there with ``ERR not_owner``. The coordinator also takes the
    group's partitions nobody else may hold yet, so the first publishes to
    a new topic do not wait for the grants."""
    grants = engine.grants
    if grants is None:
        return
    await grants.claim(min(topics), 0)
    now = engine.clock.now_ms()
    for topic in topics:
        config = await engine.topics.ensure(topic, now)
        for partition in range(config.partitions):
            with contextlib.suppress(NotOwnerError):
                await grants.claim(topic, partition)


async def still_coordinating(coordinator: Coordinator, group: str) -> None:
    """When another live broker owns the group's coordinating partition now,
    step down and refuse with ``ERR not_owner`` naming it: the member JOINs
    there again with the same member id, and the generation continues from
    the stored one."""
    refusal = await coordinator.moved_elsewhere(group)
    if refusal is not None:
        await coordinator.step_down(group)
        raise refusal


class MemberSession(Session, MemberLink, Protocol):
    """The connection is also how the coordinator reaches the member."""


async def on_membership(session: MemberSession, frame: MembershipFrame) -> None:
    """Membership frames need the coordinator; without one they are unknown."""
    if session.coordinator is None:
        raise FrameError(
            f"{type(frame).__name__} is not accepted here", code=ErrorCode.UNKNOWN_TYPE
        )
    if isinstance(frame, bf.Join):
        await claim_for_join(session.engine, frame.topics)
    await handle_membership(session.coordinator, session, frame, session.confirm)


MEMBERSHIP_HANDLERS: HandlerTable = dict(
    [
        handles(bf.Join, on_membership),
        handles(bf.Heartbeat, on_membership),
        handles(bf.Revoked, on_membership),
        handles(bf.Leave, on_membership),
    ]
)
