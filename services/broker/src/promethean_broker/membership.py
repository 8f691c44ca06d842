"""Group-membership frames on a broker connection, handed to the coordinator.

`JOIN` is answered by the coordinator's `ASSIGNMENT` (with the ``corr``);
`HEARTBEAT`, `REVOKED` and `LEAVE` get ``OK`` when they carry a ``corr``.
Acks of partitioned groups are checked here before they reach the engine.
"""

from __future__ import annotations

from collections.abc import Callable

from promethean.bus.coordinator import Coordinator
from promethean.bus.members import MemberLink
from promethean.frames import broker as bf

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
