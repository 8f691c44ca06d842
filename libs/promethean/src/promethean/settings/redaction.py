"""A ``repr`` for settings objects that never shows a secret.

``Secret`` values already print as ``***``; this also masks the attributes
the class's table of variables declares secret, and the password of any
URL-shaped string field (a store URL may carry credentials).
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


def secret_fields(settings: Any) -> frozenset[str]:
    """The attributes its class's table of variables declares secret."""
    table = getattr(type(settings), "VARIABLES", None)
    return frozenset() if table is None else frozenset(table.secret_fields)


def settings_repr(self: Any) -> str:
    """``Name(field=value, ...)`` like a dataclass repr, with secrets masked."""
    hidden = secret_fields(self)
    shown = ", ".join(
        f"{field.name}={_shown(getattr(self, field.name), secret=field.name in hidden)}"
        for field in dataclasses.fields(self)
        if field.repr
    )
    return f"{type(self).__name__}({shown})"


def _shown(value: object, *, secret: bool) -> str:
    return MASK if secret and value is not None else redacted(value)
