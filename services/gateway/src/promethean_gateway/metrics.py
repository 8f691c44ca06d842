"""The gateway's Prometheus metrics (``promethean_gateway_*``), built on an
explicit registry so tests read a fresh one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.connections = Gauge(
            "promethean_gateway_connections", "Open client WebSocket connections", registry=registry
        )
        self.connections_refused = Counter(
            "promethean_gateway_connections_refused",
            "Connections refused at the connection limit",
            registry=registry,
        )
        self.auth_failures = Counter(
            "promethean_gateway_auth_failures",
            "Refused AUTH frames and HTTP tokens, by reason",
            ["reason"],
            registry=registry,
        )
        self.frames = Counter(
            "promethean_gateway_frames",
            "Client frames received, by op (`invalid` when they did not parse)",
            ["op"],
            registry=registry,
        )
        self.errors = Counter(
            "promethean_gateway_errors",
            "ERR frames and HTTP errors sent, by code",
            ["code"],
            registry=registry,
        )
        self.events = Counter(
            "promethean_gateway_events_delivered",
            "EVENT frames handed to clients",
            registry=registry,
        )
        self.slow_consumers = Counter(
            "promethean_gateway_slow_consumer_disconnects",
            "Clients disconnected because their send buffer was full",
            registry=registry,
        )
        self.relay_latency = Histogram(
            "promethean_gateway_relay_latency_seconds",
            "From a client's PUBLISH to the broker's PUBLISHED, by transport",
            ["transport"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.pending_publishes = Gauge(
            "promethean_gateway_pending_publishes",
            "Publishes relayed to the broker and not yet answered",
            registry=registry,
        )
        self.broker_links = Gauge(
            "promethean_gateway_broker_links",
            "Broker connections held for subscribing clients",
            registry=registry,
        )
