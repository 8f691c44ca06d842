"""Every alert of deploy/helm/files/alerts.yaml fires on a synthetic bad
series and stays silent on a healthy one (promtool test rules), and an alert
of one release never fires for, or is masked by, another release in the same
Prometheus. The rules are tested with their annotations removed (their texts
are checked in test_alert_rules.py), so each case states only the labels."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import CHART_DIR
from tests.deploy.promql import promtool

ALERTS: Final = CHART_DIR / "files" / "alerts.yaml"
WHERE: Final = {"namespace": "bus", "release": "promethean"}


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    merged = {**WHERE, **labels}
    rendered = ",".join(f'{k}="{v}"' for k, v in merged.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


def per_broker(
    name: str, values: str, ordinals: tuple[int, ...] = (0, 1), **labels: str
) -> list[dict[str, str]]:
    """One series per broker pod, as every active broker exports it."""
    return [series(name, values, pod=f"promethean-broker-{i}", **labels) for i in ordinals]


def partitions_owned(*counts: int) -> list[dict[str, str]]:
    """promethean_partitions_owned{broker} of brokers 0, 1, ... owning ``counts``."""
    return [
        series("promethean_partitions_owned", f"{owned}x30", broker=f"promethean-broker-{i}")
        for i, owned in enumerate(counts)
    ]


def histogram(name: str, buckets: dict[str, str]) -> list[dict[str, str]]:
    return [series(f"{name}_bucket", values, le=le) for le, values in buckets.items()]


@dataclass(frozen=True)
class Case:
    alert: str
    eval_time: str
    bad: list[dict[str, str]]
    healthy: list[dict[str, str]]
    labels: dict[str, str]


CASES: Final = [
    Case(
        "PrometheanNoBrokerServing",
        "5m",
        per_broker("up", "1x10", component="broker"),
        [
            *per_broker("up", "1x10", component="broker"),
            *per_broker("promethean_publish_queue", "0x10", (1,)),
        ],
        {},
    ),
    Case(
        "PrometheanBrokerNotServing",
        "8m",
        [
            *per_broker("up", "1x10", component="broker"),
            *per_broker("promethean_publish_queue", "0x10", (0,)),
        ],
        [
            *per_broker("up", "1x10", component="broker"),
            *per_broker("promethean_publish_queue", "0x10"),
        ],
        {"pod": "promethean-broker-1"},
    ),
    Case(
        "PrometheanBrokerOwnsNoPartitions",
        "20m",
        partitions_owned(6, 6, 0),
        partitions_owned(4, 4, 4),
        {"broker": "promethean-broker-2"},
    ),
    Case(
        "PrometheanPublishQueueBacklog",
        "8m",
        [
            *per_broker("promethean_publish_queue", "20000x10", (0,)),
            *per_broker("promethean_publish_queue", "5x10", (1,)),
        ],
        per_broker("promethean_publish_queue", "5x10"),
        {"pod": "promethean-broker-0"},
    ),
    Case(
        "PrometheanPublishLatencyHigh",
        "20m",
        histogram(
            "promethean_publish_latency_seconds", {"0.1": "0x30", "1": "0x30", "+Inf": "0+10x30"}
        ),
        histogram(
            "promethean_publish_latency_seconds",
            {"0.1": "0+10x30", "1": "0+10x30", "+Inf": "0+10x30"},
        ),
        {},
    ),
    Case(
        "PrometheanConsumerLagGrowing",
        "45m",
        [series("promethean_consumer_lag", "0+100x60", topic="t", group="g", partition="0")],
        [series("promethean_consumer_lag", "5000x60", topic="t", group="g", partition="0")],
        {"topic": "t", "group": "g"},
    ),
    Case(
        "PrometheanConsumerStalled",
        "25m",
        [
            series("promethean_consumer_lag", "50x30", topic="t", group="g", partition="0"),
            series("promethean_acked_total", "0x30", topic="t", group="g"),
        ],
        [
            series("promethean_consumer_lag", "50x30", topic="t", group="g", partition="0"),
            series("promethean_acked_total", "0+10x30", topic="t", group="g"),
        ],
        {"topic": "t", "group": "g"},
    ),
    Case(
        "PrometheanConsumersGone",
        "10m",
        [series("promethean_group_members", "2 1 0x20", topic="t", group="g")],
        [series("promethean_group_members", "2x20", topic="t", group="g")],
        {"topic": "t", "group": "g"},
    ),
    Case(
        "PrometheanMetricLabelsOverflowing",
        "20m",
        [series("promethean_metric_label_overflow_total", "0+5x30", metric="promethean_delivered")],
        [series("promethean_metric_label_overflow_total", "7x30", metric="promethean_delivered")],
        {"metric": "promethean_delivered"},
    ),
    Case(
        "PrometheanLagGroupsOmitted",
        "20m",
        [series("promethean_lag_groups_omitted", "3x30")],
        [series("promethean_lag_groups_omitted", "0x30")],
        {},
    ),
    Case(
        "PrometheanDeadLettering",
        "12m",
        [series("promethean_dead_lettered_total", "0+10x20", topic="t", group="g")],
        [series("promethean_dead_lettered_total", "0x20", topic="t", group="g")],
        {"topic": "t", "group": "g"},
    ),
    Case(
        "PrometheanRedeliveriesHigh",
        "30m",
        [
            series("promethean_redelivered_total", "0+50x40", topic="t", group="g", reason="nack"),
            series("promethean_delivered_total", "0+100x40", topic="t", group="g"),
        ],
        [
            series("promethean_redelivered_total", "0+1x40", topic="t", group="g", reason="nack"),
            series("promethean_delivered_total", "0+100x40", topic="t", group="g"),
        ],
        {"topic": "t", "group": "g"},
    ),
    Case(
        "PrometheanWorkerRebalanceStorm",
        "30m",
        [series("promethean_worker_rebalances_total", "0+5x40", topic="t", group="g")],
        [series("promethean_worker_rebalances_total", "0x40", topic="t", group="g")],
        {"group": "g"},
    ),
    Case(
        "PrometheanWorkerDisconnected",
        "10m",
        [series("promethean_worker_broker_connected", "0x20", pod="promethean-worker-1")],
        [series("promethean_worker_broker_connected", "1x20", pod="promethean-worker-1")],
        {"pod": "promethean-worker-1"},
    ),
    Case(
        "PrometheanGatewayAuthFailures",
        "20m",
        [series("promethean_gateway_auth_failures_total", "0+600x30", reason="expired")],
        [series("promethean_gateway_auth_failures_total", "0+6x30", reason="expired")],
        {},
    ),
    Case(
        "PrometheanGatewayRelayLatencyHigh",
        "20m",
        histogram(
            "promethean_gateway_relay_latency_seconds",
            {"0.1": "0x30", "2": "0x30", "+Inf": "0+10x30"},
        ),
        histogram(
            "promethean_gateway_relay_latency_seconds",
            {"0.1": "0+10x30", "2": "0+10x30", "+Inf": "0+10x30"},
        ),
        {},
    ),
    Case(
        "PrometheanGatewayRefusingConnections",
        "12m",
        [series("promethean_gateway_connections_refused_total", "0+5x20")],
        [series("promethean_gateway_connections_refused_total", "0x20")],
        {},
    ),
    Case(
        "PrometheanOutboxBacklog",
        "15m",
        [series("promethean_outbox_rows", "5000x30", status="pending")],
        [
            series("promethean_outbox_rows", "10x30", status="pending"),
            series("promethean_outbox_rows", "90000x30", status="published"),
        ],
        {},
    ),
    Case(
        "PrometheanOutboxStale",
        "10m",
        [series("promethean_outbox_oldest_pending_age_seconds", "600x20")],
        [series("promethean_outbox_oldest_pending_age_seconds", "5x20")],
        {},
    ),
    Case(
        "PrometheanNoCompactorLeader",
        "15m",
        [
            series("up", "1x30", component="compactor", pod=f"promethean-compactor-{i}")
            for i in (0, 1)
        ]
        + [
            series("promethean_compactor_leader", "0x30", pod=f"promethean-compactor-{i}")
            for i in (0, 1)
        ],
        [
            series("up", "1x30", component="compactor", pod=f"promethean-compactor-{i}")
            for i in (0, 1)
        ]
        + [
            series("promethean_compactor_leader", "1x30", pod="promethean-compactor-0"),
            series("promethean_compactor_leader", "0x30", pod="promethean-compactor-1"),
        ],
        {},
    ),
    Case(
        "PrometheanCompactorPassesFailing",
        "70m",
        [series("promethean_compactor_passes_total", "0+1x80", result="failed")],
        [
            series("promethean_compactor_passes_total", "0x80", result="failed"),
            series("promethean_compactor_passes_total", "0+1x80", result="done"),
        ],
        {},
    ),
    Case(
        "PrometheanCompactorPassSlow",
        "100m",
        histogram(
            "promethean_compactor_pass_seconds", {"60": "0x110", "900": "0x110", "+Inf": "0+1x110"}
        ),
        histogram(
            "promethean_compactor_pass_seconds",
            {"60": "0+1x110", "900": "0+1x110", "+Inf": "0+1x110"},
        ),
        {},
    ),
]


def alert_names() -> list[str]:
    loaded = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule["alert"] for group in loaded["groups"] for rule in group["rules"]]


def rules_without_annotations(workdir: Path) -> Path:
    loaded: dict[str, Any] = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in loaded["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    path = workdir / "alerts.yaml"
    path.write_text(yaml.safe_dump(loaded), encoding="utf-8")
    return path


def severity(alert: str) -> str:
    loaded = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in loaded["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                return str(rule["labels"]["severity"])
    raise LookupError(alert)


def promtool_test(workdir: Path, tests: list[dict[str, Any]]) -> None:
    rules = rules_without_annotations(workdir)
    path = workdir / "tests.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [str(rules)], "tests": tests}), encoding="utf-8")
    result = subprocess.run(
        [promtool(), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case() -> None:
    assert sorted(case.alert for case in CASES) == sorted(alert_names())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.alert)
def test_alert_fires_on_bad_series_and_not_on_healthy_ones(case: Case, tmp_path: Path) -> None:
    expected = {**WHERE, **case.labels, "severity": severity(case.alert)}
    promtool_test(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": case.bad,
                "alert_rule_test": [
                    {
                        "eval_time": case.eval_time,
                        "alertname": case.alert,
                        "exp_alerts": [{"exp_labels": expected}],
                    }
                ],
            },
            {
                "interval": "1m",
                "input_series": case.healthy,
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": []}
                ],
            },
        ],
    )


def relabel(entries: list[dict[str, str]], release: str) -> list[dict[str, str]]:
    return [
        {**entry, "series": entry["series"].replace('release="promethean"', f'release="{release}"')}
        for entry in entries
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.alert)
def test_a_bad_release_never_trips_a_healthy_one(case: Case, tmp_path: Path) -> None:
    """Release "bad" is unhealthy and release "good" healthy in one
    Prometheus: the alert fires for "bad" only."""
    expected = {**WHERE, "release": "bad", **case.labels, "severity": severity(case.alert)}
    promtool_test(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": relabel(case.bad, "bad") + relabel(case.healthy, "good"),
                "alert_rule_test": [
                    {
                        "eval_time": case.eval_time,
                        "alertname": case.alert,
                        "exp_alerts": [{"exp_labels": expected}],
                    }
                ],
            }
        ],
    )


def test_lag_counts_each_partition_once_whichever_brokers_export_it(tmp_path: Path) -> None:
    """Two brokers exporting one partition's lag (a cluster-wide figure, or
    old and new owner during a handoff) do not double it: 900 events behind
    and growing stays under the 1000 threshold, where the sum (1800) would
    fire."""
    lagging = per_broker("promethean_consumer_lag", "0+20x60", topic="t", group="g", partition="0")
    promtool_test(
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": lagging,
                "alert_rule_test": [
                    {
                        "eval_time": "45m",
                        "alertname": "PrometheanConsumerLagGrowing",
                        "exp_alerts": [],
                    }
                ],
            }
        ],
    )
