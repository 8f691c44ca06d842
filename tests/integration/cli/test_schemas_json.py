"""``promethean schemas … --output json`` against a real broker."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import Cli, fresh

V1 = {"type": "object", "properties": {"n": {"type": "integer"}}}
STRICTER = {**V1, "required": ["n"], "additionalProperties": False}


def test_schemas_commands_print_json(cli: Cli, tmp_path: Path) -> None:
    subject = f"{fresh('orders')}-value"
    v1, stricter = tmp_path / "v1.json", tmp_path / "stricter.json"
    v1.write_text(json.dumps(V1))
    stricter.write_text(json.dumps(STRICTER))

    registered = cli("schemas", "register", subject, str(v1), "-o", "json").json()
    assert (registered["subject"], registered["version"]) == (subject, 1)
    assert isinstance(registered["id"], int)
    assert subject in cli("schemas", "list", "-o", "json").json()
    assert cli("schemas", "list", subject, "-o", "json").json() == [1]
    assert cli("schemas", "get", subject, "-o", "json").json() == V1

    refused = cli("schemas", "check", subject, str(stricter), "-o", "json")
    assert refused.code == 1
    assert refused.json()["is_compatible"] is False
    level = cli("schemas", "config", subject, "--set", "none", "-o", "json").json()
    assert level == {"subject": subject, "compatibility": "NONE"}
    accepted = cli("schemas", "check", subject, str(stricter), "-o", "json")
    assert (accepted.code, accepted.json()["is_compatible"]) == (0, True)
