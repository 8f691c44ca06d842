"""Frames of the gateway protocol (client-facing; JSON objects keyed by ``op``).

Class names carry a ``Gw`` prefix to keep them apart from the broker frames of
the same name. Field names follow the wire, including the camelCase
``ackTimeoutMs`` the existing TypeScript clients send.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

import msgspec

from promethean.frames.envelope import EventBody
from promethean.frames.fields import (
    AckTimeoutMs,
    Corr,
    ExtendMs,
    Filter,
    FromSpec,
    MaxInflight,
    NonNegative,
)


class GatewayFrame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="op"):
    """Base of every gateway frame: the ``op`` tag and the optional ``corr``."""

    corr: Corr = None


class GwPublishOpts(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    key: str | None = None
    headers: dict[str, str] | None = None
    id: str | None = None


class GwSubscribeOpts(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Subscription options. ``from`` is a `FromSpec` object or, as a
    shorthand, the bare string ``"latest"`` or ``"earliest"``."""

    from_: FromSpec | Literal["latest", "earliest"] | None = msgspec.field(
        default=None, name="from"
    )
    max_inflight: MaxInflight | None = None
    ack_timeout_ms: AckTimeoutMs | None = msgspec.field(default=None, name="ackTimeoutMs")
    filter: Filter | None = None

    @property
    def start(self) -> FromSpec | None:
        """``from`` with the string shorthand expanded to a `FromSpec`."""
        if isinstance(self.from_, str):
            return FromSpec(kind=self.from_)
        return self.from_


class GwEventCtx(msgspec.Struct, frozen=True, kw_only=True):
    attempt: NonNegative
    ack_deadline_ms: NonNegative | None


# --- client → gateway --------------------------------------------------------


class GwAuth(GatewayFrame, tag="AUTH", frozen=True, kw_only=True):
    token: str


class GwPublish(GatewayFrame, tag="PUBLISH", frozen=True, kw_only=True):
    topic: str
    payload: msgspec.Raw
    opts: GwPublishOpts | None = None


class GwSubscribe(GatewayFrame, tag="SUBSCRIBE", frozen=True, kw_only=True):
    topic: str
    group: str
    opts: GwSubscribeOpts | None = None


class GwAck(GatewayFrame, tag="ACK", frozen=True, kw_only=True):
    topic: str
    group: str
    id: str


class GwNack(GatewayFrame, tag="NACK", frozen=True, kw_only=True):
    topic: str
    group: str
    id: str
    reason: str | None = None


class GwModack(GatewayFrame, tag="MODACK", frozen=True, kw_only=True):
    topic: str
    group: str
    id: str
    extend_ms: ExtendMs


class GwUnsubscribe(GatewayFrame, tag="UNSUBSCRIBE", frozen=True, kw_only=True):
    topic: str
    group: str


# --- gateway → client --------------------------------------------------------


class GwOk(GatewayFrame, tag="OK", frozen=True, kw_only=True):
    """Success; ``id`` is the event id when answering ``PUBLISH``."""

    id: str | None = None


class GwEvent(GatewayFrame, tag="EVENT", frozen=True, kw_only=True):
    topic: str
    group: str
    event: EventBody
    ctx: GwEventCtx


class GwErr(GatewayFrame, tag="ERR", frozen=True, kw_only=True):
    code: str
    msg: str
    retry_after_ms: NonNegative | None = None


GatewayRequest: TypeAlias = (
    GwAuth | GwPublish | GwSubscribe | GwAck | GwNack | GwModack | GwUnsubscribe
)
GatewayReply: TypeAlias = GwOk | GwEvent | GwErr

GATEWAY_REQUEST_TYPES: tuple[type[GatewayFrame], ...] = get_args(GatewayRequest)
GATEWAY_REPLY_TYPES: tuple[type[GatewayFrame], ...] = get_args(GatewayReply)
