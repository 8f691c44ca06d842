"""The Grafana dashboard shipped with the chart: a well-formed dashboard
whose every query parses and names metrics the services export, covering
throughput, lag per group and partition, ownership (per broker and per
worker), rebalances, DLQ, redeliveries and publish latency."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import pytest

from tests.deploy.chart import CHART_DIR
from tests.deploy.promql import check_expressions, defined_metrics, used_metrics

DASHBOARD: Final = CHART_DIR / "dashboards" / "promethean.json"
GRID_WIDTH: Final = 24

Panel = dict[str, Any]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def graph_panels(dashboard: dict[str, Any]) -> list[Panel]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> dict[str, str]:
    return {
        f"{panel['title']} [{target['refId']}]": target["expr"]
        for panel in graph_panels(dashboard)
        for target in panel["targets"]
    }


def test_every_query_filters_on_namespace_and_release(dashboard: dict[str, Any]) -> None:
    """Two releases in one Prometheus never mix on one panel."""
    for title, expr in expressions(dashboard).items():
        selectors = re.findall(r"promethean_[a-z0-9_]+(\{[^}]*\})?", expr)
        assert selectors, title
        for selector in selectors:
            assert 'namespace=~"$namespace"' in selector, f"{title}: {expr}"
            assert 'release=~"$release"' in selector, f"{title}: {expr}"


def test_worker_panels_have_a_legend_per_pod(dashboard: dict[str, Any]) -> None:
    worker_targets = [
        target
        for panel in graph_panels(dashboard)
        for target in panel["targets"]
        if re.search(
            r"promethean_worker_(owned_partitions|rebalances|processed|inflight)", target["expr"]
        )
    ]
    assert len(worker_targets) >= 4
    for target in worker_targets:
        assert "{{pod}}" in target["legendFormat"], target
        assert "by (pod" in target["expr"], target


def test_broker_panels_show_each_broker(dashboard: dict[str, Any]) -> None:
    """With every broker active, ownership and appends are read per broker."""
    by_title = {panel["title"]: panel for panel in graph_panels(dashboard)}
    [owned] = by_title["Partitions owned per broker"]["targets"]
    assert owned["expr"].startswith("max by (broker) (promethean_partitions_owned{")
    assert owned["legendFormat"] == "{{broker}}"
    for title in ("Published events/s per broker pod", "Store write p99 per broker pod"):
        [target] = by_title[title]["targets"]
        assert "by (pod)" in target["expr"] or "by (le, pod)" in target["expr"], title
        assert target["legendFormat"] == "{{pod}}", title


def test_lag_counts_each_partition_once(dashboard: dict[str, Any]) -> None:
    """Whichever brokers export a partition's lag, it is read once per
    partition (max by partition) before any sum."""
    for title, expr in expressions(dashboard).items():
        if "promethean_consumer_lag" in used_metrics(expr):
            assert "max by (topic, group, partition) (promethean_consumer_lag{" in expr, title


def test_dashboard_has_identity_and_a_datasource_variable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "promethean-bus"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "release", "topic", "group"} <= set(variables)


def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in graph_panels(dashboard):
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["w"] > 0
        assert grid["x"] + grid["w"] <= GRID_WIDTH
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        for row in range(grid["y"], grid["y"] + grid["h"]):
            for column in range(grid["x"], grid["x"] + grid["w"]):
                assert (row, column) not in cells, (panel["title"], cells.get((row, column)))
                cells[(row, column)] = panel["title"]


def test_every_query_names_exported_metrics(dashboard: dict[str, Any]) -> None:
    known = defined_metrics()
    for title, expr in expressions(dashboard).items():
        used = used_metrics(expr)
        assert used, f"{title} queries no promethean metric"
        assert used <= known, f"{title}: not exported by any service: {sorted(used - known)}"


@pytest.mark.parametrize(
    ("metric", "needle"),
    [
        ("promethean_published_total", "rate("),
        ("promethean_delivered_total", "rate("),
        ("promethean_acked_total", "rate("),
        ("promethean_consumer_lag", "partition"),
        ("promethean_consumer_lag", "by (topic, group)"),
        ("promethean_worker_owned_partitions", ""),
        ("promethean_worker_rebalances_total", ""),
        ("promethean_dead_lettered_total", "rate("),
        ("promethean_redelivered_total", "reason"),
        ("promethean_publish_latency_seconds_bucket", "histogram_quantile(0.99"),
        ("promethean_gateway_connections", "by (pod)"),
        ("promethean_gateway_auth_failures_total", "by (reason)"),
        ("promethean_gateway_relay_latency_seconds_bucket", "histogram_quantile(0.99"),
        ("promethean_outbox_rows", "by (status)"),
        ("promethean_outbox_oldest_pending_age_seconds", ""),
        ("promethean_compactor_leader", "by (pod)"),
        ("promethean_compactor_pass_seconds_bucket", "histogram_quantile(0.99"),
        ("promethean_group_members", "by (topic, group)"),
        ("promethean_partitions_owned", "by (broker)"),
        ("promethean_published_total", "by (pod)"),
        ("promethean_publish_queue", "by (pod)"),
    ],
)
def test_dashboard_covers(dashboard: dict[str, Any], metric: str, needle: str) -> None:
    matching = [e for e in expressions(dashboard).values() if metric in used_metrics(e)]
    assert any(needle in expr for expr in matching), f"no panel shows {metric} with {needle!r}"


def test_every_query_parses(dashboard: dict[str, Any], tmp_path: Path) -> None:
    check_expressions(expressions(dashboard), tmp_path)
