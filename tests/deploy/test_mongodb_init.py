"""files/scripts/mongodb_init.js, the bundled replica set's init Job, run by
Node.js against a simulated mongod (mongosh's globals stubbed): on a fresh
three-member set it initiates once, adds the two other members one
reconfiguration at a time (each once it answers) and creates the
application user; run again, it changes nothing but the user's password;
a member that never answers makes it give up with a clear message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

from tests.deploy.chart import CHART_DIR, named, pod_spec, render

SCRIPT: Final = CHART_DIR / "files" / "scripts" / "mongodb_init.js"
FAKE_MONGOD: Final = Path(__file__).resolve().parent / "fake_mongod.js"


def node() -> str:
    found = shutil.which("node")
    if found is not None:
        return found
    message = "node is not installed (scripts/test.sh installs nodejs)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def job_env() -> dict[str, str]:
    manifests = render({"mongodb": {"replicas": 3}})
    job = named(manifests, "Job", "promethean-mongodb-init-1")
    env = {e["name"]: e["value"] for e in pod_spec(job)["containers"][0]["env"] if "value" in e}
    env.update(ROOT_USER="root", ROOT_PASSWORD="r p@ss", APP_USER="promethean", APP_PASSWORD="a1")
    return env


def run(tmp_path: Path, env: dict[str, str], state: dict[str, Any]) -> dict[str, Any]:
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state), encoding="utf-8")
    result = subprocess.run(
        [node(), str(FAKE_MONGOD), str(SCRIPT), str(state_path)],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_initiates_adds_members_and_creates_the_user(
    tmp_path: Path, job_env: dict[str, str]
) -> None:
    members = job_env["MEMBERS"].split(",")
    fresh = {"members": [], "version": 0, "users": {}, "reachable": members}
    first = run(tmp_path, job_env, fresh)
    assert first["error"] is None, first
    assert first["state"]["members"] == members
    assert first["calls"].count("replSetInitiate") == 1
    assert first["calls"].count("replSetReconfig") == 2
    assert first["state"]["users"]["promethean"] == {
        "pwd": "a1",
        "roles": [{"role": "readWrite", "db": "promethean"}],
    }
    assert "mongodb-init: rs0 ready: 3 member(s)" in first["output"]

    again = run(tmp_path, {**job_env, "APP_PASSWORD": "a2"}, first["state"])
    assert again["error"] is None, again
    assert "replSetInitiate" not in again["calls"]
    assert "replSetReconfig" not in again["calls"]
    assert "createUser" not in again["calls"]
    assert again["state"]["users"]["promethean"]["pwd"] == "a2"
    assert again["state"]["members"] == members


def test_a_member_that_never_answers_is_not_added(tmp_path: Path, job_env: dict[str, str]) -> None:
    members = job_env["MEMBERS"].split(",")
    state = {"members": [], "version": 0, "users": {}, "reachable": members[:2]}
    out = run(tmp_path, job_env, state)
    assert out["error"] is not None
    assert f"{members[2]} answering: gave up" in out["error"]
    assert out["state"]["members"] == members[:2]
    assert any("refused" in line for line in out["output"])
