"""The alert rules of deploy/helm/files/alerts.yaml: promtool accepts them,
they name metrics the services export, and the main alerts fire (and stay
quiet) on synthetic series (promtool test rules)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import CHART_DIR
from tests.deploy.promql import check_rules, defined_metrics, promtool, used_metrics

ALERTS: Final = CHART_DIR / "files" / "alerts.yaml"


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    check_rules(ALERTS)


def test_every_alert_has_severity_and_text(rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_rules_name_exported_metrics(rules: list[dict[str, Any]]) -> None:
    known = defined_metrics()
    for rule in rules:
        used = used_metrics(rule["expr"])
        assert used, rule["alert"]
        assert used <= known, f"{rule['alert']}: not exported: {sorted(used - known)}"


def test_the_expected_alerts_exist(rules: list[dict[str, Any]]) -> None:
    assert {
        "PrometheanNoBrokerServing",
        "PrometheanBrokerNotServing",
        "PrometheanBrokerOwnsNoPartitions",
        "PrometheanConsumerLagGrowing",
        "PrometheanDeadLettering",
        "PrometheanRedeliveriesHigh",
        "PrometheanPublishLatencyHigh",
        "PrometheanWorkerRebalanceStorm",
        "PrometheanConsumersGone",
        "PrometheanGatewayAuthFailures",
        "PrometheanGatewayRelayLatencyHigh",
        "PrometheanOutboxBacklog",
        "PrometheanOutboxStale",
        "PrometheanNoCompactorLeader",
        "PrometheanCompactorPassSlow",
    } <= {rule["alert"] for rule in rules}


def test_every_alert_aggregates_by_namespace_and_release(rules: list[dict[str, Any]]) -> None:
    for rule in rules:
        expr = " ".join(rule["expr"].split())
        for by in re.findall(r"\bby \(([^)]*)\)", expr):
            names = {name.strip() for name in by.split(",")}
            assert {"namespace", "release"} <= names, f"{rule['alert']}: by ({by})"
        assert "absent(" not in expr, f"{rule['alert']}: absent() cannot tell releases apart"


UNIT_TESTS: Final = [
    {
        "interval": "1m",
        "input_series": [
            {
                "series": 'promethean_dead_lettered_total{topic="orders",group="billing"}',
                "values": "0+10x20",
            },
        ],
        "alert_rule_test": [
            {
                "eval_time": "12m",
                "alertname": "PrometheanDeadLettering",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "warning",
                            "topic": "orders",
                            "group": "billing",
                        },
                        "exp_annotations": {
                            "summary": "Events of orders go to the DLQ",
                            "description": "Group billing dead-letters 0.17 events/s of orders"
                            " into orders.DLQ after exhausting their attempts.",
                        },
                    }
                ],
            }
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            {
                "series": 'up{component="broker",namespace="bus",release="promethean"}',
                "values": "1x10",
            }
        ],
        "alert_rule_test": [
            {
                "eval_time": "5m",
                "alertname": "PrometheanNoBrokerServing",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "critical",
                            "namespace": "bus",
                            "release": "promethean",
                        },
                        "exp_annotations": {
                            "summary": "No Promethean broker is serving",
                            "description": "No broker of promethean in bus has reported"
                            " promethean_publish_queue for 2 minutes: none is connected to the"
                            " store, so publishes and deliveries stop. Check the broker pods and"
                            " the MongoDB replica set.",
                        },
                    }
                ],
            }
        ],
    },
    {
        "interval": "1m",
        "input_series": [{"series": "promethean_publish_queue", "values": "0x10"}],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "PrometheanNoBrokerServing", "exp_alerts": []}
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            {
                "series": 'promethean_consumer_lag{topic="t",group="g",partition="0"}',
                "values": "0+100x60",
            },
            {
                "series": 'promethean_consumer_lag{topic="t",group="steady",partition="0"}',
                "values": "5000x60",
            },
        ],
        "alert_rule_test": [
            {
                "eval_time": "45m",
                "alertname": "PrometheanConsumerLagGrowing",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning", "topic": "t", "group": "g"},
                        "exp_annotations": {
                            "summary": "Lag of g on t keeps growing",
                            "description": "Group g is 4500 events behind on t and falling"
                            " further behind. Scale the consumers (kubectl scale"
                            " statefulset/<release>-worker) or find the slow handler.",
                        },
                    }
                ],
            }
        ],
    },
]


def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    tests = tmp_path / "alerts_test.yaml"
    tests.write_text(
        yaml.safe_dump({"rule_files": [str(ALERTS)], "tests": UNIT_TESTS}), encoding="utf-8"
    )
    result = subprocess.run(
        [promtool(), "test", "rules", str(tests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
