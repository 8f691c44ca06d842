"""Field types of the routing frames: where each partition's owning broker
listens (``METADATA_RESPONSE``) and who owns a partition now (carried by
``ERR not_owner``). Plain structs; the frames themselves live in
`promethean.frames.broker`.

Epochs are the partitions' fencing tokens in the store: they only grow, so
a client holding routes of a lower epoch knows its view is older.
"""

from __future__ import annotations

from typing import Annotated, Final, TypeAlias

import msgspec

from promethean.frames.fields import NonNegative

MAX_BROKER_ID_CHARS: Final = 256
MAX_ADDRESS_CHARS: Final = 512
MAX_METADATA_TOPICS: Final = 1_024

BrokerId: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BROKER_ID_CHARS)]
Address: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ADDRESS_CHARS)]
"""What a client dials, e.g. ``ws://promethean-broker-1.promethean-broker:7070/ws``."""


class BrokerAddress(msgspec.Struct, frozen=True, kw_only=True):
    """A live broker and where clients reach it."""

    id: BrokerId
    address: Address


class PartitionRoute(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One partition's owner under ``epoch``; no ``owner`` while the
    partition moves (retry after refreshing)."""

    partition: NonNegative
    epoch: NonNegative
    owner: BrokerAddress | None = None


class TopicRoutes(msgspec.Struct, frozen=True, kw_only=True):
    """Every partition of one topic, by partition number."""

    topic: str
    partitions: list[PartitionRoute]


class PartitionOwnerRef(msgspec.Struct, frozen=True, kw_only=True):
    """The current owner of the partition a refused request named, as the
    refusing broker knows it (``ERR not_owner``)."""

    id: BrokerId
    address: Address
    epoch: NonNegative
