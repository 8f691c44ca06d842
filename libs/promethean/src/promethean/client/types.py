"""What the client hands back: publish results and received messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from promethean.frames.fields import StartKind
from promethean.frames.settle import SettleVerb

_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Published:
    """Where a publish landed; ``duplicate`` when the id was already stored."""

    topic: str
    partition: int
    offset: int
    id: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class SubscribeOptions:
    """Per-subscription knobs; ``None`` takes the broker's default."""

    start: StartKind | None = None
    """Where a group with no committed position begins: ``latest`` (the
    broker's default), ``earliest``, ``offset`` or ``timestamp``."""
    start_value: int | None = None
    """The offset or epoch-ms timestamp for ``offset`` / ``timestamp``."""
    max_inflight: int | None = None
    ack_timeout_ms: int | None = None
    filter_key: str | None = None
    filter_header: tuple[str, str] | None = None


class Message:
    """One delivery. ``payload`` is decoded on first access; ``raw_payload``
    is the JSON text as stored. ``attempt`` is 1 on first delivery.

    Settle it once with `ack` or `nack`; `modack` moves its ack deadline. A
    message received on a connection that has since been lost can no longer
    be settled (those calls do nothing): the broker redelivers it."""

    __slots__ = (
        "_payload",
        "_settle",
        "ack_deadline_ms",
        "attempt",
        "caused_by",
        "epoch",
        "group",
        "headers",
        "id",
        "key",
        "offset",
        "partition",
        "raw_payload",
        "settled",
        "sid",
        "tags",
        "topic",
        "ts",
    )

    def __init__(
        self,
        *,
        topic: str,
        group: str,
        partition: int,
        offset: int,
        attempt: int,
        id: str,
        ts: int,
        raw_payload: bytes,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        caused_by: list[str] | None = None,
        tags: list[str] | None = None,
        sid: str | None = None,
        ack_deadline_ms: int | None = None,
        epoch: int = 0,
        settle: Settle | None = None,
    ) -> None:
        self.topic = topic
        self.group = group
        self.partition = partition
        self.offset = offset
        self.attempt = attempt
        self.id = id
        self.ts = ts
        self.raw_payload = raw_payload
        self.key = key
        self.headers = headers
        self.caused_by = caused_by
        self.tags = tags
        self.sid = sid
        self.ack_deadline_ms = ack_deadline_ms
        self.epoch = epoch
        self._settle = settle
        self._payload: Any = _UNSET
        self.settled = False

    @property
    def payload(self) -> Any:
        if self._payload is _UNSET:
            self._payload = _decoder.decode(self.raw_payload)
        return self._payload

    async def ack(self) -> None:
        await self._do(SettleVerb.ACK, None)

    async def nack(self, reason: str | None = None) -> None:
        await self._do(SettleVerb.NACK, reason)

    async def modack(self, extend_ms: int) -> None:
        if self._settle is not None and not self.settled:
            await self._settle(self, SettleVerb.MODACK, extend_ms)

    async def _do(self, action: SettleVerb, arg: Any) -> None:
        if self.settled or self._settle is None:
            return
        self.settled = True
        await self._settle(self, action, arg)

    def __repr__(self) -> str:
        return (
            f"Message(topic={self.topic!r}, partition={self.partition}, offset={self.offset}, "
            f"id={self.id!r}, attempt={self.attempt})"
        )


_UNSET: Any = object()

Handler = Callable[[Message], Awaitable[None]]
Settle = Callable[[Message, SettleVerb, Any], Awaitable[None]]
"""How a `Message` hands its ack, nack or modack to whoever delivered it."""
