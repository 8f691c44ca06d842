"""Soundness of the compatibility checker, by property: whenever it calls a
change BACKWARD compatible, every instance hypothesis-jsonschema generates
for the old schema validates under the new one; the mirror for FORWARD.

Schema pairs come from a small grammar (scalars with bounds and enums,
objects open or closed with required properties, arrays, anyOf, $ref into
$defs) and from random edits of one schema, so that many pairs are
compatible and the claim is put to work.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from promethean.schemas import subset_messages
from tests.unit.schemas.hypothesis_compat import install

install()

NAMES = ("a", "b", "c")
SCALARS = ("string", "integer", "number", "boolean", "null")

Schema = dict[str, Any]


def scalars() -> st.SearchStrategy[Schema]:
    def build(kind: str, low: int | None, high: int | None, enum: bool) -> Schema:
        schema: Schema = {"type": kind}
        if kind in ("integer", "number"):
            if enum:
                return {"enum": [0, 1, 2][: (low or 0) % 3 + 1]}
            if low is not None:
                schema["minimum"] = low
            if high is not None:
                schema["maximum"] = (low or 0) + abs(high)
        elif kind == "string":
            if enum:
                return {"enum": ["x", "y", "z"][: (high or 0) % 3 + 1]}
            if high is not None:
                schema["maxLength"] = abs(high) % 6
        return schema

    small = st.none() | st.integers(-3, 3)
    return st.builds(build, st.sampled_from(SCALARS), small, small, st.booleans()) | st.builds(
        lambda kinds: {"type": sorted(kinds)},
        st.sets(st.sampled_from(SCALARS), min_size=1, max_size=3),
    )


def schemas(depth: int = 2) -> st.SearchStrategy[Schema]:
    if depth == 0:
        return scalars()
    inner = schemas(depth - 1)

    def build_object(props: dict[str, Schema], required: list[str], closed: bool | None) -> Schema:
        schema: Schema = {"type": "object", "properties": props}
        needed = sorted(set(required) & set(props))
        if needed:
            schema["required"] = needed
        if closed is not None:
            schema["additionalProperties"] = not closed
        return schema

    objects = st.builds(
        build_object,
        st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
        st.lists(st.sampled_from(NAMES), max_size=3),
        st.none() | st.booleans(),
    )
    arrays = st.builds(lambda items: {"type": "array", "items": items, "maxItems": 3}, inner)
    unions = st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner)
    return scalars() | objects | arrays | unions


def with_defs(schema: Schema) -> Schema:
    """Move the schema under $defs and point at it (exercises $ref)."""
    return {"$defs": {"root": schema}, "$ref": "#/$defs/root"}


@st.composite
def edited(draw: st.DrawFn, schema: Schema) -> Schema:
    """A few random edits that often keep the schema compatible."""
    new = dict(schema)
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(
            st.sampled_from(["widen", "drop_required", "open", "close", "add", "bound", "swap"])
        )
        if edit == "widen" and isinstance(new.get("type"), str):
            new["type"] = sorted({new["type"], draw(st.sampled_from(SCALARS))})
        elif edit == "drop_required" and new.get("required"):
            new["required"] = new["required"][1:] or None
            if new["required"] is None:
                del new["required"]
        elif edit in ("open", "close") and new.get("type") == "object":
            new["additionalProperties"] = edit == "open"
        elif edit == "add" and new.get("type") == "object":
            new["properties"] = {
                **new.get("properties", {}),
                draw(st.sampled_from(NAMES)): draw(scalars()),
            }
        elif edit == "bound" and "maximum" in new:
            new["maximum"] = new["maximum"] + draw(st.integers(-2, 2))
        elif edit == "swap":
            new = draw(schemas(1))
    return new


def valid(schema: Schema, value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def _instances_fit(data: st.DataObject, writer: Schema, reader: Schema) -> None:
    for _ in range(5):
        instance = data.draw(from_schema(writer), label="instance")
        assert valid(reader, instance), (writer, reader, instance)


@SETTINGS
@given(st.data())
def test_backward_compatible_means_old_instances_fit_the_new_schema(data: st.DataObject) -> None:
    old = data.draw(schemas(), label="old")
    new = data.draw(edited(old), label="new")
    if data.draw(st.booleans(), label="refs"):
        old, new = with_defs(old), with_defs(new)
    if not subset_messages(old, new):  # BACKWARD: new reads old
        _instances_fit(data, old, new)


@SETTINGS
@given(st.data())
def test_forward_compatible_means_new_instances_fit_the_old_schema(data: st.DataObject) -> None:
    old = data.draw(schemas(), label="old")
    new = data.draw(edited(old), label="new")
    if not subset_messages(new, old):  # FORWARD: old reads new
        _instances_fit(data, new, old)


def test_the_edits_produce_compatible_pairs_often_enough() -> None:
    """Guards the property tests above against testing nothing."""
    compatible = 0

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.data())
    def count(data: st.DataObject) -> None:
        nonlocal compatible
        old = data.draw(schemas())
        if not subset_messages(old, data.draw(edited(old))):
            compatible += 1

    count()
    assert compatible >= 40
