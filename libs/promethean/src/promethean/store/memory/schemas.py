"""The schema registry in memory: versions per subject, global ids, soft
deletion and compatibility settings. Schemas are kept as JSON text so reads
hand out fresh values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promethean.store.fingerprint import schema_fingerprint
from promethean.store.memory.copies import decode_json, encode_json
from promethean.store.records import SchemaVersion


@dataclass(slots=True)
class _Version:
    number: int
    schema_id: int
    deleted: bool = False


class SchemaRegistry:
    def __init__(self) -> None:
        self._subjects: dict[str, list[_Version]] = {}
        self._ids: dict[str, int] = {}
        self._texts: dict[int, bytes] = {}
        self._configs: dict[str, str] = {}

    def _record(self, subject: str, version: _Version) -> SchemaVersion:
        schema = decode_json(self._texts[version.schema_id])
        return SchemaVersion(subject, version.number, schema, version.schema_id, version.deleted)

    def _latest_live(self, subject: str) -> _Version | None:
        live = [v for v in self._subjects.get(subject, ()) if not v.deleted]
        return live[-1] if live else None

    def put(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        text = encode_json(schema)
        fingerprint = schema_fingerprint(decode_json(text))
        schema_id = self._ids.get(fingerprint)
        if schema_id is None:
            schema_id = len(self._ids) + 1
            self._ids[fingerprint] = schema_id
            self._texts[schema_id] = text
        latest = self._latest_live(subject)
        if latest is not None and latest.schema_id == schema_id:
            return self._record(subject, latest)
        stored = self._subjects.get(subject, [])
        number = max((v.number for v in stored), default=0) + 1
        version = _Version(number, schema_id)
        self._subjects.setdefault(subject, []).append(version)
        return self._record(subject, version)

    def get(self, subject: str, version: int | None) -> SchemaVersion | None:
        if version is None:
            latest = self._latest_live(subject)
            return None if latest is None else self._record(subject, latest)
        for stored in self._subjects.get(subject, ()):
            if stored.number == version:
                return self._record(subject, stored)
        return None

    def versions(self, subject: str) -> list[SchemaVersion]:
        return [self._record(subject, v) for v in self._subjects.get(subject, ())]

    def subjects(self) -> list[str]:
        return sorted(s for s, versions in self._subjects.items() if versions)

    def by_id(self, schema_id: int) -> dict[str, Any] | None:
        used = any(v.schema_id == schema_id for vs in self._subjects.values() for v in vs)
        return decode_json(self._texts[schema_id]) if used else None

    def delete(self, subject: str, version: int, permanent: bool) -> bool:
        versions = self._subjects.get(subject, [])
        for stored in versions:
            if stored.number == version:
                if permanent:
                    versions.remove(stored)
                else:
                    stored.deleted = True
                return True
        return False

    def get_config(self, subject: str) -> str | None:
        return self._configs.get(subject)

    def put_config(self, subject: str, compatibility: str | None) -> None:
        if compatibility is None:
            self._configs.pop(subject, None)
        else:
            self._configs[subject] = compatibility

    def __len__(self) -> int:
        return sum(len(versions) for versions in self._subjects.values())
