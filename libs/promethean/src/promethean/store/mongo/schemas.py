"""Registered schemas: one document per (subject, version) in ``schemas``,
one per distinct schema in ``schema_ids`` (``_id`` = canonical text, ``id``
the global id, unique), compatibility settings in ``schema_configs``.

JSON Schemas are full of ``$``-keys (``$ref``, ``$schema``), so a schema is
stored as JSON text, never as a BSON document.
"""

from __future__ import annotations

from typing import Any, Final

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from promethean.errors import StoreError
from promethean.store.fingerprint import schema_fingerprint
from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.codecs import from_json_text, json_text
from promethean.store.mongo.collections import SCHEMA_CONFIGS, SCHEMA_IDS, SCHEMAS
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import translated
from promethean.store.records import SchemaVersion

REGISTER_ROUNDS: Final = 5
CONTENDED: Final = "schema subject {subject!r} kept changing under {rounds} registrations"


def _version(doc: Document) -> SchemaVersion:
    return SchemaVersion(
        doc["subject"],
        int(doc["version"]),
        from_json_text(doc["schema"], dict[str, Any]),
        int(doc.get("id", 0)),
        bool(doc.get("deleted", False)),
    )


class SchemaOps(MongoBase):
    async def _latest(self, subject: str) -> SchemaVersion | None:
        doc = await self._col(SCHEMAS).find_one(
            {"subject": subject, "deleted": {"$ne": True}}, sort=[("version", DESCENDING)]
        )
        return None if doc is None else _version(doc)

    async def _schema_id(self, fingerprint: str, text: str) -> int:
        ids = self._col(SCHEMA_IDS)
        for _ in range(REGISTER_ROUNDS):
            known = await ids.find_one({"_id": fingerprint})
            if known is not None:
                return int(known["id"])
            highest = await ids.find_one({}, sort=[("id", DESCENDING)])
            schema_id = 1 if highest is None else int(highest["id"]) + 1
            try:
                await ids.insert_one({"_id": fingerprint, "id": schema_id, "schema": text})
            except DuplicateKeyError:
                continue  # this schema or this id was taken meanwhile: look again
            return schema_id
        raise StoreError(CONTENDED.format(subject="(ids)", rounds=REGISTER_ROUNDS))

    @translated
    async def put_schema(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        text = json_text(schema)
        wanted = from_json_text(text, dict[str, Any])  # compare as stored, after the round trip
        schema_id = await self._schema_id(schema_fingerprint(wanted), text)
        for _ in range(REGISTER_ROUNDS):
            latest = await self._latest(subject)
            if latest is not None and latest.id == schema_id:
                return latest
            highest = await self._col(SCHEMAS).find_one(
                {"subject": subject}, sort=[("version", DESCENDING)]
            )
            version = 1 if highest is None else int(highest["version"]) + 1
            try:
                await self._col(SCHEMAS).insert_one(
                    {
                        "subject": subject,
                        "version": version,
                        "schema": text,
                        "id": schema_id,
                        "deleted": False,
                    }
                )
            except DuplicateKeyError:
                continue  # another registration took this version: look again
            return SchemaVersion(subject, version, wanted, schema_id)
        raise StoreError(CONTENDED.format(subject=subject, rounds=REGISTER_ROUNDS))

    @translated
    async def get_schema(self, subject: str, version: int | None = None) -> SchemaVersion | None:
        if version is None:
            return await self._latest(subject)
        doc = await self._col(SCHEMAS).find_one({"subject": subject, "version": version})
        return None if doc is None else _version(doc)

    @translated
    async def list_schema_versions(self, subject: str) -> list[SchemaVersion]:
        cursor = self._col(SCHEMAS).find({"subject": subject}).sort("version", 1)
        return [_version(doc) async for doc in cursor]

    @translated
    async def list_schema_subjects(self) -> list[str]:
        subjects = {doc["subject"] async for doc in self._col(SCHEMAS).find({}, {"subject": 1})}
        return sorted(subjects)

    @translated
    async def get_schema_by_id(self, schema_id: int) -> dict[str, Any] | None:
        doc = await self._col(SCHEMAS).find_one({"id": schema_id})
        return None if doc is None else from_json_text(doc["schema"], dict[str, Any])

    @translated
    async def delete_schema_version(self, subject: str, version: int, *, permanent: bool) -> bool:
        match = {"subject": subject, "version": version}
        if permanent:
            deleted = await self._col(SCHEMAS).delete_one(match)
            return deleted.deleted_count > 0
        updated = await self._col(SCHEMAS).update_one(match, {"$set": {"deleted": True}})
        return updated.matched_count > 0

    @translated
    async def get_schema_config(self, subject: str) -> str | None:
        doc = await self._col(SCHEMA_CONFIGS).find_one({"_id": subject})
        return None if doc is None else str(doc["compatibility"])

    @translated
    async def put_schema_config(self, subject: str, compatibility: str | None) -> None:
        configs = self._col(SCHEMA_CONFIGS)
        if compatibility is None:
            await configs.delete_one({"_id": subject})
            return
        await configs.update_one(
            {"_id": subject}, {"$set": {"compatibility": compatibility}}, upsert=True
        )
