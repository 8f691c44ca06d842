"""``ACK``, ``ACK_BATCH``, ``NACK`` and ``MODACK`` on a broker connection.

With a coordinator, each is first checked against the sender's generation
and partitions (``ERR stale_generation``); the engine's `Settlement` does
the rest. Each gets ``OK`` only when it carried a ``corr``.
"""

from __future__ import annotations

from promethean.bus import AckRef
from promethean.frames import broker as bf
from promethean_broker.membership import check_settle
from promethean_broker.session import HandlerTable, Session, handles


async def _checked(session: Session, frame: bf.Ack | bf.Nack | bf.Modack | bf.AckBatch) -> None:
    """``ERR not_owner`` for a partition another live broker owns (one that
    nobody owns is left to the engine, which answers as a single broker
    did), then the coordinator's generation check."""
    grants = session.engine.grants
    if grants is not None:
        partitions = (
            sorted({p for p, _ in frame.items})
            if isinstance(frame, bf.AckBatch)
            else [frame.partition]
        )
        for partition in partitions:
            if grants.token(frame.topic, partition) is not None:
                continue
            refusal = await grants.not_owner(frame.topic, partition)
            if refusal.owner_id is not None:
                raise refusal
    if session.coordinator is not None:
        check_settle(session.coordinator, session.consumer_id, frame)


async def on_ack(session: Session, frame: bf.Ack) -> None:
    await _checked(session, frame)
    session.engine.ack(AckRef(frame.topic, frame.group, frame.partition, frame.offset))
    session.confirm(frame.corr)


async def on_ack_batch(session: Session, frame: bf.AckBatch) -> None:
    await _checked(session, frame)
    session.engine.ack_many(frame.topic, frame.group, frame.items)
    session.confirm(frame.corr)


async def on_nack(session: Session, frame: bf.Nack) -> None:
    await _checked(session, frame)
    await session.engine.nack(
        AckRef(frame.topic, frame.group, frame.partition, frame.offset), frame.reason
    )
    session.confirm(frame.corr)


async def on_modack(session: Session, frame: bf.Modack) -> None:
    await _checked(session, frame)
    session.engine.modack(
        AckRef(frame.topic, frame.group, frame.partition, frame.offset), frame.extend_ms
    )
    session.confirm(frame.corr)


SETTLE_HANDLERS: HandlerTable = dict(
    [
        handles(bf.Ack, on_ack),
        handles(bf.AckBatch, on_ack_batch),
        handles(bf.Nack, on_nack),
        handles(bf.Modack, on_modack),
    ]
)
