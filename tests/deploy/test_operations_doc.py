"""docs/operations.md keeps up with the chart: "Scaling the brokers" explains
how partitions move (with a diagram), handoff and takeover, the
PodDisruptionBudget and the store choice, names the gauge the dashboard and
the alerts read, and the alert table lists exactly the alerts of
deploy/helm/files/alerts.yaml."""

from __future__ import annotations

import re
from typing import Final

import yaml

from tests.deploy.chart import CHART_DIR, ROOT

OPERATIONS: Final = ROOT / "docs" / "operations.md"


def section(text: str, title: str) -> str:
    """The body of the level-2 section ``title``, up to the next one."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_scaling_the_brokers_covers_what_an_operator_needs() -> None:
    body = section(OPERATIONS.read_text(encoding="utf-8"), "Scaling the brokers")
    assert "```mermaid\nsequenceDiagram" in body
    assert "kubectl -n bus scale statefulset/promethean-broker --replicas=3" in body
    for needle in (
        "*Handoff*",
        "*Takeover*",
        "maxUnavailable: 1",
        "broker.leaseTtlMs",
        "SQLite",
        "MongoDB",
        "promethean_partitions_owned{broker}",
        "not_owner",
        "PROMETHEAN_ADVERTISED_URL",
    ):
        assert needle in body, needle


def test_alert_table_lists_every_alert() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(Promethean[A-Za-z]+)` \|", text, re.M))
    rules = yaml.safe_load((CHART_DIR / "files" / "alerts.yaml").read_text(encoding="utf-8"))
    shipped = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert documented == shipped
