"""The SQLite adapter of the storage port."""

from promethean.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
