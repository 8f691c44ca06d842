"""Topic patterns for faults: dot-separated segments, ``*`` matches exactly
one segment and ``**`` any number of segments (zero included)."""

from __future__ import annotations

from functools import lru_cache


def topic_matches(pattern: str, topic: str) -> bool:
    return _match(tuple(pattern.split(".")), tuple(topic.split(".")))


@lru_cache(maxsize=1024)
def _match(pattern: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    if not pattern:
        return not segments
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, segments[i:]) for i in range(len(segments) + 1))
    if not segments:
        return False
    if head != "*" and head != segments[0]:
        return False
    return _match(rest, segments[1:])
