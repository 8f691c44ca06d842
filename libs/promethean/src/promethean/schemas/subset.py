"""Is every instance valid under the *writer* schema also valid under the
*reader* schema? The core of every compatibility level.

The answer is a list of messages, empty when the writer's instances always
fit the reader. Each message starts with the JSON pointer of the schema
location it is about. A construct the rules do not cover yields a message
starting with ``cannot decide``: the change is refused, never passed on a
guess. The rules are sound but not complete: what they accept is
compatible; a few compatible changes are refused (docs/schemas.md).

Pure: no I/O. ``$ref`` is followed within each document only (``#`` and
``#/...`` pointers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import jsonschema_rs
import msgspec

from promethean.schemas.keywords import ANNOTATIONS, MODELED, NARROWING, NUMERIC, TYPES

Schema = dict[str, Any] | bool

MAX_DEPTH: Final = 64
_canonical: Final = msgspec.json.Encoder(order="sorted")
UNDECIDED: Final = "cannot decide"


@dataclass
class _Walk:
    writer_root: Schema
    reader_root: Schema
    messages: list[str] = field(default_factory=list)
    seen: set[tuple[int, int]] = field(default_factory=set)

    def fail(self, path: str, msg: str) -> None:
        self.messages.append(f"{path or '#'}: {msg}")

    def undecided(self, path: str, msg: str) -> None:
        self.fail(path, f"{UNDECIDED}: {msg}")


def subset_messages(writer: Schema, reader: Schema) -> list[str]:
    """Why some instance of ``writer`` may be invalid under ``reader``."""
    walk = _Walk(writer, reader)
    _subset(walk, writer, reader, "#", 0)
    return walk.messages


# -- references --------------------------------------------------------------


def _resolve(root: Schema, ref: str) -> Schema | None:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node if isinstance(node, dict | bool) else None


def _deref(walk: _Walk, root: Schema, node: Schema, path: str) -> Schema | None:
    """Follow ``$ref`` chains (siblings of a writer's ``$ref`` only narrow it)."""
    for _ in range(MAX_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        target = _resolve(root, str(node["$ref"]))
        if target is None:
            walk.undecided(path, f"$ref {node['$ref']!r} does not point into this document")
            return None
        node = target
    walk.undecided(path, "$ref chain too long")
    return None


# -- small helpers -------------------------------------------------------------


def _constraints(node: dict[str, Any]) -> set[str]:
    return {k for k in node if k not in ANNOTATIONS}


def _types(node: dict[str, Any]) -> set[str] | None:
    raw = node.get("type")
    if raw is None:
        return None
    names = {raw} if isinstance(raw, str) else set(raw)
    return {n for n in names if n in TYPES}


def _admits(reader_types: set[str] | None, name: str) -> bool:
    if reader_types is None:
        return True
    return name in reader_types or (name == "integer" and "number" in reader_types)


def _has_ref(value: Any) -> bool:
    if isinstance(value, dict):
        return "$ref" in value or any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False


def _fits(value: Any, node: Schema, root: Schema) -> bool | None:
    """Whether one JSON value is valid under ``node`` of ``root`` (None: unknown)."""
    if isinstance(node, bool):
        return node
    defs: dict[str, Any] = {
        k: root[k] for k in ("$defs", "definitions") if isinstance(root, dict) and k in root
    }
    try:
        validator = jsonschema_rs.validator_for({**defs, "allOf": [node]}, offline=True)
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return None
    return bool(validator.is_valid(value))


def _bound(node: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """The tighter of ``inclusive``/``exclusive`` as (value, is_exclusive)."""
    options: list[tuple[float, bool]] = []
    if isinstance(node.get(inclusive), int | float):
        options.append((node[inclusive], False))
    if isinstance(node.get(exclusive), int | float) and not isinstance(node[exclusive], bool):
        options.append((node[exclusive], True))
    if not options:
        return None
    lower = inclusive.startswith("min")
    key = (lambda o: (o[0], o[1])) if lower else (lambda o: (-o[0], o[1]))
    return max(options, key=key)


def _lower_ok(w: tuple[float, bool] | None, r: tuple[float, bool] | None) -> bool:
    if r is None:
        return True
    if w is None:
        return False
    return w[0] > r[0] or (w[0] == r[0] and (w[1] or not r[1]))


def _upper_ok(w: tuple[float, bool] | None, r: tuple[float, bool] | None) -> bool:
    if r is None:
        return True
    if w is None:
        return False
    return w[0] < r[0] or (w[0] == r[0] and (w[1] or not r[1]))


def _finite_values(node: dict[str, Any], types: set[str] | None) -> list[Any] | None:
    """Every value the writer can produce, when that set is finite and known."""
    if "const" in node:
        return [node["const"]]
    if isinstance(node.get("enum"), list):
        return list(node["enum"])
    if types is not None and types <= {"null", "boolean"}:
        values: list[Any] = []
        if "null" in types:
            values.append(None)
        if "boolean" in types:
            values += [True, False]
        return values
    return None


# -- the walk ------------------------------------------------------------------


def _subset(walk: _Walk, writer: Schema, reader: Schema, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        walk.undecided(path, "schemas nest too deeply")
        return
    w = _deref(walk, walk.writer_root, writer, path)
    if w is None or w is False:
        return
    if reader is True or (isinstance(reader, dict) and not _constraints(reader)):
        return
    if isinstance(reader, dict) and "$ref" in reader:
        _reader_ref(walk, w, reader, path, depth)
        return
    key = (id(w), id(reader))
    if key in walk.seen:
        return  # a recursive pair already under examination
    walk.seen.add(key)
    wn: dict[str, Any] = {} if w is True else w
    if reader is False:
        walk.fail(path, "the reader accepts nothing here")
        return
    if _same_without_refs(wn, reader):
        return
    for problem in _writer_unknowns(wn):
        walk.undecided(path, problem)
    if _writer_combinators(walk, wn, reader, path, depth):
        return
    _reader_keywords(walk, wn, reader, path, depth)


def _json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON text (Python's ``==`` says ``True == 1``)."""
    return bool(_canonical.encode(a) == _canonical.encode(b))


def _same_without_refs(w: dict[str, Any], r: dict[str, Any]) -> bool:
    return not _has_ref(w) and _json_equal(w, r)


def _reader_ref(walk: _Walk, w: Schema, reader: dict[str, Any], path: str, depth: int) -> None:
    target = _resolve(walk.reader_root, str(reader["$ref"]))
    if target is None:
        walk.undecided(path, f"$ref {reader['$ref']!r} does not point into this document")
        return
    _subset(walk, w, target, path, depth + 1)
    rest = {k: v for k, v in reader.items() if k != "$ref"}
    if _constraints(rest):
        _subset(walk, w, rest, path, depth + 1)


def _writer_unknowns(w: dict[str, Any]) -> Iterator[str]:
    for keyword in sorted(_constraints(w) - MODELED - NARROWING):
        yield f"keyword {keyword!r} is not supported"
    if "patternProperties" in w and w.get("additionalProperties", True) is not True:
        yield "patternProperties with additionalProperties is not supported"
    if "prefixItems" in w and "items" in w:
        yield "prefixItems with items is not supported"


def _writer_combinators(
    walk: _Walk, w: dict[str, Any], reader: dict[str, Any], path: str, depth: int
) -> bool:
    """A writer made of ``anyOf``/``oneOf``/``allOf`` branches. True when handled."""
    for keyword in ("anyOf", "oneOf"):
        branches = w.get(keyword)
        if isinstance(branches, list):
            rest = {k: v for k, v in w.items() if k != keyword}
            if not _constraints(rest):
                # The writer is exactly the union of its branches.
                for i, branch in enumerate(branches):
                    _subset(walk, branch, reader, f"{path}/{keyword}/{i}", depth + 1)
                return True
            if all(not _subset_messages_at(walk, b, reader, depth) for b in branches):
                return True
            if not _subset_messages_at(walk, rest, reader, depth):
                return True
            walk.undecided(path, f"cannot show every branch of {keyword} fits the reader")
            return True
    branches = w.get("allOf")
    if isinstance(branches, list):
        rest = {k: v for k, v in w.items() if k != "allOf"}
        for candidate in [rest, *branches]:
            if (candidate is not rest or _constraints(rest)) and not _subset_messages_at(
                walk, candidate, reader, depth
            ):
                return True
        walk.undecided(path, "cannot show some part of allOf fits the reader")
        return True
    return False


def _subset_messages_at(walk: _Walk, writer: Schema, reader: Schema, depth: int) -> list[str]:
    """Try a sub-check without recording its messages."""
    trial = _Walk(walk.writer_root, walk.reader_root, seen=set(walk.seen))
    _subset(trial, writer, reader, "#", depth + 1)
    return trial.messages


def _reader_keywords(
    walk: _Walk, w: dict[str, Any], r: dict[str, Any], path: str, depth: int
) -> None:
    wt = _types(w)
    values = _finite_values(w, wt)
    if values is not None:
        for value in values:
            fits = _fits(value, r, walk.reader_root)
            if fits is None:
                walk.undecided(path, f"cannot check value {value!r} against the reader")
            elif not fits:
                walk.fail(path, f"value {value!r} is not accepted any more")
        return
    for keyword in sorted(_constraints(r) - MODELED):
        if keyword in w and not _has_ref(r[keyword]) and _json_equal(w[keyword], r[keyword]):
            continue
        walk.undecided(path, f"reader keyword {keyword!r} differs from the writer's")
    if "allOf" in r and isinstance(r["allOf"], list):
        for i, branch in enumerate(r["allOf"]):
            _subset(walk, w, branch, f"{path}/allOf/{i}", depth + 1)
    for keyword in ("anyOf", "oneOf"):
        if isinstance(r.get(keyword), list):
            _reader_choice(walk, w, r, keyword, path, depth)
    if "enum" in r or "const" in r:
        walk.fail(path, "the reader accepts only listed values (enum/const) the writer does not")
        return
    if not _types_fit(walk, wt, _types(r), path):
        return
    writes = TYPES if wt is None else wt
    if writes & NUMERIC:
        _numbers(walk, w, r, path)
    if "string" in writes:
        _strings(walk, w, r, path)
    if "array" in writes:
        _arrays(walk, w, r, path, depth)
    if "object" in writes:
        _objects(walk, w, r, path, depth)


def _reader_choice(
    walk: _Walk, w: dict[str, Any], r: dict[str, Any], keyword: str, path: str, depth: int
) -> None:
    branches: list[Schema] = r[keyword]
    if keyword == "oneOf" and not _disjoint_types(branches):
        if not _has_ref(branches) and _json_equal(w.get("oneOf"), branches):
            return
        walk.undecided(path, "oneOf branches that may overlap")
        return
    if any(not _subset_messages_at(walk, w, b, depth) for b in branches):
        return
    writer_branches = w.get("anyOf") or w.get("oneOf")
    if isinstance(writer_branches, list) and all(
        any(not _subset_messages_at(walk, wb, b, depth) for b in branches) for wb in writer_branches
    ):
        return
    walk.fail(path, f"no branch of the reader's {keyword} accepts everything the writer writes")


def _disjoint_types(branches: list[Schema]) -> bool:
    seen: set[str] = set()
    for branch in branches:
        if not isinstance(branch, dict):
            return False
        types = _types(branch)
        if types is None:
            return False
        if "integer" in types or "number" in types:
            types = types | NUMERIC
        if seen & types:
            return False
        seen |= types
    return True


def _types_fit(walk: _Walk, wt: set[str] | None, rt: set[str] | None, path: str) -> bool:
    if rt is None:
        return True
    if wt is None:
        walk.fail(path, f"the writer allows any type, the reader only {sorted(rt)}")
        return False
    lost = sorted(t for t in wt if not _admits(rt, t))
    if lost:
        walk.fail(path, f"type {', '.join(lost)} is not accepted any more (reader: {sorted(rt)})")
        return False
    return True


def _numbers(walk: _Walk, w: dict[str, Any], r: dict[str, Any], path: str) -> None:
    if not _lower_ok(
        _bound(w, "minimum", "exclusiveMinimum"), _bound(r, "minimum", "exclusiveMinimum")
    ):
        walk.fail(path, "the lower bound (minimum) was raised or added")
    if not _upper_ok(
        _bound(w, "maximum", "exclusiveMaximum"), _bound(r, "maximum", "exclusiveMaximum")
    ):
        walk.fail(path, "the upper bound (maximum) was lowered or added")
    step = r.get("multipleOf")
    if step is not None:
        mine = w.get("multipleOf")
        if not (isinstance(mine, int | float) and isinstance(step, int | float) and step > 0):
            walk.fail(path, "multipleOf was added")
        elif (mine / step) != int(mine / step):
            walk.fail(path, f"multipleOf {mine} is not a multiple of {step}")


def _limit(
    walk: _Walk, w: dict[str, Any], r: dict[str, Any], path: str, low: str, high: str
) -> None:
    if low in r and not (isinstance(w.get(low), int) and w[low] >= r[low]):
        walk.fail(path, f"{low} was raised or added")
    if high in r and not (isinstance(w.get(high), int) and w[high] <= r[high]):
        walk.fail(path, f"{high} was lowered or added")


def _strings(walk: _Walk, w: dict[str, Any], r: dict[str, Any], path: str) -> None:
    _limit(walk, w, r, path, "minLength", "maxLength")


def _arrays(walk: _Walk, w: dict[str, Any], r: dict[str, Any], path: str, depth: int) -> None:
    _limit(walk, w, r, path, "minItems", "maxItems")
    if r.get("uniqueItems") is True and w.get("uniqueItems") is not True:
        walk.fail(path, "uniqueItems was added")
    if "items" in r:
        _subset(walk, w.get("items", True), r["items"], f"{path}/items", depth + 1)


def _objects(walk: _Walk, w: dict[str, Any], r: dict[str, Any], path: str, depth: int) -> None:
    _limit(walk, w, r, path, "minProperties", "maxProperties")
    w_props: dict[str, Schema] = w.get("properties", {})
    r_props: dict[str, Schema] = r.get("properties", {})
    w_more: Schema = w.get("additionalProperties", True)
    r_more: Schema = r.get("additionalProperties", True)
    w_required = set(w.get("required", []))
    for name in sorted(set(r.get("required", [])) - w_required):
        walk.fail(path, f"property {name!r} is required but the writer may leave it out")
    for name in sorted(set(w_props) | set(r_props)):
        written = w_props.get(name, w_more)
        read = r_props.get(name, r_more)
        where = f"{path}/properties/{name}"
        if written is False:
            continue
        if read is False:
            walk.fail(where, f"property {name!r} may be written but is not allowed")
            continue
        _subset(walk, written, read, where, depth + 1)
    if w_more is not False and r_more is not True:
        if r_more is False:
            walk.fail(path, "additionalProperties was closed (false)")
        else:
            _subset(walk, w_more, r_more, f"{path}/additionalProperties", depth + 1)
