"""hypothesis-jsonschema 0.23.1 (its latest release) draws object
instances with ``many(...).more()``, an internal helper Hypothesis later
replaced by a context manager. `install` gives that module the helper's
earlier form (a stop/continue draw per element, none where the
size bounds decide), so object schemas generate
again; every other strategy is untouched. Remove once a release of
hypothesis-jsonschema uses the new helper.
"""

from __future__ import annotations

import types
from typing import Any

import hypothesis_jsonschema._from_schema as from_schema_module
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis.internal.conjecture.utils import _calc_p_continue


class LegacyMany:
    def __init__(self, data: Any, min_size: int, max_size: float, average_size: float) -> None:
        self.data = data
        self.min_size = min_size
        self.max_size = max_size
        self.p_continue = _calc_p_continue(average_size - min_size, max_size - min_size)
        self.count = 0
        self.rejections = 0
        self.force_stop = False

    def more(self) -> bool:
        forced: bool | None = None
        if self.force_stop or self.count >= self.max_size:
            forced = False
        elif self.count < self.min_size:
            forced = True
        if self.min_size == self.max_size:
            forced = self.count < self.min_size
        go_on = forced if forced is not None else self.data.draw_boolean(self.p_continue)
        if not go_on:
            return False
        self.count += 1
        return True

    def reject(self, why: str | None = None) -> None:
        self.count -= 1
        self.rejections += 1
        if self.rejections > max(3, 2 * self.count):
            if self.count < self.min_size:
                self.data.mark_invalid(why)
            else:
                self.force_stop = True


def install() -> None:
    if hasattr(conjecture_utils.many, "more"):
        return  # a Hypothesis that still has the old helper
    shim = types.SimpleNamespace(**vars(conjecture_utils))
    shim.many = LegacyMany
    from_schema_module.cu = shim  # type: ignore[attr-defined]
