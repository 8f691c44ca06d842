"""``SUBSCRIBE``, ``UNSUBSCRIBE`` and ``FLOW`` on a broker connection."""

from __future__ import annotations

from typing import Protocol

from promethean.bus import Consumer, EventFilter, StartKind, StartPosition
from promethean.errors import FrameError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean_broker.session import HandlerTable, Session, handles


class SubscribingSession(Session, Consumer, Protocol):
    """The connection is also where the subscription's deliveries go."""

    max_inflight_cap: int | None
    """The most a subscription may ask for in flight; ``None``: no cap."""


async def on_subscribe(session: SubscribingSession, frame: bf.Subscribe) -> None:
    start = None
    if frame.from_ is not None:
        start = StartPosition(StartKind(frame.from_.kind), frame.from_.value)
    event_filter = None
    if frame.filter is not None and (frame.filter.key is not None or frame.filter.header):
        header = tuple(frame.filter.header) if frame.filter.header else None
        event_filter = EventFilter(frame.filter.key, header)  # type: ignore[arg-type]
    _, partitions = await session.engine.subscribe(
        session,
        frame.topic,
        frame.group,
        start=start,
        max_inflight=_capped(frame.max_inflight, session.max_inflight_cap),
        ack_timeout_ms=frame.ack_timeout_ms,
        event_filter=event_filter,
        credits=frame.credits,
    )
    session.send(
        bf.Subscribed(topic=frame.topic, group=frame.group, partitions=partitions, corr=frame.corr)
    )


def _capped(max_inflight: int | None, cap: int | None) -> int | None:
    if max_inflight is None or cap is None:
        return max_inflight
    return min(max_inflight, cap)


async def on_unsubscribe(session: Session, frame: bf.Unsubscribe) -> None:
    if not await session.engine.unsubscribe(session.consumer_id, frame.topic, frame.group):
        raise FrameError(
            f"not subscribed to {frame.topic} as {frame.group}", code=ErrorCode.NOT_SUBSCRIBED
        )
    session.send(bf.Ok(corr=frame.corr))


async def on_flow(session: Session, frame: bf.Flow) -> None:
    session.engine.grant_credits(session.consumer_id, frame.credits, frame.topic, frame.group)
    session.confirm(frame.corr)


SUBSCRIBE_HANDLERS: HandlerTable = dict(
    [
        handles(bf.Subscribe, on_subscribe),
        handles(bf.Unsubscribe, on_unsubscribe),
        handles(bf.Flow, on_flow),
    ]
)
