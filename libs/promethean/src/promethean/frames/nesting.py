"""How deeply a JSON text nests, measured before it is decoded.

A decoder recurses once per level, so a small frame nested thousands of
levels deep (``[[[[…``) would exhaust the stack. `exceeds_depth` answers
without decoding: most frames hold fewer brackets than the limit and cost
two ``count`` calls; the others have their strings removed (a bracket
inside a string does not nest) and the running depth of what remains is
taken in C (`itertools.accumulate`). Linear in the frame, no recursion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any, Final

_STRING_TEXT: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STRING_BYTES: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET_TEXT: Final = re.compile(r"[^\[\]{}]+")
_NOT_BRACKET_BYTES: Final = re.compile(rb"[^\[\]{}]+")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}
_STEP_BYTE: Final = {ord(k): v for k, v in _STEP.items()}
_CHUNK: Final = 4096


def exceeds_depth(data: str | bytes, limit: int) -> bool:
    """True when arrays and objects in ``data`` nest more than ``limit`` deep.
    Text that is not valid JSON may be measured loosely; it fails decoding
    anyway, and either way it is refused as ``bad_json``."""
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= limit:
            return False
        text = _NOT_BRACKET_TEXT.sub("", _STRING_TEXT.sub("", data))
        return _deeper(text, _STEP, limit)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    raw = _NOT_BRACKET_BYTES.sub(b"", _STRING_BYTES.sub(b"", data))
    return _deeper(raw, _STEP_BYTE, limit)


def _deeper(brackets: Sequence[Any], step: Mapping[Any, int], limit: int) -> bool:
    """Whether the running depth over ``brackets`` passes ``limit``; chunk by
    chunk, so a hostile frame is caught in its first few thousand brackets."""
    depth = 0
    for start in range(0, len(brackets), _CHUNK):
        running = list(
            accumulate(map(step.__getitem__, brackets[start : start + _CHUNK]), initial=depth)
        )
        if max(running) > limit:
            return True
        depth = running[-1]
    return False
