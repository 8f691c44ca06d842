"""Materialized views, held in memory as JSON text
so that reads hand out fresh values and non-JSON values are refused."""

from __future__ import annotations

from typing import Any, NamedTuple

from promethean.store.memory.copies import decode_json, encode_json
from promethean.store.records import ViewRow


class _ViewEntry(NamedTuple):
    value: bytes | None  # JSON text; None for a tombstone
    offset: int

    def row(self, view: str, key: str) -> ViewRow:
        if self.value is None:
            return ViewRow(view, key, None, self.offset, deleted=True)
        return ViewRow(view, key, decode_json(self.value), self.offset)


class ViewTable:
    """Rows keyed by (view, key). A row only ever moves to a higher offset;
    a delete leaves a tombstone so an older upsert cannot resurrect the key."""

    def __init__(self) -> None:
        self._views: dict[str, dict[str, _ViewEntry]] = {}

    def _apply(self, view: str, key: str, value: bytes | None, offset: int) -> bool:
        rows = self._views.setdefault(view, {})
        stored = rows.get(key)
        if stored is not None and stored.offset >= offset:
            return False
        rows[key] = _ViewEntry(value, offset)
        return True

    def upsert(self, view: str, key: str, value: Any, offset: int) -> bool:
        return self._apply(view, key, encode_json(value), offset)

    def delete(self, view: str, key: str, offset: int) -> bool:
        return self._apply(view, key, None, offset)

    def get(self, view: str, key: str) -> ViewRow | None:
        """The live row, or None if absent or deleted."""
        stored = self._views.get(view, {}).get(key)
        if stored is None or stored.value is None:
            return None
        return stored.row(view, key)

    def list(self, view: str, limit: int) -> list[ViewRow]:
        rows = self._views.get(view, {})
        live: list[ViewRow] = []
        if limit <= 0:
            return live
        for key in sorted(rows):
            entry = rows[key]
            if entry.value is None:
                continue
            live.append(entry.row(view, key))
            if len(live) >= limit:
                break
        return live

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._views.values())
