"""``FETCH``: a member of a partitioned group asks this broker, the owner of
some of its assigned partitions, to deliver them on this connection
(docs/protocol.md, "Fetching from each partition's owner").

The request is checked in this order: every partition must be owned here
(else ``ERR not_owner`` naming the owner), and the group's membership as its
coordinator stored it must give the member those partitions in that
generation (else ``ERR stale_generation``). The fetch itself is the
coordinator's `Fetchers`; acks of the connection are checked against it
(`membership.check_settle`).
"""

from __future__ import annotations

from promethean.bus.fetchers import check_assigned
from promethean.errors import FrameError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean_broker.session import HandlerTable, handles
from promethean_broker.subscribing import SubscribingSession


async def check_owned(session: SubscribingSession, topic: str, partitions: frozenset[int]) -> None:
    """``ERR not_owner`` for the first of ``partitions`` this broker does not hold."""
    grants = session.engine.grants
    if grants is None:
        return
    for partition in sorted(partitions):
        if grants.token(topic, partition) is None:
            raise await grants.not_owner(topic, partition)


async def on_fetch(session: SubscribingSession, frame: bf.Fetch) -> None:
    coordinator = session.coordinator
    if coordinator is None:
        raise FrameError("FETCH is not accepted here", code=ErrorCode.UNKNOWN_TYPE)
    fetchers = coordinator.fetchers
    if frame.partitions:
        await check_owned(session, frame.topic, frozenset(frame.partitions))
        current = fetchers.fetch_of(session.consumer_id, frame.group, frame.topic)
        kept = current.partitions if current is not None else set()
        records = await session.engine.store.list_members(frame.group)
        record = next((r for r in records if r.member_id == frame.member_id), None)
        check_assigned(record, frame, kept)
    await fetchers.place(session, frame)
    session.send(bf.Ok(corr=frame.corr))


FETCH_HANDLERS: HandlerTable = dict([handles(bf.Fetch, on_fetch)])
