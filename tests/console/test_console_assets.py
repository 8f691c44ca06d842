"""The console shipped in the broker package is what its sources build to,
and the broker serves it (and only it) with a strict content policy."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from promethean_broker.console import static_dir
from tests.console.browser import npm_ci
from tests.console.conftest import REPO, Console
from tests.fixtures.broker import http_request

SOURCES = REPO / "services" / "broker" / "console"


def test_committed_assets_are_what_the_sources_build_to(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required (scripts/test.sh installs nodejs)")
    npm_ci(SOURCES, "esbuild")
    subprocess.run(
        [node, "build.mjs", "--out", str(tmp_path)],
        cwd=SOURCES,
        check=True,
        capture_output=True,
        timeout=120,
    )
    built = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    shipped = {p.name: p.read_bytes() for p in static_dir().iterdir()}
    assert sorted(built) == sorted(shipped) == ["console.css", "console.js", "index.html"]
    stale = [name for name in built if built[name] != shipped[name]]
    assert stale == [], f"rebuild the console (cd {SOURCES} && npm run build): {stale} differ"


def test_sources_type_check(tmp_path: Path) -> None:
    npm_ci(SOURCES, "typescript")
    tsc = SOURCES / "node_modules" / ".bin" / "tsc"
    result = subprocess.run(
        [str(tsc), "-p", "."], cwd=SOURCES, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_page_loads_nothing_from_elsewhere() -> None:
    index = (static_dir() / "index.html").read_text()
    assert re.findall(r'(?:src|href)="([^"]+)"', index) == [
        "/console/static/console.css",
        "/console/static/console.js",
    ]
    script = (static_dir() / "console.js").read_text()
    assert not re.search(r"""fetch\(\s*["'`]https?://""", script)


def test_broker_serves_the_console_with_a_content_policy(console: Console) -> None:
    port = console.broker.port
    status, body = http_request(port, "GET", "/console/")
    assert status == 200
    assert "<title>Promethean console</title>" in body
    conn_headers = _headers(port, "/console/static/console.js")
    assert conn_headers["content-type"].startswith("text/javascript")
    assert "default-src 'self'" in conn_headers["content-security-policy"]
    status, body = http_request(port, "GET", "/console/static/../settings.py")
    assert status == 404
    status, body = http_request(port, "GET", "/console/static/nothing.js")
    assert status == 404
    status, _ = http_request(port, "GET", "/console/api/overview")
    assert status == 401


def _headers(port: int, path: str) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
