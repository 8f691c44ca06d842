"""The in-memory adapter of the storage port (``memory://``)."""

from promethean.store.memory.store import MemoryStore

__all__ = ["MemoryStore"]
