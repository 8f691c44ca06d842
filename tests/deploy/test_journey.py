"""The operator journey, as far as one machine goes: every workload of the
rendered default chart boots as local processes with its manifest's
environment (FerretDB standing in for the bundled MongoDB, the init
containers' wait-for-store script run first), a real Prometheus scrapes them
through the chart's own pod scrape job and relabeling, traffic flows through
the gateway (acks, a poison event nacked into the DLQ, a refused token, a bad
broker frame), the worker StatefulSet scales 1 -> 3 -> 2 as processes named
like its pods, and then every query of the dashboard returns series with the
labels its legend uses, each worker pod by name. The helm test script and
the topics Job script run against the same stack."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import jwt
import pytest

from tests.deploy.chart import CHART_DIR, ROOT, Container, named, pod_spec, render
from tests.deploy.journey import (
    RATE_WINDOW,
    Cluster,
    Pod,
    Prometheus,
    env_for,
    wait_for,
    wait_live,
)
from tests.deploy.processes import missing_entry_point
from tests.deploy.promql import substitute
from tests.fixtures.broker import http_get, http_request
from tests.fixtures.ferretdb import with_database

pytestmark = [pytest.mark.mongo, pytest.mark.timeout(900)]

DASHBOARD: Final = CHART_DIR / "dashboards" / "promethean.json"
SCRIPTS: Final = CHART_DIR / "files" / "scripts"
SMOKE: Final = ROOT / "deploy" / "e2e" / "smoke.py"
ORDERS: Final = "journey.orders"
POISON: Final = "journey.poison"
WS_PUBLISHES: Final = 20
HTTP_PUBLISHES: Final = 5
LEGEND_RE: Final = re.compile(r"\{\{\s*(\w+)\s*\}\}")
STARTUP: Final = (("outbox-drainer", 0), ("compactor", 0), ("compactor", 1), ("gateway", 0))


@dataclass
class Journey:
    cluster: Cluster
    prometheus: Prometheus
    gateway_port: int
    gateway_metrics_port: int
    three_workers_at: float = 0.0
    ownership: dict[int, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)


def client_token(secret: str) -> str:
    now = int(time.time())
    claims = {
        "sub": "journey",
        "scopes": ["publish:journey.**", "subscribe:journey.**"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def expect_ok(ws: aiohttp.ClientWebSocketResponse, corr: str) -> None:
    while True:
        reply = await ws.receive_json(timeout=20)
        if reply.get("corr") == corr:
            assert reply.get("op") == "OK", reply
            return


async def drive_traffic(journey: Journey, secret: str, broker_token: str) -> dict[str, int]:
    """Publish, ack, nack into the DLQ, refuse a token, send a bad broker frame."""
    counts = {"acked": 0, "poison_deliveries": 0, "refused": 0, "broker_errors": 0}
    gateway = f"ws://127.0.0.1:{journey.gateway_port}/ws"
    token = client_token(secret)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(gateway) as bad:
            await bad.send_json({"op": "AUTH", "token": "not-a-token"})
            reply = await bad.receive_json(timeout=20)
            assert reply["op"] == "ERR", reply
            counts["refused"] += 1
        async with session.ws_connect(gateway) as ws:
            await ws.send_json({"op": "AUTH", "token": token, "corr": "auth"})
            await expect_ok(ws, "auth")
            for topic, group in ((ORDERS, "journey-consumers"), (POISON, "journey-poison")):
                await ws.send_json(
                    {
                        "op": "SUBSCRIBE",
                        "corr": f"sub-{topic}",
                        "topic": topic,
                        "group": group,
                        "opts": {"from": {"kind": "earliest"}, "max_inflight": 64},
                    }
                )
                await expect_ok(ws, f"sub-{topic}")
            for index in range(WS_PUBLISHES):
                await ws.send_json(
                    {
                        "op": "PUBLISH",
                        "topic": ORDERS,
                        "payload": {"index": index},
                        "opts": {"key": f"k{index % 4}", "id": f"ws-{index}"},
                    }
                )
            await ws.send_json({"op": "PUBLISH", "topic": POISON, "payload": {"poison": True}})
            for index in range(HTTP_PUBLISHES):
                async with session.post(
                    f"http://127.0.0.1:{journey.gateway_port}/publish/{ORDERS}?id=http-{index}",
                    json={"index": index},
                    headers={"Authorization": f"Bearer {token}"},
                ) as response:
                    assert response.status == 200, await response.text()
            max_attempts = int(
                env_for(journey.cluster.main_container("broker"), journey.cluster.secrets)[
                    "PROMETHEAN_MAX_ATTEMPTS"
                ]
            )
            wanted = WS_PUBLISHES + HTTP_PUBLISHES
            # Distinct ids: with two brokers a partition that moves while in
            # flight is delivered again by its new owner (at least once).
            acked_ids: set[str] = set()
            while counts["acked"] < wanted or counts["poison_deliveries"] < max_attempts:
                frame = await ws.receive_json(timeout=60)
                if frame.get("op") != "EVENT":
                    continue
                ack = {"topic": frame["topic"], "group": frame["group"], "id": frame["event"]["id"]}
                if frame["topic"] == POISON:
                    counts["poison_deliveries"] += 1
                    await ws.send_json({"op": "NACK", **ack, "reason": "journey poison"})
                else:
                    acked_ids.add(frame["event"]["id"])
                    counts["acked"] = len(acked_ids)
                    await ws.send_json({"op": "ACK", **ack})
        broker = f"ws://127.0.0.1:{journey.cluster.broker_port}/ws"
        async with session.ws_connect(broker) as raw:
            await raw.send_json({"type": "AUTH", "token": broker_token, "corr": "a"})
            assert (await raw.receive_json(timeout=20))["type"] == "OK"
            await raw.send_str('{"type": "NOT_A_FRAME"}')
            reply = await raw.receive_json(timeout=20)
            assert reply["type"] == "ERR", reply
            counts["broker_errors"] += 1
    return counts


def ownership(journey: Journey, members: int) -> str:
    secrets = journey.cluster.secrets["promethean"]
    result = subprocess.run(
        [
            sys.executable,
            str(SMOKE),
            "--broker",
            f"http://127.0.0.1:{journey.cluster.broker_port}",
            "--timeout",
            "90",
            "ownership",
            "--members",
            str(members),
        ],
        env={**os.environ, "PROMETHEAN_BROKER_TOKEN": secrets["PROMETHEAN_BROKER_TOKEN"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def scale_workers(journey: Journey, replicas: int) -> None:
    """`kubectl scale statefulset/promethean-worker --replicas=N`: start the
    missing ordinals, stop the highest ones (SIGTERM, within their grace)."""
    cluster = journey.cluster
    running = sorted(
        int(name.rsplit("-", 1)[1])
        for name, pod in cluster.pods.items()
        if pod.component == "worker"
    )
    for ordinal in range(len(running), replicas):
        cluster.start("worker", ordinal)
    for ordinal in range(replicas, len(running)):
        name = f"promethean-worker-{ordinal}"
        journey.exit_codes[name] = cluster.stop(name)
    for pod in cluster.pods.values():
        if pod.component == "worker":
            pod.process.wait_ready()
    cluster.write_targets(cluster.workdir / "targets.json")
    journey.ownership[replicas] = ownership(journey, replicas)


def is_ready(pod: Pod) -> bool:
    try:
        return http_get(pod.process.port, "/healthz/ready", timeout=2.0)[0] == 200
    except OSError:
        return False


def run_wait_for_store(
    cluster: Cluster, url: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    broker = named(cluster.manifests, "StatefulSet", "promethean-broker")
    [init] = pod_spec(broker)["initContainers"]
    env = env_for(Container(broker, init), cluster.secrets)
    env["MONGO_URL"] = url
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "wait_for_store.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def journey(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    for component in ("broker", "gateway", "outbox-drainer", "compactor", "worker"):
        reason = missing_entry_point(component)
        assert reason is None, reason
    workdir = tmp_path_factory.mktemp("journey")
    manifests = render()
    store_url = with_database(mongo_url, f"journey_{int(time.time())}")
    cluster = Cluster(manifests, store_url, workdir)
    targets = workdir / "targets.json"
    cluster.write_targets(targets)
    prometheus = Prometheus(workdir, targets)
    try:
        prometheus.wait_ready()
        waited = run_wait_for_store(cluster, store_url, timeout=60)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert "MongoDB is ready" in waited.stdout
        # Two active brokers: the workers' partitioned group fetches each
        # partition from its owner.
        first_broker = cluster.start("broker", 0)
        first_broker.process.wait_ready()
        second_broker = cluster.start("broker", 1)
        second_broker.process.wait_ready()
        pods = [cluster.start(component, ordinal) for component, ordinal in STARTUP]
        # A standby (the second compactor) is live but may not be ready yet;
        # one pod of each component must be ready.
        for pod in pods:
            wait_live(pod.process)
        for component in {p.component for p in pods}:
            wait_for(
                f"a ready {component} pod",
                lambda c=component: any(is_ready(p) for p in pods if p.component == c),
            )
        gateway = next(p for p in pods if p.component == "gateway")
        result = Journey(cluster, prometheus, gateway.process.port, gateway.metrics_port)
        cluster.write_targets(targets)
        scale_workers(result, 1)
        secrets = cluster.secrets["promethean"]
        result.traffic = asyncio.run(
            drive_traffic(result, secrets["JWT_SECRET"], secrets["PROMETHEAN_BROKER_TOKEN"])
        )
        scale_workers(result, 3)
        wait_for(
            "three worker pods scraped",
            lambda: len(prometheus.query('up{component="worker"} == 1')) == 3,
        )
        wait_for(
            "owned partitions of three worker pods",
            lambda: len(prometheus.query("promethean_worker_owned_partitions > 0")) >= 3,
        )
        result.three_workers_at = time.time()
        scale_workers(result, 2)
        yield result
    finally:
        cluster.kill_all()
        prometheus.stop()


def dashboard_targets() -> list[tuple[str, dict[str, Any]]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [
        (panel["title"], target)
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def evaluate(journey: Journey, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    plain = substitute(
        expr,
        {
            "$__rate_interval": RATE_WINDOW,
            "$namespace": "bus",
            "$release": "promethean",
            "$topic": ".*",
            "$group": ".*",
        },
    )
    return journey.prometheus.query(plain, at)


def test_every_dashboard_query_returns_series_with_its_legend_labels(journey: Journey) -> None:
    missing: list[str] = []
    for title, target in dashboard_targets():
        legend = set(LEGEND_RE.findall(target.get("legendFormat", "")))

        def labelled(expr: str = target["expr"], wanted: set[str] = legend) -> bool:
            series = evaluate(journey, expr)
            return bool(series) and all(wanted <= set(s["metric"]) for s in series)

        try:
            wait_for(f"{title}: {target['expr']}", labelled, timeout=60)
        except pytest.fail.Exception as exc:
            missing.append(str(exc))
    assert not missing, "\n".join(missing)


def test_every_worker_pod_appears_by_name(journey: Journey) -> None:
    [(_, owned)] = [
        (t, target) for t, target in dashboard_targets() if t == "Owned partitions per worker pod"
    ]
    during = {
        s["metric"]["pod"] for s in evaluate(journey, owned["expr"], journey.three_workers_at)
    }
    assert during == {"promethean-worker-0", "promethean-worker-1", "promethean-worker-2"}
    now = {s["metric"]["pod"] for s in evaluate(journey, owned["expr"])}
    assert now == {"promethean-worker-0", "promethean-worker-1"}
    seen = journey.prometheus.query('group by (pod) (last_over_time(up{component="worker"}[30m]))')
    assert {s["metric"]["pod"] for s in seen} == during


def test_workers_scaled_one_three_two_and_drained(journey: Journey) -> None:
    assert sorted(journey.ownership) == [1, 2, 3]
    for members, line in journey.ownership.items():
        assert line.startswith(f"{members} members own all"), line
    assert journey.exit_codes == {"promethean-worker-2": 0}


def test_series_carry_component_namespace_pod_and_release(journey: Journey) -> None:
    series = journey.prometheus.query("up")
    components = {s["metric"].get("component") for s in series}
    assert components == {"broker", "gateway", "outbox-drainer", "compactor", "worker"}
    for s in series:
        labels = s["metric"]
        assert labels["namespace"] == "bus"
        assert labels["release"] == "promethean"
        assert labels["pod"].startswith(f"promethean-{labels['component']}-"), labels


def test_traffic_reached_every_path(journey: Journey) -> None:
    assert journey.traffic["acked"] == WS_PUBLISHES + HTTP_PUBLISHES
    assert journey.traffic["poison_deliveries"] >= 1
    assert journey.traffic["refused"] == 1
    assert journey.traffic["broker_errors"] == 1


def test_gateway_metrics_are_only_on_the_metrics_port(journey: Journey) -> None:
    status, _ = http_get(journey.gateway_port, "/metrics")
    assert status == 404
    status, body = http_get(journey.gateway_metrics_port, "/metrics")
    assert status == 200
    assert "promethean_gateway_connections" in str(body)


def test_helm_test_script_publishes_and_consumes_through_the_gateway(journey: Journey) -> None:
    pod = named(journey.cluster.manifests, "Pod", "promethean-test")
    container = Container(pod, pod["spec"]["containers"][0])
    env = env_for(container, journey.cluster.secrets)
    env["GATEWAY_URL"] = f"ws://127.0.0.1:{journey.gateway_port}/ws"
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "helm_test.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "published and consumed" in result.stdout


def test_topics_job_script_declares_topics_on_the_broker(journey: Journey) -> None:
    topics = [{"name": "journey.declared", "partitions": 3}]
    manifests = render({"topics": topics})
    job = named(manifests, "Job", "promethean-topics")
    env = env_for(Container(job, pod_spec(job)["containers"][0]), journey.cluster.secrets)
    env["BROKER_ADMIN_URL"] = f"http://127.0.0.1:{journey.cluster.broker_port}"
    topics_file = journey.cluster.workdir / "topics.json"
    topics_file.write_text(
        named(manifests, "ConfigMap", "promethean-scripts")["data"]["topics.json"]
    )
    env["TOPICS_FILE"] = str(topics_file)
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "create_topics.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    token = journey.cluster.secrets["promethean"]["PROMETHEAN_BROKER_TOKEN"]
    status, body = http_request(
        journey.cluster.broker_port,
        "GET",
        "/topics/journey.declared/offsets",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 200, body
    assert len(body["partitions"]) == 3


def test_wait_for_store_logs_while_the_store_is_away(journey: Journey, tmp_path: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        run_wait_for_store(
            journey.cluster, "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500", 8
        )
    output = caught.value.stdout
    text = output.decode() if isinstance(output, bytes) else str(output or "")
    assert "waiting for MongoDB (attempt 1)" in text
