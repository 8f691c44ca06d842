"""The schema registry service: Confluent Schema Registry semantics for
JSON Schema on top of the store's `SchemaStore`.

Registering checks the document (a JSON Schema object, ``$ref`` inside it
only), returns the existing id when the subject already holds the schema,
and otherwise checks compatibility at the subject's level (falling back to
the global level, BACKWARD by default). Deletes are soft first; a permanent
delete needs a soft one before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from promethean.schemas.compat import compatibility_messages
from promethean.schemas.errors import (
    RegistryCode,
    RegistryError,
    subject_not_found,
    version_not_found,
)
from promethean.schemas.modes import DEFAULT_COMPATIBILITY, Compatibility
from promethean.schemas.subjects import is_valid_subject
from promethean.schemas.validation import SchemaDocumentError, compile_schema
from promethean.store.fingerprint import schema_fingerprint
from promethean.store.port import SchemaStore
from promethean.store.records import SchemaVersion

GLOBAL: Final = "__GLOBAL"
"""Store key of the registry-wide compatibility level."""
SCHEMA_TYPE: Final = "JSON"
MAX_VERSION: Final = 2**31 - 1
_decode: Final = msgspec.json.Decoder()
_encode: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class CompatibilityReport:
    is_compatible: bool
    messages: list[str]


def schema_text(schema: dict[str, Any]) -> str:
    return _encode.encode(schema).decode()


def parse_schema(text: str, schema_type: str | None) -> dict[str, Any]:
    """The schema object of a registration body, or `RegistryError` 42201."""
    if schema_type not in (None, SCHEMA_TYPE):
        raise RegistryError(
            RegistryCode.INVALID_SCHEMA,
            f"Invalid schema type {schema_type!r}: only JSON is supported",
        )
    try:
        schema = _decode.decode(text)
    except msgspec.DecodeError as err:
        raise RegistryError(
            RegistryCode.INVALID_SCHEMA, f"Invalid schema: not JSON ({err})"
        ) from None
    if not isinstance(schema, dict):
        raise RegistryError(RegistryCode.INVALID_SCHEMA, "Invalid schema: not a JSON object")
    try:
        compile_schema(schema)
    except SchemaDocumentError as err:
        raise RegistryError(RegistryCode.INVALID_SCHEMA, f"Invalid schema: {err.msg}") from None
    return schema


def parse_version(raw: str) -> int | None:
    """A version path segment: a number in 1..2^31-1, or None for ``latest``/``-1``."""
    if raw in ("latest", "-1"):
        return None
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_VERSION:
        return int(raw)
    raise RegistryError(
        RegistryCode.INVALID_VERSION,
        f"The specified version '{raw}' is not a valid version id. Allowed values are "
        f'between [1, {MAX_VERSION}] and the string "latest"',
    )


def parse_compatibility(raw: object) -> Compatibility:
    """A level named in a config body (any letter case), or `RegistryError` 42203."""
    if isinstance(raw, str) and raw.upper() in Compatibility.__members__:
        return Compatibility(raw.upper())
    raise RegistryError(
        RegistryCode.INVALID_COMPATIBILITY,
        f"Invalid compatibility level {raw!r}; valid values are "
        + ", ".join(c.value for c in Compatibility),
    )


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal as JSON (``true`` is not ``1``, as Python's ``==`` would say)."""
    return schema_fingerprint(a) == schema_fingerprint(b)


def check_subject(subject: str) -> str:
    if not is_valid_subject(subject):
        raise RegistryError(RegistryCode.BAD_REQUEST, "Invalid subject name")
    return subject


