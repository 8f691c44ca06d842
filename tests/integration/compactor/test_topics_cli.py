"""``promethean topics set`` / ``list`` against a real broker."""

from __future__ import annotations

import pytest

from promethean.cli import main
from tests.fixtures.broker import BrokerFactory

TOKEN = "cli-test-token"


def test_set_then_list_round_trips_the_config(
    broker_process: BrokerFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broker = broker_process({"PROMETHEAN_BROKER_TOKEN": TOKEN})
    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("BUS_URL", broker.url)
    argv = ["topics", "set", "orders.state", "--cleanup", "compact", "--retention-ms", "60000"]
    assert main([*argv, "--partitions", "3", "--retention-force"]) == 0
    assert main(["topics", "set", "orders.state", "--snapshot-every", "500"]) == 0
    capsys.readouterr()

    assert main(["topics", "list", "--broker", broker.http_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "partitions", "cleanup"]
    row = next(line.split() for line in lines[1:] if line.startswith("orders.state "))
    assert row == ["orders.state", "3", "compact", "60000", "-", "yes", "-", "500", "no", "no"]

    _status, body = broker.get("/topics", headers={"Authorization": f"Bearer {TOKEN}"})
    stored = next(t for t in body["topics"] if t["name"] == "orders.state")
    assert (stored["cleanup"], stored["retention_ms"], stored["snapshot_every"]) == (
        "compact",
        60000,
        500,
    )


def test_refusals_print_one_line_and_exit_1(
    broker_process: BrokerFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broker = broker_process({"PROMETHEAN_BROKER_TOKEN": TOKEN})
    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", "wrong")
    assert main(["topics", "list", "--broker", broker.url]) == 1
    err = capsys.readouterr().err
    assert "401" in err
    assert err.count("\n") == 1

    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", TOKEN)
    assert main(["topics", "set", "bad name!", "--broker", broker.url]) == 1
    assert "400" in capsys.readouterr().err
