"""Hostile frames: deep nesting is refused as ``bad_json`` before decoding
(never a `RecursionError`), and ids or keys holding control characters are
refused as ``bad_field`` on both protocols (issue 17, items 4 and 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean import names
from promethean.frames import ErrorCode, InvalidFrameError
from promethean.frames.codec import parse_broker_request, parse_gateway_request
from promethean.frames.nesting import exceeds_depth

DEPTHS = [names.MAX_JSON_DEPTH + 1, 1_000, 100_000]


def nested(depth: int, opener: str = "[") -> str:
    if opener == "[":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("opener", ["[", "{"])
@pytest.mark.parametrize(
    ("parse", "frame"),
    [
        (parse_broker_request, {"type": "PUBLISH", "topic": "t", "corr": 1}),
        (parse_gateway_request, {"op": "PUBLISH", "topic": "t", "corr": 1}),
        (parse_gateway_request, {"op": "AUTH", "corr": 1}),
    ],
)
def test_deep_nesting_is_bad_json(
    parse: Callable[..., Any], frame: dict[str, Any], depth: int, opener: str
) -> None:
    field = "token" if frame.get("op") == "AUTH" else "payload"
    text = json.dumps(frame)[:-1] + f', "{field}": {nested(depth, opener)}}}'
    for data in (text, text.encode()):
        with pytest.raises(InvalidFrameError) as caught:
            parse(data)
        assert caught.value.code is ErrorCode.BAD_JSON
        assert "deeper than" in caught.value.msg


def test_nesting_at_the_limit_is_accepted() -> None:
    # The frame object itself is one level.
    payload = nested(names.MAX_JSON_DEPTH - 1)
    frame = parse_broker_request(f'{{"type":"PUBLISH","topic":"t","payload":{payload}}}')
    assert bytes(frame.payload) == payload.encode()  # type: ignore[union-attr]


def test_brackets_inside_strings_do_not_nest() -> None:
    text = json.dumps({"type": "PUBLISH", "topic": "t", "payload": {"s": "[{" * 5_000}})
    assert not exceeds_depth(text, names.MAX_JSON_DEPTH)
    assert parse_broker_request(text).topic == "t"  # type: ignore[union-attr]


def test_many_shallow_brackets_are_not_deep() -> None:
    payload = [[i, {"k": [i]}] for i in range(5_000)]
    text = json.dumps({"type": "PUBLISH", "topic": "t", "payload": payload})
    assert not exceeds_depth(text, names.MAX_JSON_DEPTH)
    assert not exceeds_depth(text.encode(), names.MAX_JSON_DEPTH)


CONTROL = ["a\x00b", "\x00", "a\nb", "tab\t", "\x1f", "del\x7f", "c1\x85\x9f"]


@pytest.mark.parametrize("bad", CONTROL)
@pytest.mark.parametrize(
    ("parse", "frame", "field"),
    [
        (parse_broker_request, {"type": "PUBLISH", "topic": "t", "payload": 1}, "id"),
        (parse_broker_request, {"type": "PUBLISH", "topic": "t", "payload": 1}, "key"),
        (parse_broker_request, {"type": "PUBLISH", "topic": "t", "payload": 1}, "sid"),
        (parse_gateway_request, {"op": "PUBLISH", "topic": "t", "payload": 1}, "opts.id"),
        (parse_gateway_request, {"op": "PUBLISH", "topic": "t", "payload": 1}, "opts.key"),
        (parse_gateway_request, {"op": "ACK", "topic": "t", "group": "g"}, "id"),
    ],
)
def test_ids_with_control_characters_are_bad_field(
    parse: Callable[..., Any], frame: dict[str, Any], field: str, bad: str
) -> None:
    if field.startswith("opts."):
        frame = {**frame, "opts": {field.removeprefix("opts."): bad}}
    else:
        frame = {**frame, field: bad}
    with pytest.raises(InvalidFrameError) as caught:
        parse(json.dumps({**frame, "corr": 9}))
    assert (caught.value.code, caught.value.field, caught.value.corr) == (
        ErrorCode.BAD_FIELD,
        field,
        9,
    )


def test_printable_unicode_ids_are_accepted() -> None:
    frame = parse_broker_request(
        json.dumps({"type": "PUBLISH", "topic": "t", "payload": 1, "id": "ünï-\u2028-😀 x"})
    )
    assert frame.id == "ünï-\u2028-😀 x"  # type: ignore[union-attr]


def test_names_refuse_control_characters_too() -> None:
    for bad in CONTROL:
        assert not names.is_valid_name("t" + bad)
        assert not names.is_plain_id(bad)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\ab\n\u00e9'), max_size=12)
json_trees = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(tree=json_trees, limit=st.integers(0, 8))
def test_exceeds_depth_agrees_with_the_decoded_depth(tree: object, limit: int) -> None:
    text = json.dumps(tree, ensure_ascii=False)
    expected = depth_of(tree) > limit
    assert exceeds_depth(text, limit) is expected
    assert exceeds_depth(text.encode(), limit) is expected