class SchemaRegistry:
    def __init__(self, store: SchemaStore, on_change: Callable[[str], None] | None = None) -> None:
        self._store = store
        self._on_change = on_change or (lambda subject: None)

    # -- reads -----------------------------------------------------------------

    async def subjects(self, *, deleted: bool = False) -> list[str]:
        names = await self._store.list_schema_subjects()
        if deleted:
            return names
        return [s for s in names if any(not v.deleted for v in await self._versions(s))]

    async def _versions(self, subject: str) -> list[SchemaVersion]:
        return await self._store.list_schema_versions(subject)

    async def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        numbers = [v.version for v in await self._versions(subject) if deleted or not v.deleted]
        if not numbers:
            raise subject_not_found(subject)
        return numbers

    async def version(self, subject: str, raw: str, *, deleted: bool = False) -> SchemaVersion:
        number = parse_version(raw)
        stored = await self._versions(subject)
        if not stored:
            raise subject_not_found(subject)
        if number is None:
            live = [v for v in stored if deleted or not v.deleted]
            if not live:
                raise subject_not_found(subject)
            return live[-1]
        for version in stored:
            if version.version == number and (deleted or not version.deleted):
                return version
        raise version_not_found(subject, number)

    async def by_id(self, schema_id: int) -> dict[str, Any]:
        schema = await self._store.get_schema_by_id(schema_id)
        if schema is None:
            raise RegistryError(RegistryCode.SCHEMA_NOT_FOUND, f"Schema {schema_id} not found")
        return schema

    async def lookup(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        """The live version of ``subject`` holding ``schema``."""
        stored = await self._versions(subject)
        if not any(not v.deleted for v in stored):
            raise subject_not_found(subject)
        for version in stored:
            if not version.deleted and _same(version.schema, schema):
                return version
        raise RegistryError(RegistryCode.SCHEMA_NOT_FOUND, "Schema not found")

    # -- compatibility -----------------------------------------------------------

    async def level(self, subject: str | None) -> Compatibility:
        """The level that applies to ``subject`` (its own, else the global one)."""
        if subject is not None:
            own = await self._store.get_schema_config(subject)
            if own is not None:
                return Compatibility(own)
        stored = await self._store.get_schema_config(GLOBAL)
        return Compatibility(stored) if stored is not None else DEFAULT_COMPATIBILITY

    async def subject_level(self, subject: str) -> Compatibility | None:
        own = await self._store.get_schema_config(subject)
        return None if own is None else Compatibility(own)

    async def set_level(self, subject: str | None, level: Compatibility) -> None:
        await self._store.put_schema_config(subject or GLOBAL, level.value)

    async def clear_level(self, subject: str) -> Compatibility:
        previous = await self.subject_level(subject)
        if previous is None:
            raise RegistryError(
                RegistryCode.SUBJECT_CONFIG_NOT_FOUND,
                f"Subject '{subject}' does not have subject-level compatibility configured",
            )
        await self._store.put_schema_config(subject, None)
        return previous

    async def check(
        self, subject: str, schema: dict[str, Any], raw_version: str | None
    ) -> CompatibilityReport:
        """Test ``schema`` against one version (or, with None, against what the
        subject's level requires) without registering it."""
        level = await self.level(subject)
        live = [v for v in await self._versions(subject) if not v.deleted]
        if raw_version is None:
            messages = compatibility_messages(schema, [(v.version, v.schema) for v in live], level)
            return CompatibilityReport(not messages, messages)
        target = await self.version(subject, raw_version)
        one_level = Compatibility(level.value.removesuffix("_TRANSITIVE"))
        messages = compatibility_messages(schema, [(target.version, target.schema)], one_level)
        return CompatibilityReport(not messages, messages)

    # -- writes ----------------------------------------------------------------

    async def register(self, subject: str, schema: dict[str, Any]) -> SchemaVersion:
        check_subject(subject)
        live = [v for v in await self._versions(subject) if not v.deleted]
        for version in live:
            if _same(version.schema, schema):
                return version
        level = await self.level(subject)
        messages = compatibility_messages(schema, [(v.version, v.schema) for v in live], level)
        if messages:
            raise RegistryError(
                RegistryCode.INCOMPATIBLE,
                f"Schema being registered is incompatible with an earlier schema for subject "
                f'"{subject}", details: {messages}',
            )
        registered = await self._store.put_schema(subject, schema)
        self._on_change(subject)
        return registered

    async def delete_version(self, subject: str, raw: str, *, permanent: bool) -> int:
        stored = await self._versions(subject)
        if not stored:
            raise subject_not_found(subject)
        target = await self.version(subject, raw, deleted=permanent)
        if permanent and not target.deleted:
            raise RegistryError(
                RegistryCode.VERSION_NOT_SOFT_DELETED,
                f"Subject '{subject}' Version {target.version} was not deleted first before "
                "being permanently deleted",
            )
        await self._store.delete_schema_version(subject, target.version, permanent=permanent)
        self._on_change(subject)
        return target.version

    async def delete_subject(self, subject: str, *, permanent: bool) -> list[int]:
        stored = await self._versions(subject)
        if not stored:
            raise subject_not_found(subject)
        live = [v for v in stored if not v.deleted]
        if permanent and live:
            raise RegistryError(
                RegistryCode.SUBJECT_NOT_SOFT_DELETED,
                f"Subject '{subject}' was not deleted first before being permanently deleted",
            )
        if not permanent and not live:
            raise RegistryError(
                RegistryCode.SUBJECT_SOFT_DELETED,
                f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently",
            )
        targets = stored if permanent else live
        for version in targets:
            await self._store.delete_schema_version(subject, version.version, permanent=permanent)
        if permanent:
            await self._store.put_schema_config(subject, None)
        self._on_change(subject)
        return [v.version for v in targets]
