"""Which event loop a service runs on: uvloop by default, asyncio's on
request or when uvloop is missing; a bad value stops with one line."""

from __future__ import annotations

import asyncio
import sys

import pytest

from promethean.runtime import event_loop
from promethean.runtime.event_loop import LOOP_ENV, LoopKind


async def running_loop_name() -> str:
    return event_loop.loop_name(asyncio.get_running_loop())


def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
    assert event_loop.run(running_loop_name(), service="t", environ={}) == "uvloop"
    assert event_loop.run(running_loop_name(), service="t", environ={LOOP_ENV: " "}) == "uvloop"


def test_asyncio_on_request() -> None:
    environ = {LOOP_ENV: "AsyncIO"}
    assert event_loop.run(running_loop_name(), service="t", environ=environ) == "asyncio"


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert event_loop.loop_factory(LoopKind.AUTO) is None
    assert event_loop.run(running_loop_name(), service="t", environ={}) == "asyncio"


def test_uvloop_demanded_but_missing_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(SystemExit) as stopped:
        event_loop.run(running_loop_name(), service="broker", environ={LOOP_ENV: "uvloop"})
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"broker: invalid setting: {LOOP_ENV}=uvloop is invalid")
    assert "uvloop is not installed" in err


def test_unknown_value_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        event_loop.run(running_loop_name(), service="gateway", environ={LOOP_ENV: "trio"})
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        f"gateway: invalid setting: {LOOP_ENV}=trio is invalid: one of auto, uvloop, asyncio\n"
    )
