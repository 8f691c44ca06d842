"""The local stack ``promethean dev`` runs: one row per service.

Each row names the service, the command that starts it (always this Python,
``-m <package>``, so the workspace's environment is used) and where it
listens, computed from the same environment the child receives. Later
services (gateway, partitioned-worker, outbox-drainer, compactor) join by
adding a row to :data:`STACK`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from promethean.outbox.defaults import DEFAULT_DRAINER_PORT, DRAINER_PORT_VAR
from promethean.settings import DEFAULT_BUS_PORT, DEFAULT_HOST, DEFAULT_WS_PORT, EnvReader

COMPACTOR_PORT_VAR = "PROMETHEAN_COMPACTOR_PORT"
DEFAULT_COMPACTOR_PORT = 7073
"""Mirrors ``promethean_compactor.settings`` (the library cannot import a service)."""

Endpoints = Callable[[Mapping[str, str]], tuple[str, ...]]

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    command: tuple[str, ...]
    endpoints: Endpoints
    stops_last: bool = False
    """Stopped only after every other service exited (the broker they all use)."""


def python_module(module: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module)


def reachable_host(environ: Mapping[str, str]) -> str:
    """The host a person on this machine would connect to (URL-ready)."""
    host = EnvReader(environ).host("PROMETHEAN_HOST", DEFAULT_HOST)
    if host in WILDCARD_HOSTS:
        return LOOPBACK
    return f"[{host}]" if ":" in host else host


def broker_endpoints(environ: Mapping[str, str]) -> tuple[str, ...]:
    host = reachable_host(environ)
    port = EnvReader(environ).port("BUS_PORT", DEFAULT_BUS_PORT)
    return (f"ws://{host}:{port}/ws", f"http://{host}:{port}/metrics")


def outbox_drainer_endpoints(environ: Mapping[str, str]) -> tuple[str, ...]:
    host = reachable_host(environ)
    port = EnvReader(environ).port(DRAINER_PORT_VAR, DEFAULT_DRAINER_PORT)
    return (f"http://{host}:{port}/metrics",)


def compactor_endpoints(environ: Mapping[str, str]) -> tuple[str, ...]:
    host = reachable_host(environ)
    port = EnvReader(environ).port(COMPACTOR_PORT_VAR, DEFAULT_COMPACTOR_PORT)
    return (f"http://{host}:{port}/metrics",)


def gateway_endpoints(environ: Mapping[str, str]) -> tuple[str, ...]:
    host = reachable_host(environ)
    port = EnvReader(environ).port("WS_PORT", DEFAULT_WS_PORT)
    return (f"ws://{host}:{port}/ws", f"http://{host}:{port}/publish/{{topic}}")


WORKER_PORT_VAR = "PROMETHEAN_WORKER_PORT"
DEFAULT_WORKER_PORT = 8092


def worker_endpoints(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The partitioned worker (by default running the heartbeat projector)."""
    host = reachable_host(environ)
    port = EnvReader(environ).port(WORKER_PORT_VAR, DEFAULT_WORKER_PORT)
    return (f"http://{host}:{port}/metrics", f"http://{host}:{port}/assignment")


STACK: tuple[ServiceSpec, ...] = (
    ServiceSpec("broker", python_module("promethean_broker"), broker_endpoints, stops_last=True),
    ServiceSpec("gateway", python_module("promethean_gateway"), gateway_endpoints),
    ServiceSpec(
        "outbox-drainer", python_module("promethean_outbox_drainer"), outbox_drainer_endpoints
    ),
    ServiceSpec("compactor", python_module("promethean_compactor"), compactor_endpoints),
    ServiceSpec("worker", python_module("promethean_worker"), worker_endpoints),
)


def listen_lines(specs: Sequence[ServiceSpec], environ: Mapping[str, str]) -> list[str]:
    """One aligned line per service: ``broker  ws://127.0.0.1:7070/ws  http://...``."""
    width = max((len(spec.name) for spec in specs), default=0) + 2
    return [f"{spec.name:<{width}}" + "  ".join(spec.endpoints(environ)) for spec in specs]
