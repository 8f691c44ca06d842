"""Find the handlers ``PROMETHEAN_WORKER_HANDLERS`` names and their topics.

An entry is a module path (``package.module:attribute``) or the name of an
entry point in the ``promethean.handlers`` group (installed packages
register theirs in ``[project.entry-points."promethean.handlers"]``). The
attribute is a `HandlerSpec` or a plain ``async def handle(message)``.
Topics: the entry's ``@a|b`` if given, else the handler's own, else
``PROMETHEAN_WORKER_TOPICS``. Anything that cannot be resolved is a bad
setting: the worker stops at start-up with one line naming the variable.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Final

from promethean.errors import SettingsError
from promethean.projectors.contract import HandlerSpec, function_spec
from promethean.settings import shown
from promethean_worker.settings import HANDLERS_VAR, TOPICS_VAR, HandlerEntry, WorkerSettings

ENTRY_POINT_GROUP: Final = "promethean.handlers"
BUILTIN_HANDLERS: Final = {
    "heartbeat-projector": "promethean.projectors.heartbeat:project",
    "changelog-projector": "promethean.projectors.changelog:project",
}
"""The built-in projectors by short name (also registered as entry points)."""


@dataclass(frozen=True, slots=True)
class ResolvedHandler:
    spec: HandlerSpec
    topics: tuple[str, ...]


def load_target(target: str) -> object:
    """The object a ``package.module:attribute`` path names."""
    module_name, _, attribute = target.partition(":")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise SettingsError(HANDLERS_VAR, shown(target), f"an importable module ({exc})") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise SettingsError(
                HANDLERS_VAR, shown(target), f"{module_name} has no attribute {attribute}"
            ) from None
    return found


def entry_point_target(name: str) -> str:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            return str(point.value)
    builtin = BUILTIN_HANDLERS.get(name)
    if builtin is None:
        known = sorted(
            {p.name for p in entry_points(group=ENTRY_POINT_GROUP)} | set(BUILTIN_HANDLERS)
        )
        raise SettingsError(
            HANDLERS_VAR,
            shown(name),
            f"package.module:attribute or one of the {ENTRY_POINT_GROUP} entry points: "
            + ", ".join(known),
        )
    return builtin


def as_spec(target: str, found: object) -> HandlerSpec:
    if isinstance(found, HandlerSpec):
        return found
    if inspect.iscoroutinefunction(found):
        function: Callable[..., object] = found
        return function_spec(target, function)  # type: ignore[arg-type]
    raise SettingsError(
        HANDLERS_VAR, shown(target), "a HandlerSpec or an async function taking a Message"
    )


def resolve(entry: HandlerEntry, default_topics: tuple[str, ...]) -> ResolvedHandler:
    target = entry.target if entry.is_module_path else entry_point_target(entry.target)
    spec = as_spec(entry.target, load_target(target))
    topics = entry.topics or spec.topics or default_topics
    if not topics:
        raise SettingsError(
            TOPICS_VAR, "(unset)", f"topics for {entry.target}: set {TOPICS_VAR} or use @topic"
        )
    return ResolvedHandler(spec, topics)


def resolve_all(settings: WorkerSettings) -> list[ResolvedHandler]:
    resolved = [resolve(entry, settings.default_topics) for entry in settings.handlers]
    names = [r.spec.name for r in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SettingsError(HANDLERS_VAR, shown(",".join(duplicates)), "each handler named once")
    return resolved
