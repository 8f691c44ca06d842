"""Frames of the broker protocol (internal; JSON objects keyed by ``type``).

Each frame is a frozen `msgspec.Struct` tagged with its ``type`` value. The
unions at the bottom list every frame per direction; adding a frame means
defining its class here and appending it to the union (the codec builds its
decoders from the unions).
"""

from __future__ import annotations

from typing import Annotated, Final, TypeAlias, get_args

import msgspec

from promethean.frames.codes import ErrorCode, InvalidFrameError
from promethean.frames.envelope import Envelope
from promethean.frames.fields import (
    AckTimeoutMs,
    Corr,
    ExtendMs,
    Filter,
    FromSpec,
    MaxInflight,
    NonNegative,
)
from promethean.frames.routing import (
    MAX_METADATA_TOPICS,
    BrokerAddress,
    PartitionOwnerRef,
    TopicRoutes,
)


class BrokerFrame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of every broker frame: the ``type`` tag and the optional ``corr``."""

    corr: Corr = None


# --- client → broker ---------------------------------------------------------


class Auth(BrokerFrame, tag="AUTH", frozen=True, kw_only=True):
    token: str


class Publish(BrokerFrame, tag="PUBLISH", frozen=True, kw_only=True):
    """Append one event. ``id`` makes the publish idempotent per topic; the
    broker generates one when absent."""

    topic: str
    payload: msgspec.Raw
    key: str | None = None
    headers: dict[str, str] | None = None
    id: str | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None


class PublishItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One event of a `PublishBatch`: `Publish` without ``type`` and ``corr``."""

    topic: str
    payload: msgspec.Raw
    key: str | None = None
    headers: dict[str, str] | None = None
    id: str | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None


class PublishBatch(BrokerFrame, tag="PUBLISH_BATCH", frozen=True, kw_only=True):
    """Several publishes answered by one `PublishedBatch`, results in item order."""

    items: Annotated[list[PublishItem], msgspec.Meta(min_length=1)]


class Subscribe(BrokerFrame, tag="SUBSCRIBE", frozen=True, kw_only=True):
    """Join ``group`` on ``topic``. With ``credits`` set the subscription runs in
    credit mode: the broker delivers only while the client has credits left
    (granted by ``FLOW``), starting with ``credits``."""

    topic: str
    group: str
    from_: FromSpec | None = msgspec.field(default=None, name="from")
    max_inflight: MaxInflight | None = None
    filter: Filter | None = None
    ack_timeout_ms: AckTimeoutMs | None = None
    credits: NonNegative | None = None


class Ack(BrokerFrame, tag="ACK", frozen=True, kw_only=True):
    topic: str
    partition: NonNegative
    group: str
    offset: NonNegative
    generation: NonNegative | None = None


class Nack(BrokerFrame, tag="NACK", frozen=True, kw_only=True):
    """Give a delivery back for redelivery now (``reason`` is kept with the
    event if it ends in the DLQ)."""

    topic: str
    partition: NonNegative
    group: str
    offset: NonNegative
    generation: NonNegative | None = None
    reason: str | None = None


class Modack(BrokerFrame, tag="MODACK", frozen=True, kw_only=True):
    """Move a delivery's ack deadline to ``extend_ms`` from now."""

    topic: str
    partition: NonNegative
    group: str
    offset: NonNegative
    extend_ms: ExtendMs
    generation: NonNegative | None = None


class AckBatch(BrokerFrame, tag="ACK_BATCH", frozen=True, kw_only=True):
    """Ack many deliveries of one (topic, group): ``items`` are (partition, offset)."""

    topic: str
    group: str
    items: Annotated[list[tuple[NonNegative, NonNegative]], msgspec.Meta(min_length=1)]
    generation: NonNegative | None = None


class Flow(BrokerFrame, tag="FLOW", frozen=True, kw_only=True):
    """Grant ``credits`` more deliveries to the credit-mode subscription
    (``topic``, ``group``), or to every credit-mode subscription of the
    connection when both are absent."""

    credits: NonNegative
    topic: str | None = None
    group: str | None = None


class Unsubscribe(BrokerFrame, tag="UNSUBSCRIBE", frozen=True, kw_only=True):
    topic: str
    group: str


class Ping(BrokerFrame, tag="PING", frozen=True, kw_only=True):
    pass


