"""How every ``promethean`` command prints: aligned tables (coloured only when
stdout is a terminal) or, with ``--output json``, JSON for scripts; progress
bars on stderr while stderr is a terminal; failures as one line on stderr.

Rich decides colour from the stream it writes to, so output captured by a
pipe or a test is plain text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Protocol

import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

FORMATS: Final = ("table", "json")
PIPE_WIDTH: Final = 4096
"""Line width when stdout is not a terminal: wide tables are never wrapped."""
EXIT_FAILED: Final = 1


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=FORMATS,
        default="table",
        help="table (aligned, for people; the default) or json (for scripts)",
    )


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "output", "table") == "json"


def stdout() -> Console:
    """A console on the current ``sys.stdout`` (which tests may replace)."""
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console = Console(file=sys.stdout, highlight=False, width=PIPE_WIDTH)
    return console


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> Table:
    """A borderless table: one header line, then one line per row."""
    grid = Table(
        *columns,
        title=title,
        box=None,
        pad_edge=False,
        header_style="bold cyan",
        title_justify="left",
        title_style="bold",
    )
    for row in rows:
        grid.add_row(*(cell(value) for value in row))
    return grid


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    console = stdout()
    with console.capture() as captured:
        console.print(table(columns, rows, title=title), soft_wrap=False)
    # Rich pads the last column; trailing blanks only get in a reader's way.
    lines = (line.rstrip() for line in captured.get().splitlines())
    print("\n".join(lines), flush=True)


def to_json(value: Any) -> str:
    return json.dumps(msgspec.to_builtins(value), indent=2, sort_keys=True)


def print_json(value: Any) -> None:
    print(to_json(value), flush=True)


def print_json_line(value: Any) -> None:
    """One compact JSON document per line (for streams such as ``tail``)."""
    print(msgspec.json.encode(msgspec.to_builtins(value)).decode(), flush=True)


def say(text: str) -> None:
    """A human line on stdout, with rich markup (``[green]…[/]``)."""
    stdout().print(text, soft_wrap=True)


def fail(command: str, message: str) -> int:
    """One line on stderr naming what was wrong; the failing exit code."""
    line = " ".join(f"{command}: {message}".split())
    print(line, file=sys.stderr, flush=True)
    return EXIT_FAILED


class Advance(Protocol):
    def __call__(self, count: int = 1) -> None: ...


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Advance]:
    """A progress bar on stderr (only while stderr is a terminal); yields
    the function that moves it forward."""
    console = stderr()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(count: int = 1) -> None:
            bar.advance(task, count)

        yield advance
