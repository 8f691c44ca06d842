"""Every broker command fails the same way: one line on stderr naming what
was wrong, exit code 1, nothing on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.ferretdb import free_port
from tests.integration.cli.conftest import Cli

COMMANDS = (
    ("topics", "list"),
    ("topics", "delete", "orders"),
    ("groups", "list"),
    ("groups", "describe", "billing"),
    ("groups", "reset-offsets", "billing", "--topic", "orders", "--to", "earliest"),
    ("groups", "delete", "billing", "--topic", "orders"),
    ("lag",),
    ("tail", "orders", "--for", "10"),
    ("tail", "orders", "--group", "billing", "--for", "10"),
    ("publish", "orders", '{"n": 1}'),
    ("dlq", "list"),
    ("dlq", "replay", "orders"),
    ("dlq", "replay", "orders", "--dry-run"),
)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_an_unreachable_broker(cli: Cli, argv: tuple[str, ...]) -> None:
    ran = cli(*argv, "--broker", f"ws://127.0.0.1:{free_port()}/ws")
    assert ran.code == 1
    assert "cannot reach the broker at http://127.0.0.1:" in ran.err
    assert ran.err.count("\n") == 1
    assert ran.out == ""


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_bad_token(cli: Cli, argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", "not-the-token")
    ran = cli(*argv)
    assert ran.code == 1
    assert "the broker refused the token" in ran.err
    assert "401" in ran.err
    assert ran.err.count("\n") == 1
    assert ran.out == ""


def test_a_bad_file_is_named(cli: Cli, tmp_path: Path) -> None:
    ran = cli("publish", "orders", "--file", str(tmp_path / "nope.jsonl"))
    assert ran.code == 1
    assert f"no such file {tmp_path / 'nope.jsonl'}" in ran.err
