"""One real broker for the ``promethean`` command tests, signed in with the
broker token (and a JWT secret for ``token mint``); helpers that run the
command and return what it printed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest

from promethean.cli import main
from promethean.client.ws import ClientConfig, WebSocketBusClient
from tests.fixtures.broker import BrokerFactory, BrokerProcess

TOKEN: Final = "cli-token"
SECRET: Final = "cli-jwt-secret-0123456789abcdef0123"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class Cli:
    """``cli("groups", "list")`` runs ``promethean`` in this process against
    the test broker and returns its exit code and output."""

    def __init__(self, broker: BrokerProcess, capsys: pytest.CaptureFixture[str]) -> None:
        self.broker = broker
        self._capsys = capsys

    def __call__(self, *argv: str) -> Ran:
        self._capsys.readouterr()
        code = main(list(argv))
        captured = self._capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    async def in_thread(self, *argv: str) -> Ran:
        """The command on a worker thread, for tests that act while it runs."""
        self._capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        captured = self._capsys.readouterr()
        return Ran(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    factory = BrokerFactory(tmp_path_factory.mktemp("cli"))
    try:
        yield factory({"PROMETHEAN_BROKER_TOKEN": TOKEN, "JWT_SECRET": SECRET})
    finally:
        factory.kill_all()


@pytest.fixture
def cli(
    broker: BrokerProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.setenv("BUS_URL", broker.url)
    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", TOKEN)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("JWT_AUD", raising=False)
    monkeypatch.delenv("JWT_ISS", raising=False)
    return cli_for(broker, capsys)


def cli_for(broker: BrokerProcess, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(broker, capsys)


def fresh(label: str) -> str:
    return f"{label}.{uuid.uuid4().hex[:8]}"


def bus(broker: BrokerProcess) -> WebSocketBusClient:
    return WebSocketBusClient(broker.url, ClientConfig(token=TOKEN))
