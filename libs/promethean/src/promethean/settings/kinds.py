"""Constructors of :class:`~promethean.settings.variables.Variable`, one per
kind of value: each knows how to read the value (through
:class:`~promethean.settings.env.EnvReader`, so the start-up error lines stay
the same) and how the docs show its default and allowed values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, TypedDict, Unpack

from promethean.errors import SettingsError
from promethean.settings.env import ALLOWED_SECRET, PORT_MAX, PORT_MIN, EnvReader
from promethean.settings.identity import read_process_id
from promethean.settings.ports import DEFAULT_BUS_PORT
from promethean.settings.variables import Reader, Values, Variable

UNSET: Final = "unset"
BUS_URL_VAR: Final = "BUS_URL"
DOC_LOCAL_BUS_URL: Final = "`ws://127.0.0.1:<BUS_PORT>/ws` (`BUS_PORT` defaults to `7070`)"
DEFAULT_PROCESS_ID: Final = "`<hostname>-<pid>`"
DOC_PROCESS_ID: Final = "1 to 128 characters from `A-Z a-z 0-9 . _ -`"


@dataclass(frozen=True, slots=True)
class AtLeast:
    """A lower bound set by another setting read before this one."""

    field: str
    variable: str

    def check(self, name: str, value: int, values: Values) -> int:
        floor: int = values[self.field]
        if value < floor:
            raise SettingsError(name, str(value), f"at least {self.variable} ({floor})")
        return value

    @property
    def doc(self) -> str:
        return f", and at least `{self.variable}`"


def number_text(value: int | float) -> str:
    """``value`` in plain decimal, without a needless ``.0`` (``0.001``, ``1000000``)."""
    if isinstance(value, float):
        return f"{value:f}".rstrip("0").rstrip(".")
    return str(value)


def code(value: object) -> str:
    """``value`` as Markdown code."""
    text = number_text(value) if isinstance(value, float) else str(value)
    return f"`{text}`"


def port(name: str, field: str, default: int, doc: str) -> Variable:
    def read(env: EnvReader, values: Values) -> int:
        return env.port(name, default)

    return Variable(name, field, read, code(default), f"{PORT_MIN} to {PORT_MAX}", doc)


Bounds = tuple[int, int]
"""Lowest and highest value accepted, both included."""

IntegerParse = Callable[[EnvReader, str, int, int, int], int]
"""``(env, name, default, low, high)``: one of `EnvReader`'s bounded integer readers."""


def _parse_integer(env: EnvReader, name: str, default: int, low: int, high: int) -> int:
    return env.integer(name, default, min_value=low, max_value=high)


def _parse_duration_ms(env: EnvReader, name: str, default: int, low: int, high: int) -> int:
    return env.duration_ms(name, default, min_ms=low, max_ms=high)


class BoundOptions(TypedDict, total=False):
    at_least: AtLeast
    """A floor set by a setting read before (see `AtLeast`)."""
    shown_default: str
    """The default as the docs show it, when more than the number says."""


def _bounded(
    parse: IntegerParse,
    spec: tuple[str, str, int, Bounds, str],
    options: BoundOptions,
) -> Variable:
    name, field, default, (low, high), doc = spec
    at_least = options.get("at_least")

    def read(env: EnvReader, values: Values) -> int:
        value = parse(env, name, default, low, high)
        return value if at_least is None else at_least.check(name, value, values)

    allowed = f"{low} to {high}" + (at_least.doc if at_least else "")
    shown_default = options.get("shown_default") or code(default)
    return Variable(name, field, read, shown_default, allowed, doc)


def integer(
    name: str, field: str, default: int, bounds: Bounds, doc: str, **options: Unpack[BoundOptions]
) -> Variable:
    return _bounded(_parse_integer, (name, field, default, bounds, doc), options)


def duration_ms(
    name: str, field: str, default: int, bounds: Bounds, doc: str, **options: Unpack[BoundOptions]
) -> Variable:
    """Whole milliseconds (the variable's ``_MS`` suffix says the unit)."""
    return _bounded(_parse_duration_ms, (name, field, default, bounds, doc), options)