class Metadata(BrokerFrame, tag="METADATA", frozen=True, kw_only=True):
    """Ask any broker where partitions live: the routes of ``topics``, or of
    every topic when absent. Answered by `MetadataResponse`."""

    topics: Annotated[list[str], msgspec.Meta(max_length=MAX_METADATA_TOPICS)] | None = None


# --- group membership (partitioned workers; docs/protocol.md) ----------------

MAX_MEMBER_ID_CHARS: Final = 256
MAX_JOIN_TOPICS: Final = 64

MemberId: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MEMBER_ID_CHARS)]
PartitionMap: TypeAlias = dict[str, list[NonNegative]]
"""topic → partitions."""


class Join(BrokerFrame, tag="JOIN", frozen=True, kw_only=True):
    """Become (or return as) a member of the partitioned ``group`` reading
    ``topics``. ``instance_id`` makes the membership static: a member that
    comes back with it within the session timeout keeps its partitions.
    Answered by an `Assignment` carrying the request's ``corr``."""

    group: str
    topics: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_JOIN_TOPICS)]
    member_id: MemberId
    instance_id: MemberId | None = None
    max_inflight: MaxInflight | None = None
    ack_timeout_ms: AckTimeoutMs | None = None


class Heartbeat(BrokerFrame, tag="HEARTBEAT", frozen=True, kw_only=True):
    """Keep the membership alive; ``ERR stale_generation`` when the member
    was fenced or removed (it must JOIN again)."""

    group: str
    member_id: MemberId
    generation: NonNegative


class Revoked(BrokerFrame, tag="REVOKED", frozen=True, kw_only=True):
    """Confirms a `Revoke`: the member stopped ``partitions``, finished or
    nacked their in-flight work and sent its acks (which the broker commits
    before anyone else gets the partitions)."""

    group: str
    member_id: MemberId
    generation: NonNegative
    partitions: PartitionMap


class Leave(BrokerFrame, tag="LEAVE", frozen=True, kw_only=True):
    group: str
    member_id: MemberId


class Fetch(BrokerFrame, tag="FETCH", frozen=True, kw_only=True):
    """Ask a partition's owner (not the group's coordinator) to deliver the
    member's assigned ``partitions`` of ``topic`` on this connection, in
    ``generation``; it replaces what the connection fetched before for that
    group and topic, and an empty list ends it. Answered by ``OK``; ``ERR
    stale_generation`` when the store does not show these partitions
    assigned to the member in that generation, ``ERR not_owner`` for a
    partition this broker does not own."""

    topic: str
    group: str
    member_id: MemberId
    generation: NonNegative
    partitions: list[NonNegative]
    max_inflight: MaxInflight | None = None
    ack_timeout_ms: AckTimeoutMs | None = None


# --- broker → client ---------------------------------------------------------


class Ok(BrokerFrame, tag="OK", frozen=True, kw_only=True):
    pass


class Published(BrokerFrame, tag="PUBLISHED", frozen=True, kw_only=True):
    """Where the event lives; ``duplicate`` when its id was already stored."""

    topic: str
    partition: NonNegative
    offset: NonNegative
    id: str
    duplicate: bool = False


class PublishedItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    topic: str
    partition: NonNegative
    offset: NonNegative
    id: str
    duplicate: bool = False


