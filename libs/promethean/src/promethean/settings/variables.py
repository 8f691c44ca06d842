"""A service's settings declared as one table of environment variables.

Each :class:`Variable` names the variable, the settings attribute it fills,
how its value is read (which also checks it and raises the one-line
:class:`~promethean.errors.SettingsError`), and how it is documented: its
default and allowed values as docs/configuration.md shows them, and what it
means. A :class:`Derived` entry fills an attribute from several variables, or
from values read before it (for example a bound that depends on another
setting). A :class:`Nested` entry fills an attribute that is a settings object of its
own. A :class:`VariableTable` reads every entry in order and renders the
documented ones as a Markdown table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from promethean.settings.env import EnvReader

Values = Mapping[str, Any]
"""The attributes read so far, by name (``common`` first when a service has it)."""

Reader = Callable[[EnvReader, Values], Any]
"""Reads one attribute; raises ``SettingsError`` for a value it cannot use."""

TABLE_HEADER: Final = "| Variable | Default | Allowed | Meaning |\n|---|---|---|---|"


@dataclass(frozen=True, slots=True)
class Variable:
    """One documented environment variable."""

    name: str
    field: str | None
    """The settings attribute it fills; ``None`` when a `Derived` entry reads it."""
    read: Reader | None
    default: str
    """The default as the docs show it (Markdown)."""
    allowed: str
    """The values accepted, as the docs show them (Markdown)."""
    doc: str
    secret: bool = False
    """Never shown: its value is masked in errors and in the settings ``repr``."""

    @property
    def markdown_row(self) -> str:
        return f"| `{self.name}` | {self.default} | {self.allowed} | {self.doc} |"


@dataclass(frozen=True, slots=True)
class Derived:
    """An attribute computed from variables documented elsewhere in the table,
    or from attributes read before it."""

    field: str
    read: Reader
    secret: bool = False
    """Never shown: masked in the settings ``repr``."""


@dataclass(frozen=True, slots=True)
class Nested:
    """An attribute that is itself a settings object, read by its own table;
    its variables are documented with the enclosing table's."""

    field: str
    build: Callable[..., Any]
    """The nested settings class, called with the nested table's attributes."""
    table: VariableTable

    def read(self, env: EnvReader, values: Values) -> Any:
        return self.build(**self.table.read(env.environ))


Entry = Variable | Derived | Nested


class VariableTable:
    """The ordered entries of one settings class."""

    __slots__ = ("_entries",)

    def __init__(self, *entries: Entry) -> None:
        self._entries = entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    @property
    def variables(self) -> tuple[Variable, ...]:
        """The documented variables, those of nested tables in their place."""
        found: list[Variable] = []
        for entry in self._entries:
            if isinstance(entry, Nested):
                found.extend(entry.table.variables)
            elif isinstance(entry, Variable):
                found.append(entry)
        return tuple(found)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(entry.field for entry in self._entries if entry.field is not None)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """The attributes the settings ``repr`` masks."""
        return tuple(
            entry.field
            for entry in self._entries
            if isinstance(entry, Variable | Derived) and entry.secret and entry.field is not None
        )

    def read(self, environ: Mapping[str, str], **given: Any) -> dict[str, Any]:
        """Every attribute of the table, read from ``environ`` in table order;
        ``given`` (such as ``common``) is visible to the readers and returned too."""
        env = EnvReader(environ)
        values: dict[str, Any] = dict(given)
        for entry in self._entries:
            if entry.field is not None and entry.read is not None:
                values[entry.field] = entry.read(env, values)
        return values

    def markdown(self) -> str:
        """The documented variables as docs/configuration.md's table."""
        rows = "\n".join(variable.markdown_row for variable in self.variables)
        return f"{TABLE_HEADER}\n{rows}"
