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

# A fake mongod shared by every connection: `state` in, `state` and the
# commands it received out (JSON on stdout).
HARNESS: Final = r"""
const fs = require("fs");
const vm = require("vm");
const [scriptPath, statePath] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const calls = [];
function hostOf(url) {
  const rest = url.replace(/^mongodb:\/\/([^@]*@)?/, "");
  return rest.split(/[/?]/)[0];
}
class FakeDb {
  constructor(url) { this.url = url; }
  runCommand(cmd) {
    const name = Object.keys(cmd)[0];
    calls.push(name);
    const host = hostOf(this.url);
    if (!host.includes(",") && !state.reachable.includes(host)) throw new Error(`connect ${host}: refused`);
    switch (name) {
      case "ping": return { ok: 1 };
      case "replSetGetStatus": return state.members.length ? { ok: 1 } : { ok: 0, code: 94 };
      case "replSetInitiate":
        state.members = cmd.replSetInitiate.members.map((m) => m.host);
        state.version = 1;
        return { ok: 1 };
      case "hello": return { isWritablePrimary: state.members.length > 0 };
      case "replSetGetConfig":
        return { ok: 1, config: { _id: "rs0", version: state.version,
          members: state.members.map((host, i) => ({ _id: i, host })) } };
      case "replSetReconfig": {
        const next = cmd.replSetReconfig;
        if (next.version !== state.version + 1) return { ok: 0, errmsg: "bad version" };
        if (next.members.length !== state.members.length + 1) return { ok: 0, errmsg: "one at a time" };
        state.members = next.members.map((m) => m.host);
        state.version = next.version;
        return { ok: 1 };
      }
    }
    throw new Error(`unexpected command ${name}`);
  }
  getUser(user) { calls.push("getUser"); return state.users[user] ?? null; }
  createUser(spec) { calls.push("createUser"); state.users[spec.user] = { pwd: spec.pwd, roles: spec.roles }; }
  updateUser(user, spec) { calls.push("updateUser"); state.users[user] = { pwd: spec.pwd, roles: spec.roles }; }
}
class Mongo { constructor(url) { this.url = url; } getDB() { return new FakeDb(this.url); } }
const output = [];
const sandbox = {
  process: { env: process.env }, Mongo, Math, String, Error, JSON, encodeURIComponent,
  print: (line) => output.push(line), sleep: () => {}, tojson: (v) => JSON.stringify(v),
};
let error = null;
try { vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), sandbox); }
catch (e) { error = String(e); }
console.log(JSON.stringify({ state, calls, output, error }));
"""


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
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state), encoding="utf-8")
    result = subprocess.run(
        [node(), str(harness), str(SCRIPT), str(state_path)],
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
