"""A Node.js client (the @promethean/client SDK from clients/js, with a
`jsonwebtoken`-made token) talks to the gateway: proof that the TypeScript
ecosystem works with it unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.gateway.support import SECRET
from tests.integration.js.support import built_js_client, installed

NODE_DIR = Path(__file__).resolve().parents[2] / "node"


def test_node_client_authenticates_publishes_subscribes_and_acks(gateway):
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are required (scripts/test.sh installs them)")
    built_js_client()
    if not installed(NODE_DIR):
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    result = subprocess.run(
        [node, "gateway_client.mjs"],
        cwd=NODE_DIR,
        env={
            "PATH": f"{Path(node).parent}:/usr/bin:/bin",
            "GATEWAY_URL": gateway.url,
            "JWT_SECRET": SECRET,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True
    assert summary["attempt"] == 1
    assert summary["id"]
