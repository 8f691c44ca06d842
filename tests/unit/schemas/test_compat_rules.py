"""One row per compatibility rule (docs/schemas.md), checked under every
compatibility level: BACKWARD asks "does the new schema read old data",
FORWARD "does the old schema read new data", FULL both, NONE nothing."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from promethean.schemas import Compatibility, compatibility_messages
from promethean.schemas.subset import UNDECIDED


def obj(
    props: dict[str, Any], *, required: list[str] | None = None, closed: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}


class Rule(NamedTuple):
    name: str
    old: dict[str, Any]
    new: dict[str, Any]
    backward: bool
    forward: bool


RULES = [
    Rule("identical", obj({"a": S}), obj({"a": S}), True, True),
    Rule("add optional property, open model", obj({"a": S}), obj({"a": S, "b": I}), False, True),
    Rule(
        "add optional property, closed model",
        obj({"a": S}, closed=True),
        obj({"a": S, "b": I}, closed=True),
        True,
        False,
    ),
    Rule(
        "remove property, closed model",
        obj({"a": S, "b": I}, closed=True),
        obj({"a": S}, closed=True),
        False,
        True,
    ),
    Rule("remove property, open model", obj({"a": S, "b": I}), obj({"a": S}), True, False),
    Rule(
        "add required property", obj({"a": S}), obj({"a": S, "b": I}, required=["b"]), False, True
    ),
    Rule("drop a required property", obj({"a": S}, required=["a"]), obj({"a": S}), True, False),
    Rule("widen integer to number", obj({"n": I}), obj({"n": N}), True, False),
    Rule("narrow number to integer", obj({"n": N}), obj({"n": I}), False, True),
    Rule(
        "add null to a type", obj({"a": S}), obj({"a": {"type": ["string", "null"]}}), True, False
    ),
    Rule("add an enum value", {"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}, True, False),
    Rule("remove an enum value", {"enum": ["a", "b", "c"]}, {"enum": ["a", "b"]}, False, True),
    Rule("enum to its type", {"type": "string", "enum": ["a"]}, S, True, False),
    Rule("close additionalProperties", obj({"a": S}), obj({"a": S}, closed=True), False, True),
    Rule("open additionalProperties", obj({"a": S}, closed=True), obj({"a": S}), True, False),
    Rule(
        "nested object gains a required property",
        obj({"o": obj({"x": S})}),
        obj({"o": obj({"x": S}, required=["x"])}),
        False,
        True,
    ),
    Rule(
        "array items widen",
        {"type": "array", "items": I},
        {"type": "array", "items": N},
        True,
        False,
    ),
    Rule(
        "array items narrow",
        {"type": "array", "items": {"type": ["integer", "string"]}},
        {"type": "array", "items": I},
        False,
        True,
    ),
    Rule(
        "$ref target widens",
        {"$defs": {"n": I}, "type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}},
        {"$defs": {"n": N}, "type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}},
        True,
        False,
    ),
    Rule(
        "maxLength lowered",
        {"type": "string", "maxLength": 10},
        {"type": "string", "maxLength": 5},
        False,
        True,
    ),
    Rule(
        "minimum raised",
        {"type": "integer", "minimum": 0},
        {"type": "integer", "minimum": 1},
        False,
        True,
    ),
    Rule(
        "exclusive bound loosened",
        {"type": "number", "exclusiveMaximum": 5},
        {"type": "number", "maximum": 5},
        True,
        False,
    ),
    Rule("minItems added", {"type": "array"}, {"type": "array", "minItems": 1}, False, True),
    Rule("anyOf gains a branch", S, {"anyOf": [S, I]}, True, False),
    Rule("type removed entirely", S, {}, True, False),
    Rule("const true is not const 1", {"const": True}, {"const": 1}, False, False),
    Rule(
        "same pattern on both sides",
        {"type": "string", "pattern": "^a", "maxLength": 3},
        {"type": "string", "pattern": "^a"},
        True,
        False,
    ),
]

UNDECIDABLE = [
    Rule(
        "pattern changed",
        {"type": "string", "pattern": "^a"},
        {"type": "string", "pattern": "^b"},
        False,
        False,
    ),
    Rule("remote $ref", {"$ref": "https://example.com/a"}, S, False, False),
    Rule("overlapping oneOf", S, {"oneOf": [S, {"type": "string", "maxLength": 3}]}, False, False),
]


def expected(rule: Rule, mode: Compatibility) -> bool:
    return (not mode.backward or rule.backward) and (not mode.forward or rule.forward)


@pytest.mark.parametrize("mode", list(Compatibility), ids=str)
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_under_each_mode(rule: Rule, mode: Compatibility) -> None:
    messages = compatibility_messages(rule.new, [(1, rule.old)], mode)

    assert (not messages) is expected(rule, mode), messages
    assert not any(UNDECIDED in m for m in messages), messages


@pytest.mark.parametrize("rule", UNDECIDABLE, ids=lambda r: r.name)
def test_what_cannot_be_decided_is_refused_saying_so(rule: Rule) -> None:
    messages = compatibility_messages(rule.new, [(1, rule.old)], Compatibility.FULL)

    assert messages
    assert any(UNDECIDED in m for m in messages)
    assert compatibility_messages(rule.new, [(1, rule.old)], Compatibility.NONE) == []


def test_a_message_names_the_direction_the_version_and_the_location() -> None:
    old = obj({"o": obj({"x": S})})
    new = obj({"o": obj({"x": S}, required=["x"])})

    messages = compatibility_messages(new, [(3, old)], Compatibility.BACKWARD)

    assert messages == [
        "backward, against version 3: #/properties/o: property 'x' is required "
        "but the writer may leave it out"
    ]


V1 = obj({"n": I})
V2 = obj({"n": N})
INT_OR_STRING = obj({"n": {"type": ["integer", "string"]}})


@pytest.mark.parametrize(
    ("mode", "ok"),
    [
        (Compatibility.BACKWARD, True),
        (Compatibility.BACKWARD_TRANSITIVE, False),
        (Compatibility.FULL, False),
        (Compatibility.NONE, True),
    ],
)
def test_backward_transitive_checks_every_earlier_version(mode: Compatibility, ok: bool) -> None:
    # number reads v2's integers but not v1's strings
    messages = compatibility_messages(V2, [(1, INT_OR_STRING), (2, V1)], mode)

    assert (not messages) is ok, messages


@pytest.mark.parametrize(
    ("mode", "ok"),
    [(Compatibility.FORWARD, True), (Compatibility.FORWARD_TRANSITIVE, False)],
)
def test_forward_transitive_checks_every_earlier_version(mode: Compatibility, ok: bool) -> None:
    # v2 (number) reads the new integers; v1 (strings only) does not
    messages = compatibility_messages(V1, [(1, obj({"n": S})), (2, V2)], mode)

    assert (not messages) is ok, messages


def test_only_the_latest_version_counts_for_non_transitive_levels() -> None:
    earlier = [(1, V2), (2, V1)]

    assert compatibility_messages(V1, earlier, Compatibility.BACKWARD) == []
    assert compatibility_messages(V1, earlier, Compatibility.FULL) == []
    assert compatibility_messages(V1, earlier, Compatibility.BACKWARD_TRANSITIVE) != []


def test_recursive_schemas_terminate() -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            }
        },
        "$ref": "#/$defs/node",
    }

    assert compatibility_messages(tree, [(1, tree)], Compatibility.FULL_TRANSITIVE) == []


def test_a_boolean_false_writer_fits_anything() -> None:
    assert compatibility_messages(S, [(1, obj({"a": False}))], Compatibility.BACKWARD) != []
    assert (
        compatibility_messages(obj({"a": False}), [(1, obj({"a": False}))], Compatibility.FULL)
        == []
    )
