"""Human durations for settings without an ``_MS`` suffix: ``90s``, ``15m``,
``24h``, ``7d``, ``500ms``. A bare ``0`` is allowed (no wait); any other
number needs its unit, so ``86400`` cannot be misread as seconds or ms."""

from __future__ import annotations

import re
from typing import Final

from promethean.errors import SettingsError
from promethean.settings import EnvReader, shown

UNIT_MS: Final = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
ALLOWED_DURATION: Final = "a duration like 500ms, 90s, 15m, 24h or 7d (or 0)"
_DURATION_RE: Final = re.compile(r"([0-9]{1,12})\s*(ms|s|m|h|d)", re.IGNORECASE)


def parse_duration_ms(text: str) -> int | None:
    """Milliseconds of ``text``, or None when it is not a duration."""
    value = text.strip()
    if value == "0":
        return 0
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        return None
    return int(match.group(1)) * UNIT_MS[match.group(2).lower()]


def read_duration_ms(env: EnvReader, name: str, default_ms: int, *, max_ms: int) -> int:
    value = env.raw(name)
    if value is None:
        return default_ms
    parsed = parse_duration_ms(value)
    if parsed is None or parsed > max_ms:
        raise SettingsError(name, shown(value), f"{ALLOWED_DURATION}, at most {max_ms} ms")
    return parsed
