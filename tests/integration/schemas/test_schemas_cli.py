"""``promethean schemas ...``, ``promethean asyncapi`` and ``promethean
topics set --validate`` against a real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promethean.cli import main
from tests.fixtures.broker import BrokerProcess
from tests.integration.schemas.conftest import TOKEN

V1 = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
WIDER = {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
STRICTER = {**V1, "required": ["n", "m"]}


@pytest.fixture
def cli_env(registry_broker: BrokerProcess, monkeypatch: pytest.MonkeyPatch) -> BrokerProcess:
    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("BUS_URL", registry_broker.url)
    return registry_broker


def write(tmp_path: Path, name: str, schema: dict[str, object]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(schema))
    return str(path)


def test_register_get_list_check_and_config(
    cli_env: BrokerProcess, subject: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, wider, stricter = (
        write(tmp_path, "v1.json", V1),
        write(tmp_path, "wider.json", WIDER),
        write(tmp_path, "stricter.json", STRICTER),
    )

    assert main(["schemas", "register", subject, v1]) == 0
    registered = capsys.readouterr().out
    assert main(["schemas", "check", subject, wider]) == 0
    assert capsys.readouterr().out.strip() == "compatible"
    assert main(["schemas", "check", subject, stricter, "--version", "1"]) == 1
    report = capsys.readouterr().out
    assert main(["schemas", "register", subject, wider]) == 0
    capsys.readouterr()
    assert main(["schemas", "get", subject]) == 0
    latest = json.loads(capsys.readouterr().out)
    assert main(["schemas", "get", subject, "--version", "1", "--meta"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["schemas", "list", subject]) == 0
    versions = capsys.readouterr().out.split()
    assert main(["schemas", "list"]) == 0
    subjects = capsys.readouterr().out.split()
    assert main(["schemas", "config", subject, "--set", "full"]) == 0
    assert main(["schemas", "config", subject]) == 0
    levels = capsys.readouterr().out.split()
    assert main(["schemas", "get", "--id", str(first["id"])]) == 0
    by_id = json.loads(capsys.readouterr().out)

    assert registered.startswith(f"{subject}: id ")
    assert "version 1" in registered
    assert report.startswith("incompatible:")
    assert "'m' is required" in report
    assert latest == WIDER
    assert (first["version"], first["schema"]) == (1, V1)
    assert versions == ["1", "2"]
    assert subject in subjects
    assert levels == ["FULL", "FULL"]
    assert by_id == V1


def test_refusals_print_the_confluent_error_and_exit_1(
    cli_env: BrokerProcess, subject: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "bad.json", {"type": "nonsense"})

    assert main(["schemas", "register", subject, bad]) == 1
    invalid = capsys.readouterr().err
    assert main(["schemas", "get", subject]) == 1
    missing = capsys.readouterr().err

    assert "error_code 42201" in invalid
    assert invalid.count("\n") == 1
    assert "error_code 40401" in missing


def test_topics_set_validate_and_asyncapi(
    cli_env: BrokerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = "cli.validated"
    assert main(["schemas", "register", f"{topic}-value", write(tmp_path, "v.json", V1)]) == 0
    assert main(["topics", "set", topic, "--partitions", "2", "--validate"]) == 0
    capsys.readouterr()
    assert main(["topics", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert main(["asyncapi"]) == 0
    document = json.loads(capsys.readouterr().out)

    assert table[0].split()[-1] == "validate"
    assert next(r.split() for r in table if r.startswith(topic + " "))[-1] == "yes"
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"][f"topic.{topic}"]["address"] == topic
    assert document["components"]["schemas"][f"topic.{topic}"] == V1
    assert main(["topics", "set", topic, "--no-validate"]) == 0
    assert (
        next(r.split() for r in capsys.readouterr().out.splitlines() if r.startswith(topic))[-1]
        == "no"
    )