def seconds_from_ms(name: str, field: str, default_s: float, bounds: Bounds, doc: str) -> Variable:
    """Whole milliseconds in the environment, seconds (a float) in the settings."""
    low, high = bounds
    default_ms = round(default_s * 1000)

    def read(env: EnvReader, values: Values) -> float:
        return env.duration_ms(name, default_ms, min_ms=low, max_ms=high) / 1000

    return Variable(name, field, read, code(default_ms), f"{low} to {high}", doc)


def number(
    name: str, field: str, default: float, bounds: tuple[float, float], doc: str
) -> Variable:
    low, high = bounds

    def read(env: EnvReader, values: Values) -> float:
        return env.number(name, default, min_value=low, max_value=high)

    allowed = f"{number_text(low)} to {number_text(high)}"
    return Variable(name, field, read, code(default), allowed, doc)


def boolean(name: str, field: str, default: bool, doc: str) -> Variable:
    def read(env: EnvReader, values: Values) -> bool:
        return env.boolean(name, default)

    return Variable(name, field, read, code(str(default).lower()), "boolean", doc)


def choice(name: str, field: str, default: Enum, doc: str) -> Variable:
    enum = type(default)

    def read(env: EnvReader, values: Values) -> Any:
        return env.choice(name, default, enum)

    allowed = ", ".join(code(member.value) for member in enum)
    return Variable(name, field, read, code(default.value), allowed, doc)


def host(name: str, field: str, default: str, doc: str) -> Variable:
    def read(env: EnvReader, values: Values) -> str:
        return env.host(name, default)

    return Variable(name, field, read, code(default), "a hostname or an IP address", doc)


def secret(
    name: str, field: str | None, doc: str, *, allowed: str = ALLOWED_SECRET, default: str = UNSET
) -> Variable:
    """A secret, unset by default; read as it is given and never shown. With
    ``field=None`` it is only documented here and read by a `Derived` entry."""

    def read(env: EnvReader, values: Values) -> Any:
        return env.secret(name)

    reader: Reader | None = read if field is not None else None
    return Variable(name, field, reader, default, allowed, doc, secret=True)


def local_bus_url(env: EnvReader) -> str:
    """The broker of this machine on ``BUS_PORT`` (as ``promethean dev`` runs it)."""
    return f"ws://127.0.0.1:{env.port('BUS_PORT', DEFAULT_BUS_PORT)}/ws"


def bus_url(field: str, doc: str, *, default: str | None = None) -> Variable:
    """``BUS_URL``, the broker's WebSocket URL; without ``default``, the broker
    of this machine on ``BUS_PORT``."""

    def read(env: EnvReader, values: Values) -> str:
        fallback = default if default is not None else local_bus_url(env)
        return env.url(BUS_URL_VAR, fallback, schemes=("ws", "wss"))

    shown_default = code(default) if default is not None else DOC_LOCAL_BUS_URL
    return Variable(BUS_URL_VAR, field, read, shown_default, "a `ws://` or `wss://` URL", doc)


def process_id(name: str, field: str, doc: str) -> Variable:
    """This process's name in leases, claims and logs; ``<hostname>-<pid>`` by default."""

    def read(env: EnvReader, values: Values) -> str:
        return read_process_id(env, name)

    return Variable(name, field, read, DEFAULT_PROCESS_ID, DOC_PROCESS_ID, doc)


def documented(name: str, doc: str, *, default: str = UNSET, allowed: str) -> Variable:
    """A variable read by a `Derived` entry (or by code outside the table)."""
    return Variable(name, None, None, default, allowed, doc)


def custom(
    name: str,
    field: str,
    read: Reader,
    doc: str,
    *,
    default: str,
    allowed: str,
) -> Variable:
    """A variable with its own reader (a check beyond its kind's)."""
    return Variable(name, field, read, default, allowed, doc)
