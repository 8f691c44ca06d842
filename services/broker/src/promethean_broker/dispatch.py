"""Which handler takes which broker frame, once the connection is
authenticated: one table joined from the tables of each concern."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from promethean.errors import FrameError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean_broker.fetching import FETCH_HANDLERS
from promethean_broker.membership import MEMBERSHIP_HANDLERS, MemberSession
from promethean_broker.metadata import METADATA_HANDLERS, RoutingSession
from promethean_broker.publishing import PUBLISH_HANDLERS, PublishingSession
from promethean_broker.session import HandlerTable, Session, handles
from promethean_broker.settling import SETTLE_HANDLERS
from promethean_broker.subscribing import SUBSCRIBE_HANDLERS, SubscribingSession


async def on_auth(session: Session, frame: bf.Auth) -> None:
    """A repeated ``AUTH`` on an authenticated connection is simply confirmed."""
    session.send(bf.Ok(corr=frame.corr))


async def on_ping(session: Session, frame: bf.Ping) -> None:
    session.send(bf.Pong(corr=frame.corr))


async def on_unknown(session: Session, frame: bf.BrokerFrame) -> None:
    raise FrameError(f"{type(frame).__name__} is not accepted here", code=ErrorCode.UNKNOWN_TYPE)


HANDLERS: HandlerTable = {
    **PUBLISH_HANDLERS,
    **SETTLE_HANDLERS,
    **SUBSCRIBE_HANDLERS,
    **MEMBERSHIP_HANDLERS,
    **FETCH_HANDLERS,
    **METADATA_HANDLERS,
    **dict([handles(bf.Auth, on_auth), handles(bf.Ping, on_ping)]),
}
"""Every broker request type, keyed exactly (frames are final structs)."""


class BrokerSession(PublishingSession, SubscribingSession, MemberSession, RoutingSession, Protocol):
    """Everything some handler needs of its connection."""


def dispatch(session: BrokerSession, frame: bf.BrokerFrame) -> Awaitable[None]:
    """Hand ``frame`` to its handler; the caller awaits the result."""
    return HANDLERS.get(type(frame), on_unknown)(session, frame)
