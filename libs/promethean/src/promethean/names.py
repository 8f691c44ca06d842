"""Names and limits shared by every layer: what a topic or group may be called
and how big a frame, payload or header map may grow."""

from __future__ import annotations

import re
from typing import Final

NAME_PATTERN: Final = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$"
NAME_RE: Final = re.compile(NAME_PATTERN)

MAX_FRAME_BYTES: Final = 1024 * 1024
MAX_PAYLOAD_BYTES: Final = 512 * 1024
MAX_HEADERS: Final = 64
MAX_HEADER_NAME_BYTES: Final = 256
MAX_HEADER_VALUE_BYTES: Final = 8 * 1024
MAX_KEY_BYTES: Final = 1024
MAX_ID_BYTES: Final = 256
MAX_JSON_DEPTH: Final = 100
"""Arrays and objects in a frame (payload included) nest at most this deep;
a deeper frame is refused as ``bad_json`` before it is decoded."""

CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Unicode control characters (categories Cc: C0, DEL, C1). Names cannot
hold them (`NAME_PATTERN`); ids and keys are refused when they do
(docs/decisions.md, "One rule for ids and names")."""

DLQ_SUFFIX: Final = ".DLQ"
SNAPSHOT_SUFFIX: Final = ".snapshot"


def is_valid_name(name: object) -> bool:
    """True when ``name`` is a string usable as a topic or group name.

    Beyond the pattern, an empty dot-separated segment (``a..b``, ``a.``) is refused:
    scope patterns match segment by segment and an empty one matches nothing.
    """
    return (
        isinstance(name, str)
        and NAME_RE.fullmatch(name) is not None
        and ".." not in name
        and not name.endswith(".")
    )


def is_plain_id(value: str) -> bool:
    """True when ``value`` holds no control character: the rule for event
    ids, keys, ``sid`` and ``caused_by`` at every edge (frames, HTTP)."""
    return CONTROL_CHARS.search(value) is None


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX
