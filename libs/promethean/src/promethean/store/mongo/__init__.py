"""The MongoDB adapter of the storage port."""

from promethean.store.mongo.store import MongoStore

__all__ = ["MongoStore"]
