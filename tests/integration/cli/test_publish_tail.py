"""``promethean publish`` and ``promethean tail`` against a real broker."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.broker import BrokerFactory
from tests.integration.cli.conftest import TOKEN, Cli, bus, fresh


def test_publish_one_then_many_from_a_file_and_stdin(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = fresh("pub")
    one = cli("publish", topic, '{"n": 0}', "--key", "k0")
    assert (one.code, one.err) == (0, "")
    assert f"published 1 event(s) to {topic}" in one.out

    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(1, 5)) + "\n")
    many = cli("publish", topic, "--file", str(lines), "--key", "k1", "--output", "json")
    assert many.code == 0
    assert many.json() == {"topic": topic, "published": 4}

    envelopes = [
        {"payload": {"n": 5}, "key": "k5", "headers": {"src": "stdin"}},
        {"payload": {"n": 6}, "key": "k6", "headers": {"src": "stdin"}, "id": "six"},
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(map(json.dumps, envelopes))))
    piped = cli("publish", topic, "--file", "-", "--envelope", "-o", "json")
    assert piped.json() == {"topic": topic, "published": 2}

    everything = cli("tail", topic, "--from", "earliest", "--max", "7", "--for", "30", "-o", "json")
    assert everything.code == 0
    events = everything.json_lines()
    assert sorted(e["payload"]["n"] for e in events) == list(range(7))
    assert {e["key"] for e in events} == {"k0", "k1", "k5", "k6"}
    assert "six" in {e["id"] for e in events}

    by_key = cli("tail", topic, "--from", "earliest", "--key", "k1", "--max", "4", "--for", "30")
    assert by_key.code == 0
    rows = by_key.out.splitlines()
    assert len(rows) == 4
    assert all(" k1 " in row for row in rows)
    assert sorted(json.loads(row.split(" k1 ", 1)[1])["n"] for row in rows) == [1, 2, 3, 4]

    argv = ("--from", "earliest", "--header", "src:stdin", "--max", "2", "--for", "30")
    by_header = cli("tail", topic, *argv, "-o", "json")
    assert sorted(e["payload"]["n"] for e in by_header.json_lines()) == [5, 6]


def test_publish_refuses_a_bad_line_before_publishing_anything(cli: Cli, tmp_path: Path) -> None:
    topic = fresh("bad")
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"n": 1}\n{"n": \n')
    ran = cli("publish", topic, "--file", str(lines))
    assert ran.code == 1
    assert ran.err.startswith("promethean publish: line 2 is not a valid event")
    assert ran.err.count("\n") == 1
    assert topic not in cli("topics", "list").out
    assert cli("publish", topic).code == 1
    assert cli("publish", topic, "{}", "--file", "x").code == 1
    assert cli("publish", topic, "--file", str(tmp_path / "missing")).err.count("\n") == 1


def test_a_bad_line_on_stdin_says_how_many_went_before_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = fresh("stdin")
    good = "".join(json.dumps({"n": n}) + "\n" for n in range(300))
    monkeypatch.setattr("sys.stdin", io.StringIO(good + "not json\n"))
    ran = cli("publish", topic, "--file", "-")
    assert ran.code == 1
    assert ran.err.startswith("promethean publish: line 301 is not a valid event")
    assert "(256 event(s) published before it)" in ran.err  # one whole window
    assert ran.err.count("\n") == 1
    offsets = cli("tail", topic, "--from", "earliest", "--max", "256", "--for", "30", "-o", "json")
    assert sorted(e["payload"]["n"] for e in offsets.json_lines()) == list(range(256))


async def test_tail_shows_an_event_published_while_it_runs(cli: Cli) -> None:
    topic = fresh("live")
    assert (await cli.in_thread("publish", topic, '{"before": true}')).code == 0
    argv = ("--max", "1", "--for", "30", "-o", "json")
    tail = asyncio.create_task(cli.in_thread("tail", topic, *argv))
    async with bus(cli.broker) as client, asyncio.timeout(30):
        # The tail starts at "latest": keep publishing until it has caught one.
        while not tail.done():
            await client.publish(topic, {"live": True})
            await asyncio.wait({tail}, timeout=0.2)
    ran = await tail
    assert ran.code == 0
    [event] = ran.json_lines()
    assert (event["topic"], event["payload"]) == (topic, {"live": True})


async def test_tail_with_a_group_acks_and_moves_its_offsets(cli: Cli) -> None:
    topic, group = fresh("grp"), fresh("tailers")
    for n in (1, 2):
        assert (await cli.in_thread("publish", topic, f'{{"n": {n}}}', "--key", "k")).code == 0
    argv = ("--group", group, "--from", "earliest", "--max", "2", "--for", "30", "-o", "json")
    ran = await cli.in_thread("tail", topic, *argv)
    assert ran.code == 0
    assert [e["payload"]["n"] for e in ran.json_lines()] == [1, 2]
    async with asyncio.timeout(20):
        while True:
            lag = await cli.in_thread("lag", "--group", group, "--topic", topic, "-o", "json")
            if lag.code == 0 and lag.json()["lag"] == 0:
                break
            await asyncio.sleep(0.1)
    assert lag.json()["group"] == group


def test_tail_of_an_unknown_topic_fails_in_one_line(cli: Cli) -> None:
    ran = cli("tail", fresh("nothing"), "--for", "5")
    assert ran.code == 1
    assert "404" in ran.err
    assert ran.err.count("\n") == 1
    assert cli("tail", "x", "--from", "yesterday").err.count("\n") == 1


def test_publish_shows_a_progress_bar_on_a_terminal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    topic = fresh("bar")
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(600)))
    quiet = cli("publish", topic, "--file", str(lines))
    assert (quiet.code, quiet.err) == (0, "")  # no terminal: no bar
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich takes for a terminal
    shown = cli("publish", topic, "--file", str(lines))
    assert shown.code == 0
    assert f"publishing to {topic}" in shown.err
    assert "600/600" in shown.err  # a file is counted first: the bar knows its end
    assert "published \x1b[1m600\x1b[0m event(s)" in shown.out
    monkeypatch.setattr("sys.stdin", io.StringIO(lines.read_text()))
    piped = cli("publish", topic, "--file", "-")
    assert "600/?" in piped.err  # stdin: a count without an end


def test_a_broker_that_stops_ends_the_tail_with_one_line(
    broker_process: BrokerFactory, tmp_path: Path
) -> None:
    own = broker_process({"PROMETHEAN_BROKER_TOKEN": TOKEN})
    topic = fresh("stopping")
    env = {**os.environ, "BUS_URL": own.url, "PROMETHEAN_BROKER_TOKEN": TOKEN}
    command = [sys.executable, "-m", "promethean.cli"]
    published = subprocess.run(
        [*command, "publish", topic, '{"n": 1}'], env=env, timeout=60, check=False
    )
    assert published.returncode == 0
    with subprocess.Popen(
        [*command, "tail", topic, "--from", "earliest", "--for", "120"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as tail:
        try:
            assert tail.stdout is not None
            assert tail.stderr is not None
            first = tail.stdout.readline()  # the stream is open once an event arrives
            assert '{"n":1}' in first
            own.terminate()
            assert tail.wait(timeout=60) == 1
            err = tail.stderr.read()
        finally:
            tail.kill()
    assert err.startswith("promethean tail: ")
    assert err.count("\n") == 1
