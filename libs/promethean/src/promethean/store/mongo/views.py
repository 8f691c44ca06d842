"""Materialized views written by projectors: one document per (view, key).

Each write is a single conditional upsert: the filter requires the stored
row's offset to be lower than the new one, so when a newer (or equal) offset
is stored the filter matches nothing, the upsert's insert collides with the
unique ``(view, key)`` index, and the write is refused. An older redelivered
event can therefore never overwrite a newer state, nor resurrect a deleted key.

Values are stored as BSON when they survive it unchanged (see
`is_plain_bson`), so views stay queryable with ordinary MongoDB tools; a
value with keys MongoDB would read as operators or paths (``$x``, ``a.b``)
or integers beyond 64 bits is stored as JSON text in ``value_json`` instead.
"""

from __future__ import annotations

from typing import Any, Final

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.codecs import from_json_value, is_plain_bson, json_text, plain_value
from promethean.store.mongo.collections import VIEWS
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import translated
from promethean.store.records import ViewRow

WRITE_ROUNDS: Final = 2


def _stored_value(value: Any) -> Document:
    if is_plain_bson(value):
        return {"value": value, "value_json": None}
    return {"value": None, "value_json": json_text(value)}


def _row(doc: Document) -> ViewRow:
    text = doc.get("value_json")
    value = plain_value(doc.get("value")) if text is None else from_json_value(text)
    return ViewRow(doc["view"], doc["key"], value, int(doc["offset"]), bool(doc["deleted"]))


class ViewOps(MongoBase):
    async def _write_if_newer(self, view: str, key: str, offset: int, fields: Document) -> bool:
        async with self._read_modify_write():
            views = self._col(VIEWS)
            for _ in range(WRITE_ROUNDS):
                try:
                    await views.update_one(
                        {"view": view, "key": key, "offset": {"$lt": offset}},
                        {"$set": {"offset": offset, **fields}},
                        upsert=True,
                    )
                except DuplicateKeyError:
                    # Either a row with offset >= ours exists (refused), or a
                    # concurrent first write inserted the row: decide once more.
                    continue
                return True
            return False

    @translated
    async def view_upsert(self, view: str, key: str, value: Any, offset: int) -> bool:
        return await self._write_if_newer(
            view, key, offset, {**_stored_value(value), "deleted": False}
        )

    @translated
    async def view_delete(self, view: str, key: str, offset: int) -> bool:
        return await self._write_if_newer(
            view, key, offset, {"value": None, "value_json": None, "deleted": True}
        )

    @translated
    async def view_get(self, view: str, key: str) -> ViewRow | None:
        doc = await self._col(VIEWS).find_one({"view": view, "key": key, "deleted": False})
        return None if doc is None else _row(doc)

    @translated
    async def view_list(self, view: str, limit: int = 1000) -> list[ViewRow]:
        if limit <= 0:
            return []
        cursor = (
            self._col(VIEWS)
            .find({"view": view, "deleted": False})
            .sort("key", ASCENDING)
            .limit(limit)
        )
        return [_row(doc) async for doc in cursor]
