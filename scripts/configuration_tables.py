"""The variable tables of docs/configuration.md, generated from the settings
tables of the services (`VARIABLES` of each service's settings module, and
`promethean.settings.common.COMMON_VARIABLES` for "Every service", and the
`VARIABLES` of the worker's projectors in `promethean.projectors`).

    python scripts/configuration_tables.py          # rewrite the tables in the doc
    python scripts/configuration_tables.py --check  # exit 1 when the doc is stale

tests/unit/settings/test_configuration_doc.py runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from promethean.projectors.changelog import VARIABLES as CHANGELOG_VARIABLES
from promethean.projectors.heartbeat import VARIABLES as HEARTBEAT_VARIABLES
from promethean.settings.common import COMMON_VARIABLES
from promethean.settings.variables import VariableTable
from promethean_broker.settings import VARIABLES as BROKER_VARIABLES
from promethean_compactor.settings import VARIABLES as COMPACTOR_VARIABLES
from promethean_gateway.settings import VARIABLES as GATEWAY_VARIABLES
from promethean_outbox_drainer.settings import VARIABLES as DRAINER_VARIABLES
from promethean_worker.settings import VARIABLES as WORKER_VARIABLES

ROOT: Final = Path(__file__).resolve().parents[1]
DOC: Final = ROOT / "docs" / "configuration.md"
SCRIPT: Final = "scripts/configuration_tables.py"

TABLES: Final[dict[str, VariableTable]] = {
    "common": COMMON_VARIABLES,
    "broker": BROKER_VARIABLES,
    "gateway": GATEWAY_VARIABLES,
    "compactor": COMPACTOR_VARIABLES,
    "outbox-drainer": DRAINER_VARIABLES,
    "worker": WORKER_VARIABLES,
    "heartbeat-projector": HEARTBEAT_VARIABLES,
    "changelog-projector": CHANGELOG_VARIABLES,
}
"""Each block of the doc, by the name its markers carry."""


def start_marker(name: str) -> str:
    return f"<!-- settings-table:{name}:start ({SCRIPT}) -->"


def end_marker(name: str) -> str:
    return f"<!-- settings-table:{name}:end -->"


def updated_doc(text: str, tables: dict[str, VariableTable] = TABLES) -> str:
    """``text`` with the block between each pair of markers replaced by its table."""
    for name, table in tables.items():
        block = re.compile(
            re.escape(start_marker(name)) + r"\n.*?" + re.escape(end_marker(name)), re.DOTALL
        )
        replacement = f"{start_marker(name)}\n{table.markdown()}\n{end_marker(name)}"
        text, found = block.subn(lambda _match, new=replacement: new, text)
        if found != 1:
            raise ValueError(f"the markers of the {name!r} table are missing or repeated")
    return text


def regenerate(
    argv: list[str] | None, target: Path, update: Callable[[str], str], script: str
) -> int:
    """Rewrite ``target`` as ``update`` makes it, or with ``--check`` in
    ``argv`` only say (exit 1) when it differs; shared by the generator scripts."""
    parser = argparse.ArgumentParser(description=f"Regenerate {target.relative_to(ROOT)}.")
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    check_only = parser.parse_args(argv).check
    current = target.read_text(encoding="utf-8")
    fresh = update(current)
    if not check_only:
        target.write_text(fresh, encoding="utf-8")
    elif fresh != current:
        print(f"{target.relative_to(ROOT)} is stale: run python {script}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return regenerate(argv, DOC, updated_doc, SCRIPT)


if __name__ == "__main__":
    raise SystemExit(main())
