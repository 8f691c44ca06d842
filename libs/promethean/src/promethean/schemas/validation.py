"""Compiled validators for registered schemas, cached per schema id, and the
first error of a payload as a JSON pointer and a reason.

Validators come from ``jsonschema-rs`` (JSON Schema 2020-12 unless the
schema's ``$schema`` names another draft). ``$ref`` never leaves the
document: remote and file references are refused when the schema is
registered, so validation does no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import jsonschema_rs
import msgspec

from promethean.errors import PrometheanError

DEFAULT_CACHE_SIZE: Final = 1024
_decode: Final = msgspec.json.Decoder()


class SchemaDocumentError(PrometheanError, ValueError):
    """A schema document is not a valid JSON Schema (or refers outside itself)."""

    code = "bad_schema"


@dataclass(frozen=True, slots=True)
class Violation:
    """The first reason a payload fails its schema."""

    pointer: str
    """JSON pointer into the payload ("" is the payload itself)."""
    reason: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.reason}"


def _pointer(path: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def compile_schema(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for ``schema``; `SchemaDocumentError` when the document is
    not a valid JSON Schema or its ``$ref`` points outside it."""
    if not jsonschema_rs.meta.is_valid(schema):
        try:
            jsonschema_rs.meta.validate(schema)
        except jsonschema_rs.ValidationError as err:
            where = _pointer(list(err.instance_path))
            raise SchemaDocumentError(
                f"invalid JSON Schema at {where or '/'}: {err.message}"
            ) from None
    try:
        return jsonschema_rs.validator_for(schema, offline=True)
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SchemaDocumentError(f"invalid JSON Schema: {first}") from None


def first_violation(validator: jsonschema_rs.Validator, value: Any) -> Violation | None:
    if validator.is_valid(value):
        return None
    for err in validator.iter_errors(value):
        return Violation(_pointer(list(err.instance_path)), err.message)
    return None


class ValidatorCache:
    """Compiled validators by schema id, least recently used dropped first.
    A schema id always names the same schema, so entries never go stale."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        self._max = max_entries
        self._entries: OrderedDict[int, jsonschema_rs.Validator] = OrderedDict()

    def get(self, schema_id: int, schema: dict[str, Any]) -> jsonschema_rs.Validator:
        validator = self._entries.get(schema_id)
        if validator is not None:
            self._entries.move_to_end(schema_id)
            return validator
        validator = compile_schema(schema)
        self._entries[schema_id] = validator
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return validator

    def cached(self, schema_id: int) -> jsonschema_rs.Validator | None:
        return self._entries.get(schema_id)

    def __len__(self) -> int:
        return len(self._entries)


def check_payload(validator: jsonschema_rs.Validator, payload: bytes) -> Violation | None:
    """The first violation of the payload's JSON text, or None when valid."""
    try:
        value = _decode.decode(payload)
    except msgspec.DecodeError as err:
        return Violation("", f"payload is not JSON: {err}")
    return first_violation(validator, value)
