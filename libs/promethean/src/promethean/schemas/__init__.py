"""The schema registry: compatibility rules for JSON Schema (pure),
compiled validators, the registry service over the store, validation on
publish, and the AsyncAPI/OpenAPI documents. See docs/schemas.md."""

from __future__ import annotations

from promethean.schemas.compat import compatibility_messages
from promethean.schemas.errors import RegistryCode, RegistryError
from promethean.schemas.gate import SCHEMA_ID_HEADER, SchemaGate
from promethean.schemas.modes import DEFAULT_COMPATIBILITY, Compatibility
from promethean.schemas.registry import SchemaRegistry
from promethean.schemas.subjects import value_subject
from promethean.schemas.subset import subset_messages
from promethean.schemas.validation import SchemaDocumentError, ValidatorCache, compile_schema

__all__ = [
    "DEFAULT_COMPATIBILITY",
    "SCHEMA_ID_HEADER",
    "Compatibility",
    "RegistryCode",
    "RegistryError",
    "SchemaDocumentError",
    "SchemaGate",
    "SchemaRegistry",
    "ValidatorCache",
    "compatibility_messages",
    "compile_schema",
    "subset_messages",
    "value_subject",
]