class ItemError(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a batch failed; the others are unaffected."""

    code: str
    msg: str


PublishResult: TypeAlias = PublishedItem | ItemError


class PublishedBatch(BrokerFrame, tag="PUBLISHED_BATCH", frozen=True, kw_only=True):
    """One result per `PublishBatch` item, in item order. On the wire a result
    is either a `PublishedItem` object (has ``offset``) or an `ItemError`
    object (has ``code``).

    Decode it with the codec (`parse_broker_reply`), which reads the wire form
    `PublishedBatchWire` and resolves each result to its class.
    """

    results: list[PublishResult]


class PublishResultWire(msgspec.Struct, frozen=True, kw_only=True):
    topic: str | None = None
    partition: NonNegative | None = None
    offset: NonNegative | None = None
    id: str | None = None
    duplicate: bool = False
    code: str | None = None
    msg: str | None = None

    def resolve(self, index: int) -> PublishResult:
        if self.code is not None:
            return ItemError(code=self.code, msg=self.msg or "")
        if self.topic is None or self.partition is None or self.offset is None or self.id is None:
            raise InvalidFrameError(
                ErrorCode.MISSING_FIELD,
                f"results[{index}] needs either `code` or all of "
                "`topic`, `partition`, `offset`, `id`",
                field=f"results[{index}]",
            )
        return PublishedItem(
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            id=self.id,
            duplicate=self.duplicate,
        )


class PublishedBatchWire(BrokerFrame, tag="PUBLISHED_BATCH", frozen=True, kw_only=True):
    """Decoding form of `PublishedBatch` (msgspec cannot decode an untagged
    union of two objects directly)."""

    results: list[PublishResultWire]

    def resolve(self) -> PublishedBatch:
        return PublishedBatch(
            results=[result.resolve(i) for i, result in enumerate(self.results)],
            corr=self.corr,
        )


class Subscribed(BrokerFrame, tag="SUBSCRIBED", frozen=True, kw_only=True):
    topic: str
    group: str
    partitions: NonNegative


class Message(BrokerFrame, tag="MESSAGE", frozen=True, kw_only=True):
    """One delivery. ``attempt`` is 1 on first delivery; ``ack_deadline_ms`` is
    the epoch ms at which the delivery lease lapses unless acked or extended."""

    topic: str
    partition: NonNegative
    group: str
    offset: NonNegative
    attempt: NonNegative
    envelope: Envelope
    ack_deadline_ms: NonNegative | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One delivery inside a `MessageBatch`: `Message` without ``type``/``corr``."""

    topic: str
    partition: NonNegative
    group: str
    offset: NonNegative
    attempt: NonNegative
    envelope: Envelope
    ack_deadline_ms: NonNegative | None


class MessageBatch(BrokerFrame, tag="MESSAGE_BATCH", frozen=True, kw_only=True):
    messages: list[Delivery]


class Err(BrokerFrame, tag="ERR", frozen=True, kw_only=True):
    """``owner`` comes with ``not_owner``: where to send the request instead
    (absent while the partition has no owner; refresh with `Metadata`)."""

    code: str
    msg: str
    retry_after_ms: NonNegative | None = None
    owner: PartitionOwnerRef | None = None


class MetadataResponse(BrokerFrame, tag="METADATA_RESPONSE", frozen=True, kw_only=True):
    """The cluster as the answering broker sees it: the live ``brokers`` and,
    per asked topic, each partition's owner and epoch. ``epoch`` versions
    the whole table (it grows whenever any route changes), so a client keeps
    the newest reply it has seen. A topic that does not exist is left out."""

    epoch: NonNegative
    brokers: list[BrokerAddress]
    topics: list[TopicRoutes]


class Pong(BrokerFrame, tag="PONG", frozen=True, kw_only=True):
    pass


class Assignment(BrokerFrame, tag="ASSIGNMENT", frozen=True, kw_only=True):
    """What the member owns in ``generation``: it may fetch ``partitions``
    and must give up ``revoke`` (confirming with `Revoked`). Sent whenever
    either changes, and in reply to `Join`."""

    group: str
    member_id: MemberId
    generation: NonNegative
    partitions: PartitionMap
    revoke: PartitionMap | None = None
    heartbeat_ms: NonNegative | None = None
    session_timeout_ms: NonNegative | None = None


class Revoke(BrokerFrame, tag="REVOKE", frozen=True, kw_only=True):
    """Give up ``partitions`` (they move in ``generation``): stop fetching,
    finish or nack in-flight work, ack, then confirm with `Revoked`."""

    group: str
    member_id: MemberId
    generation: NonNegative
    partitions: PartitionMap


BrokerRequest: TypeAlias = (
    Auth
    | Publish
    | PublishBatch
    | Subscribe
    | Ack
    | Nack
    | Modack
    | AckBatch
    | Flow
    | Unsubscribe
    | Ping
    | Metadata
    | Join
    | Heartbeat
    | Revoked
    | Leave
    | Fetch
)
BrokerReply: TypeAlias = (
    Ok
    | Published
    | PublishedBatch
    | Subscribed
    | Message
    | MessageBatch
    | Err
    | Pong
    | Assignment
    | Revoke
    | MetadataResponse
)

BROKER_REQUEST_TYPES: tuple[type[BrokerFrame], ...] = get_args(BrokerRequest)
BROKER_REPLY_TYPES: tuple[type[BrokerFrame], ...] = get_args(BrokerReply)
