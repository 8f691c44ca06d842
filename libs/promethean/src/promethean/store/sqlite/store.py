"""`SQLiteStore`: the `Store` port on one SQLite file, composed of one mixin per concern."""

from __future__ import annotations

from promethean.store.sqlite.admin import AdminMixin
from promethean.store.sqlite.groups import GroupOffsetsMixin
from promethean.store.sqlite.leases import LeaseMixin
from promethean.store.sqlite.log import LogMixin
from promethean.store.sqlite.maintenance import MaintenanceMixin
from promethean.store.sqlite.members import MembersMixin
from promethean.store.sqlite.outbox import OutboxMixin
from promethean.store.sqlite.ownership import OwnershipMixin
from promethean.store.sqlite.registry import SchemaRegistryMixin
from promethean.store.sqlite.topics import TopicsMixin
from promethean.store.sqlite.views import ViewsMixin


class SQLiteStore(
    LogMixin,
    MaintenanceMixin,
    GroupOffsetsMixin,
    AdminMixin,
    MembersMixin,
    LeaseMixin,
    OwnershipMixin,
    TopicsMixin,
    OutboxMixin,
    SchemaRegistryMixin,
    ViewsMixin,
):
    """The embedded store: ``sqlite:///relative.db`` or ``sqlite:////absolute.db``.

    WAL mode with ``synchronous=FULL``: a write that returned is on disk. One
    writer thread serializes every write; one reader thread serves reads
    concurrently. See `promethean.store.sqlite.connection`.
    """

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"
