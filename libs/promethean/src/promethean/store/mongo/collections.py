"""Collection names and the indexes each one needs.

`ensure_indexes` is idempotent: ``createIndexes`` with an identical spec is a
no-op on the server, so every `MongoStore.open` may call it. It sends one
index per command: FerretDB 1.24 drops the connection when one command
re-creates several existing indexes.
"""

from __future__ import annotations

from typing import Final

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from promethean.store.mongo.connection import Document

EVENTS: Final = "events"
COUNTERS: Final = "counters"
GROUP_OFFSETS: Final = "group_offsets"
DELIVERY_ATTEMPTS: Final = "delivery_attempts"
GROUP_MEMBERS: Final = "group_members"
GROUP_STATE: Final = "group_state"
TOPIC_CONFIGS: Final = "topic_configs"
OUTBOX: Final = "outbox"
LEASES: Final = "leases"
SCHEMAS: Final = "schemas"
SCHEMA_IDS: Final = "schema_ids"
SCHEMA_CONFIGS: Final = "schema_configs"
VIEWS: Final = "views"
BROKERS: Final = "brokers"
PARTITION_OWNERS: Final = "partition_owners"

ALL_COLLECTIONS: Final = (
    EVENTS,
    COUNTERS,
    GROUP_OFFSETS,
    DELIVERY_ATTEMPTS,
    GROUP_MEMBERS,
    GROUP_STATE,
    TOPIC_CONFIGS,
    OUTBOX,
    LEASES,
    SCHEMAS,
    SCHEMA_IDS,
    SCHEMA_CONFIGS,
    VIEWS,
    BROKERS,
    PARTITION_OWNERS,
)


def _index(*fields: str, unique: bool = False) -> IndexModel:
    return IndexModel([(field, ASCENDING) for field in fields], unique=unique)


# counters, group_state, topic_configs, leases and brokers are keyed by `_id` alone.
INDEXES: Final[dict[str, list[IndexModel]]] = {
    EVENTS: [
        _index("topic", "partition", "offset", unique=True),
        _index("topic", "id", unique=True),
        _index("topic", "partition", "ts"),
        _index("topic", "key", "offset"),
    ],
    GROUP_OFFSETS: [_index("group", "topic", "partition", unique=True), _index("topic")],
    DELIVERY_ATTEMPTS: [_index("group", "topic", "partition", "offset", unique=True)],
    GROUP_MEMBERS: [_index("group", "member_id", unique=True)],
    OUTBOX: [
        _index("status", "next_attempt_ms", "created_ms"),
        _index("claim_token"),
        _index("status", "published_ms"),
    ],
    SCHEMAS: [_index("subject", "version", unique=True), _index("id")],
    SCHEMA_IDS: [_index("id", unique=True)],
    VIEWS: [_index("view", "key", unique=True)],
    PARTITION_OWNERS: [_index("topic", "partition")],
}


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    for name, indexes in INDEXES.items():
        collection = db.get_collection(name)
        for index in indexes:
            await collection.create_indexes([index])
