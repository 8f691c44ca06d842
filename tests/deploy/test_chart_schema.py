"""values.schema.json accepts the chart's defaults and the production-like
override, and refuses values that would render a broken release."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from tests.deploy.chart import CHART_DIR, load_values

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def chart() -> helm_python.Chart:
    with helm_python.Chart.load(CHART_DIR) as loaded:
        yield loaded


def test_defaults_and_the_override_are_valid(chart: helm_python.Chart) -> None:
    chart.validate_schema(chart.values)
    chart.validate_schema(load_values("scaled.yaml"))


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"worker": {"replicas": -1}}, "/worker/replicas"),
        ({"broker": {"replicas": 0}}, "/broker/replicas"),
        ({"worker": {"replicas": "3"}}, "/worker/replicas"),
        ({"broker": {"port": 70000}}, "/broker/port"),
        ({"broker": {"image": {"digest": "latest"}}}, "/broker/image/digest"),
        ({"gateway": {"image": {"digest": "sha256:abc"}}}, "/gateway/image/digest"),
        ({"broker": {"defaultPartitions": 0}}, "/broker/defaultPartitions"),
        ({"broker": {"leaseTtlMs": 10}}, "/broker/leaseTtlMs"),
        ({"common": {"logLevel": "loud"}}, "/common/logLevel"),
        ({"common": {"drainMs": -5}}, "/common/drainMs"),
        ({"common": {"heartbeatMs": 10}}, "/common/heartbeatMs"),
        ({"store": {"mongoUrl": "postgres://db/bus"}}, "/store/mongoUrl"),
        ({"store": {"database": "a b"}}, "/store/database"),
        ({"auth": {"brokerToken": "has space"}}, "/auth/brokerToken"),
        ({"auth": {"jwtJwksUrl": "ftp://keys"}}, "/auth/jwtJwksUrl"),
        ({"worker": {"env": {"lower_case": "x"}}}, "/worker/env"),
        ({"worker": {"handlers": ["a,b"]}}, "/worker/handlers"),
        ({"worker": {"group": "bad group"}}, "/worker/group"),
        ({"gateway": {"resources": {"requests": {"cpu": "lots"}}}}, "/gateway/resources"),
        ({"gateway": {"service": {"type": "ExternalName"}}}, "/gateway/service/type"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "/securityContext"),
        (
            {"metrics": {"serviceMonitor": {"interval": "often"}}},
            "/metrics/serviceMonitor/interval",
        ),
        ({"worker": {"replica": 3}}, "/worker"),
        ({"typo": True}, "additional properties"),
    ],
)
def test_schema_refuses(chart: helm_python.Chart, values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as caught:
        chart.validate_schema(values)
    assert where in str(caught.value)


def test_render_refuses_what_the_schema_refuses(chart: helm_python.Chart) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="/worker/replicas"):
        chart.render({"worker": {"replicas": -1}}, name="promethean")


def test_schema_accepts_a_pinned_digest_and_percent_budgets(chart: helm_python.Chart) -> None:
    chart.validate_schema(
        {
            "broker": {"image": {"repository": "broker", "digest": DIGEST}},
            "worker": {"pdb": {"enabled": True, "maxUnavailable": "25%"}, "replicas": 0},
        }
    )
