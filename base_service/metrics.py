"""Prometheus metrics: what runs and requests this replica saw, and plugin state from the store.

Counters and histograms count what this replica did (sum them across replicas); the per-plugin
gauges are read from the shared database at scrape time, so every replica reports the same.
Each app has its own registry: nothing is global, so several apps can live in one process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_STATES = ("pending", "ok", "failing", "unreachable", "rate_limited", "incompatible")


class Metrics:
    """The metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "marquee_runs", "Plugin runs, by outcome.", ["plugin", "outcome"], registry=r
        )
        self.run_duration = Histogram(
            "marquee_run_duration_seconds",
            "Duration of plugin runs.",
            ["plugin"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "marquee_plugin_retries", "Retried calls to plugins.", ["plugin"], registry=r
        )
        self.events = Counter(
            "marquee_events",
            "Events per run: fetched, inserted, updated, removed, quarantined.",
            ["plugin", "change"],
            registry=r,
        )
        self.up = Gauge(
            "marquee_plugin_up", "1 if the plugin's last run succeeded.", ["plugin"], registry=r
        )
        self.state = Gauge(
            "marquee_plugin_state",
            "1 for the plugin's current state.",
            ["plugin", "state"],
            registry=r,
        )
        self.last_success = Gauge(
            "marquee_plugin_last_success_timestamp_seconds",
            "Unix time of the plugin's last successful run.",
            ["plugin"],
            registry=r,
        )
        self.failures = Gauge(
            "marquee_plugin_consecutive_failures",
            "Failed runs since the last success.",
            ["plugin"],
            registry=r,
        )
        self.requests = Counter(
            "marquee_http_requests", "API requests.", ["method", "route", "status"], registry=r
        )
        self.request_duration = Histogram(
            "marquee_http_request_duration_seconds",
            "API request latency.",
            ["method", "route"],
            registry=r,
        )

    def run_finished(
        self, plugin_id: str, outcome: str, seconds: float, retries: int, counts: Mapping[str, int]
    ) -> None:
        """Count one finished run of this replica."""
        self.runs.labels(plugin_id, outcome).inc()
        self.run_duration.labels(plugin_id).observe(seconds)
        if retries:
            self.retries.labels(plugin_id).inc(retries)
        for change, count in counts.items():
            if count:
                self.events.labels(plugin_id, change).inc(count)

    def set_plugin_states(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        """Refresh the per-plugin gauges from the stored plugin rows."""
        for plugin_id, row in rows.items():
            self.up.labels(plugin_id).set(1 if row["state"] == "ok" else 0)
            for state in _STATES:
                self.state.labels(plugin_id, state).set(1 if row["state"] == state else 0)
            success: datetime | None = row["last_success_at"]
            if success is not None:
                self.last_success.labels(plugin_id).set(success.timestamp())
            self.failures.labels(plugin_id).set(row["consecutive_failures"])

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
