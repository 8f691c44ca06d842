"""``promethean dlq list|replay``, ``token mint`` and ``console`` against a
real broker."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from promethean.bus.dlq import H_GROUP, H_ORIGINAL_TOPIC, H_REASON
from promethean.client.admin import AdminClient
from tests.fixtures.broker import http_request
from tests.integration.cli.conftest import SECRET, TOKEN, Cli, bus, fresh


async def dead_letters(cli: Cli, topic: str, groups: list[str]) -> None:
    """One DLQ record of ``topic`` per entry of ``groups`` (as the broker
    writes them after the last failed attempt)."""
    async with AdminClient(cli.broker.url, TOKEN) as admin:
        await admin.put_topic(topic, partitions=1)
    async with bus(cli.broker) as client:
        for n, group in enumerate(groups):
            headers = {H_GROUP: group, H_ORIGINAL_TOPIC: topic, H_REASON: "poison"}
            await client.publish(f"{topic}.DLQ", {"n": n}, key=f"k{n}", headers=headers)


async def test_dlq_list_dry_run_then_replay(cli: Cli) -> None:
    topic = fresh("jobs")
    await dead_letters(cli, topic, ["billing", "billing", "audit"])

    every = await cli.in_thread("dlq", "list")
    assert every.code == 0
    assert [topic, f"{topic}.DLQ", "3"] in [line.split()[:3] for line in every.out.splitlines()]
    as_json = (await cli.in_thread("dlq", "list", "-o", "json")).json()
    assert [d["depth"] for d in as_json if d["topic"] == topic] == [3]

    records = await cli.in_thread("dlq", "list", topic)
    assert records.out.splitlines()[0].split()[:3] == ["partition", "offset", "id"]
    assert f"{topic}.DLQ: 3 record(s), 3 shown" in records.out
    page = (await cli.in_thread("dlq", "list", topic, "-o", "json")).json()
    assert [r["group"] for r in page["records"]] == ["billing", "billing", "audit"]

    dry = await cli.in_thread("dlq", "replay", topic, "--dry-run")
    assert f"would replay 3 event(s) from {topic}.DLQ" in dry.out
    dry_billing = await cli.in_thread("dlq", "replay", topic, "--dry-run", "--group", "billing")
    assert "would replay 2 event(s)" in dry_billing.out
    counted = await cli.in_thread("dlq", "replay", topic, "--dry-run", "-o", "json")
    assert counted.json()["would_replay"] == 3

    replayed = await cli.in_thread("dlq", "replay", topic, "--idle-ms", "500", "-o", "json")
    assert replayed.code == 0
    assert replayed.json() == {"topic": topic, "dlq": f"{topic}.DLQ", "replayed": 3}
    async with AdminClient(cli.broker.url, TOKEN) as admin, asyncio.timeout(10):
        offsets = await admin.offsets(topic)
        assert sum(p.latest + 1 for p in offsets.partitions) == 3
    after = await cli.in_thread("dlq", "replay", topic, "--dry-run")
    assert "would replay 0 event(s)" in after.out
    again = await cli.in_thread("dlq", "replay", topic, "--idle-ms", "300")
    assert f"replayed 0 event(s) from {topic}.DLQ" in again.out


def test_token_mint_signs_a_token_the_broker_accepts(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    minted = cli("token", "mint", "--scope", "read:*", "--expires", "5m", "--subject", "ann")
    assert minted.code == 0
    token = minted.out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["scopes"], claims["exp"] - claims["iat"]) == (
        "ann",
        ["read:*"],
        300,
    )
    as_json = cli("token", "mint", "--scope", "admin:*", "-o", "json").json()
    assert as_json["claims"]["scopes"] == ["admin:*"]

    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", token)
    assert cli("groups", "list").code == 0
    refused = cli("topics", "set", fresh("ro"), "--partitions", "1")
    assert refused.code == 1
    assert "403" in refused.err
    assert refused.err.count("\n") == 1

    monkeypatch.delenv("JWT_SECRET")
    missing = cli("token", "mint")
    assert (missing.code, missing.err.count("\n")) == (1, 1)
    assert "JWT_SECRET" in missing.err
    monkeypatch.setenv("JWT_SECRET", "short")
    assert "shorter than 32 bytes" in cli("token", "mint").err
    with pytest.raises(SystemExit):
        cli("token", "mint", "--expires", "soon")


def test_console_prints_the_url_the_broker_serves(cli: Cli) -> None:
    ran = cli("console")
    assert ran.code == 0
    url = ran.out.strip()
    assert url == f"{cli.broker.http_url}/console/"
    status, _body = http_request(cli.broker.port, "GET", "/console/")
    assert status == 200
    assert cli("console", "-o", "json").json() == {"url": url, "opened": False}
    assert cli("console", "--broker", "ftp://x").code == 1


def test_console_open_starts_the_browser_on_the_url(cli: Cli, tmp_path: Path) -> None:
    seen = tmp_path / "opened.txt"
    record = f"import pathlib, sys; pathlib.Path({str(seen)!r}).write_text(sys.argv[1])"
    env = {
        **os.environ,
        "BUS_URL": cli.broker.url,
        # webbrowser runs $BROWSER with the URL in place of %s.
        "BROWSER": f"{shlex.quote(sys.executable)} -c {shlex.quote(record)} %s",
    }
    done = subprocess.run(
        [sys.executable, "-m", "promethean.cli", "console", "--open"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert seen.read_text() == f"{cli.broker.http_url}/console/"
