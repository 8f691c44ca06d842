"""The storage port (`Store`), its records, and the adapter factory."""

from promethean.store.factory import open_store, store_url_from_env
from promethean.store.port import Store
from promethean.store.records import (
    AppendResult,
    CommittedOffset,
    Fence,
    GroupState,
    Lease,
    Member,
    NewEvent,
    NewOutboxRow,
    OutboxRow,
    OutboxStats,
    OutboxStatus,
    SchemaVersion,
    StoreCapabilities,
    StoredEvent,
    TopicConfig,
    ViewRow,
)

__all__ = [
    "AppendResult",
    "CommittedOffset",
    "Fence",
    "GroupState",
    "Lease",
    "Member",
    "NewEvent",
    "NewOutboxRow",
    "OutboxRow",
    "OutboxStats",
    "OutboxStatus",
    "SchemaVersion",
    "Store",
    "StoreCapabilities",
    "StoredEvent",
    "TopicConfig",
    "ViewRow",
    "open_store",
    "store_url_from_env",
]
