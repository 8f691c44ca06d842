"""Registered schemas: one document per (subject, version).

JSON Schemas are full of ``$``-keys (``$ref``, ``$schema``), so a schema is
stored as JSON text, never as a BSON document.
"""

from __future__ import annotations

from typing import Any, Final

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from promethean.errors import StoreError
from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.codecs import from_json_text, json_text
from promethean.store.mongo.collections import SCHEMAS
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import translated
from promethean.store.records import SchemaVersion

REGISTER_ROUNDS: Final = 5
CONTENDED: Final = "schema subject {subject!r} kept changing under {rounds} registrations"


def _version(doc: Document) -> SchemaVersion:
    return SchemaVersion(
        doc["subject"], int(doc["version"]), from_json_text(doc["schema"], dict[str, Any])
    )


class SchemaOps(MongoBase):
    async def _latest(self, subject: str) -> SchemaVersion | None:
        doc = await self._col(SCHEMAS).find_one(
            {"subject": subject}, sort=[("version", DESCENDING)]
        )
        return None if doc is None else _version(doc)

    @translated
    async def put_schema(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        text = json_text(schema)
        wanted = from_json_text(text, dict[str, Any])  # compare as stored, after the round trip
        for _ in range(REGISTER_ROUNDS):
            latest = await self._latest(subject)
            if latest is not None and latest.schema == wanted:
                return latest
            version = 1 if latest is None else latest.version + 1
            try:
                await self._col(SCHEMAS).insert_one(
                    {"subject": subject, "version": version, "schema": text}
                )
            except DuplicateKeyError:
                continue  # another registration took this version: look again
            return SchemaVersion(subject, version, wanted)
        raise StoreError(CONTENDED.format(subject=subject, rounds=REGISTER_ROUNDS))

    @translated
    async def get_schema(self, subject: str, version: int | None = None) -> SchemaVersion | None:
        if version is None:
            return await self._latest(subject)
        doc = await self._col(SCHEMAS).find_one({"subject": subject, "version": version})
        return None if doc is None else _version(doc)
