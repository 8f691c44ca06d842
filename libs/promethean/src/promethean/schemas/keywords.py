"""How the compatibility checker treats each JSON Schema 2020-12 keyword.

- ``ANNOTATIONS`` never change which instances are valid (``format`` is an
  annotation in 2020-12 unless a validator opts in; ours does not).
- ``MODELED`` keywords are reasoned about rule by rule (docs/schemas.md).
- ``NARROWING`` keywords only ever make a schema accept fewer instances, so
  on the *writer* side ignoring them is safe (the checker then reasons about
  a larger set of instances); on the *reader* side they are accepted only
  when the writer carries the very same keyword and value.
- Anything else cannot be decided, and the change is refused saying so.
"""

from __future__ import annotations

from typing import Final

ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$comment",
        "$defs",
        "definitions",
        "$vocabulary",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    }
)

MODELED: Final = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "anyOf",
        "oneOf",
        "allOf",
    }
)

NARROWING: Final = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "pattern",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "contains",
        "minContains",
        "maxContains",
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)

TYPES: Final = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})
NUMERIC: Final = frozenset({"number", "integer"})
