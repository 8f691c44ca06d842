"""The gateway's Prometheus metrics (``promethean_gateway_*``), built on an
explicit registry so tests read a fresh one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from promethean.runtime.metrics import LATENCY_BUCKETS, MetricSet


class GatewayMetrics(MetricSet):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.connections = self.gauge(
            "promethean_gateway_connections", "Open client WebSocket connections"
        )
        self.connections_refused = self.counter(
            "promethean_gateway_connections_refused", "Connections refused at the connection limit"
        )
        self.auth_failures = self.counter(
            "promethean_gateway_auth_failures",
            "Refused AUTH frames and HTTP tokens, by reason",
            ["reason"],
        )
        self.frames = self.counter(
            "promethean_gateway_frames",
            "Client frames received, by op (`invalid` when they did not parse)",
            ["op"],
        )
        self.errors = self.counter(
            "promethean_gateway_errors", "ERR frames and HTTP errors sent, by code", ["code"]
        )
        self.events = self.counter(
            "promethean_gateway_events_delivered", "EVENT frames handed to clients"
        )
        self.slow_consumers = self.counter(
            "promethean_gateway_slow_consumer_disconnects",
            "Clients disconnected because their send buffer was full",
        )
        self.relay_latency = self.histogram(
            "promethean_gateway_relay_latency_seconds",
            "From a client's PUBLISH to the broker's PUBLISHED, by transport",
            ["transport"],
            buckets=LATENCY_BUCKETS,
        )
        self.pending_publishes = self.gauge(
            "promethean_gateway_pending_publishes",
            "Publishes relayed to the broker and not yet answered",
        )
        self.broker_links = self.gauge(
            "promethean_gateway_broker_links", "Broker connections held for subscribing clients"
        )
