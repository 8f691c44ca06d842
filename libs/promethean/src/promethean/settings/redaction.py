"""A ``repr`` for settings objects that never shows a secret.

``Secret`` values already print as ``***``; this also masks the password of
any URL-shaped string field (a store URL may carry credentials).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from promethean.settings.secret import MASK
from promethean.urls import mask_url


def redacted(value: object) -> str:
    if isinstance(value, str) and "://" in value:
        try:
            return repr(mask_url(value))
        except ValueError:
            return repr(MASK)
    return repr(value)


def settings_repr(self: Any) -> str:
    """``Name(field=value, ...)`` like a dataclass repr, with secrets masked."""
    shown = ", ".join(
        f"{field.name}={redacted(getattr(self, field.name))}"
        for field in dataclasses.fields(self)
        if field.repr
    )
    return f"{type(self).__name__}({shown})"
