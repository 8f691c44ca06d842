"""The ``promethean`` command's own parsing: durations, ``--from``,
``--header`` forms, JSON lines, and the one-line error shape."""

from __future__ import annotations

import argparse

import pytest

from promethean.cli.broker import CommandError, describe_error
from promethean.cli.output import fail
from promethean.cli.publish import header_pairs, parse_line
from promethean.cli.tail import header_of, start_of
from promethean.cli.token import claims_of, duration_s
from promethean.client.admin import AdminNotFoundError, AdminUnavailableError


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-5m", "1w", "soon", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration_s(text)


def test_claims_carry_audience_and_issuer_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_AUD", raising=False)
    monkeypatch.setenv("JWT_ISS", "https://issuer.test")
    claims = claims_of(["admin:*"], 60, "ops", now=1000)
    assert claims == {
        "sub": "ops",
        "scopes": ["admin:*"],
        "iat": 1000,
        "exp": 1060,
        "iss": "https://issuer.test",
    }


def test_tail_start_and_header() -> None:
    assert start_of("latest") == ("latest", None)
    assert start_of("earliest") == ("earliest", None)
    assert start_of("42") == ("offset", 42)
    for bad in ("-1", "yesterday", ""):
        with pytest.raises(CommandError):
            start_of(bad)
    assert header_of("tenant:acme:eu") == ("tenant", "acme:eu")
    assert header_of(None) is None
    with pytest.raises(CommandError):
        header_of("no-colon")


def test_publish_headers_and_lines() -> None:
    assert header_pairs(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    assert header_pairs(None) is None
    with pytest.raises(CommandError):
        header_pairs(["=1"])
    assert parse_line('{"n": 1}', 1, envelope=False).payload == {"n": 1}
    draft = parse_line('{"payload": 2, "key": "k", "id": "i"}', 1, envelope=True)
    assert (draft.payload, draft.key, draft.id) == (2, "k", "i")
    with pytest.raises(CommandError, match="line 3"):
        parse_line('{"payload": 1, "colour": "red"}', 3, envelope=True)
    with pytest.raises(CommandError, match="line 4"):
        parse_line("{", 4, envelope=False)


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    unreachable = AdminUnavailableError(0, "unreachable", "http://h:1: refused\nmore")
    assert describe_error(unreachable).startswith("cannot reach the broker at http://h:1")
    missing = AdminNotFoundError(404, "not_found", "no topic t")
    assert describe_error(missing) == "broker answered 404 not_found: no topic t"
    assert fail("promethean x", describe_error(unreachable)) == 1
    err = capsys.readouterr().err
    assert err == "promethean x: cannot reach the broker at http://h:1: refused more\n"
