"""The descriptions of deploy/helm/values.schema.json's values that the chart
passes to a service as one environment variable, taken from that variable's
row in the services' settings tables (see scripts/configuration_tables.py).

    python scripts/chart_schema_descriptions.py          # rewrite the descriptions
    python scripts/chart_schema_descriptions.py --check  # exit 1 when one is stale

Only descriptions are written; types, ranges and patterns stay as the chart
keeps them. tests/unit/settings/test_chart_schema_descriptions.py runs the
check and that each value listed here really sets its variable in the
templates.
"""

from __future__ import annotations

import json
from typing import Any, Final

from configuration_tables import ROOT, TABLES, regenerate

SCHEMA: Final = ROOT / "deploy" / "helm" / "values.schema.json"
SCRIPT: Final = "scripts/chart_schema_descriptions.py"

CHART_VARIABLES: Final[dict[str, tuple[str, str]]] = {
    "common.logLevel": ("common", "PROMETHEAN_LOG_LEVEL"),
    "common.drainMs": ("common", "PROMETHEAN_DRAIN_MS"),
    "common.livenessMaxStallMs": ("common", "PROMETHEAN_LIVENESS_MAX_STALL_MS"),
    "common.disconnectKillMs": ("common", "PROMETHEAN_DISCONNECT_KILL_MS"),
    "common.heartbeatMs": ("common", "PROMETHEAN_HEARTBEAT_MS"),
    "common.gcFreezeMs": ("common", "PROMETHEAN_GC_FREEZE_MS"),
    "common.gcSweepMs": ("common", "PROMETHEAN_GC_SWEEP_MS"),
    "broker.port": ("broker", "BUS_PORT"),
    "broker.ackTimeoutMs": ("broker", "BUS_ACK_TIMEOUT_MS"),
    "broker.maxInflight": ("broker", "BUS_MAX_INFLIGHT"),
    "broker.defaultPartitions": ("broker", "PROMETHEAN_DEFAULT_PARTITIONS"),
    "broker.maxAttempts": ("broker", "PROMETHEAN_MAX_ATTEMPTS"),
    "broker.leaseTtlMs": ("broker", "PROMETHEAN_LEASE_TTL_MS"),
    "broker.sessionTimeoutMs": ("broker", "PROMETHEAN_SESSION_TIMEOUT_MS"),
    "gateway.port": ("gateway", "WS_PORT"),
    "gateway.metricsPort": ("gateway", "PROMETHEAN_METRICS_PORT"),
    "auth.jwtSecret": ("gateway", "JWT_SECRET"),
    "auth.jwtJwksUrl": ("gateway", "JWT_JWKS_URL"),
    "auth.jwtAudience": ("gateway", "JWT_AUD"),
    "auth.jwtIssuer": ("gateway", "JWT_ISS"),
    "compactor.port": ("compactor", "PROMETHEAN_COMPACTOR_PORT"),
    "outboxDrainer.port": ("outbox-drainer", "PROMETHEAN_OUTBOX_DRAINER_PORT"),
    "worker.port": ("worker", "PROMETHEAN_WORKER_PORT"),
    "worker.group": ("worker", "PROMETHEAN_WORKER_GROUP"),
    "worker.handlers": ("worker", "PROMETHEAN_WORKER_HANDLERS"),
    "worker.topics": ("worker", "PROMETHEAN_WORKER_TOPICS"),
}
"""Chart value → (settings table, variable) it sets; values the chart fills
in itself (the broker token it generates, ``BUS_URL`` from the release name,
the per-component ``drainMs`` overrides) keep the chart's own words."""


def description(table: str, variable: str) -> str:
    """``VARIABLE: <meaning>``, from the variable's row."""
    for row in TABLES[table].variables:
        if row.name == variable:
            return f"{variable}: {row.doc}"
    raise KeyError(f"{variable} is not in the {table!r} settings table")


def schema_node(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for key in path.split("."):
        node = node["properties"][key]
    return node


def updated_schema(text: str) -> str:
    """``text`` (values.schema.json) with every mapped value's description set."""
    schema = json.loads(text)
    for path, (table, variable) in CHART_VARIABLES.items():
        schema_node(schema, path)["description"] = description(table, variable)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    return regenerate(argv, SCHEMA, updated_schema, SCRIPT)


if __name__ == "__main__":
    raise SystemExit(main())
