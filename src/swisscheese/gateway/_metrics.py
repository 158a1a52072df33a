"""Prometheus metrics of one gateway (its own registry, so several apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from swisscheese.core import Stage, Verdict, left_out

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "swisscheese_requests", "Chat requests by outcome", ["outcome"], registry=r
        )
        self.verdicts = Counter(
            "swisscheese_verdicts", "Verdicts by stage and action", ["stage", "action"], registry=r
        )
        self.findings = Counter(
            "swisscheese_findings",
            "Findings by monitor and category",
            ["monitor", "category"],
            registry=r,
        )
        self.monitor_failures = Counter(
            "swisscheese_monitor_failures",
            "Monitor runs that errored or timed out",
            ["monitor", "status"],
            registry=r,
        )
        self.degraded = Counter(
            "swisscheese_degraded_decisions",
            "Ensemble decisions taken without a member that was late (member_timeout_ms)",
            ["monitor", "member"],
            registry=r,
        )
        self.layer_latency = Histogram(
            "swisscheese_layer_latency_seconds",
            "Screening time per stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "swisscheese_upstream_latency_seconds", "Upstream model latency", registry=r
        )
        self.errors = Counter(
            "swisscheese_errors", "Error responses by status", ["kind"], registry=r
        )

    def observe(self, verdict: Verdict, stage: Stage, seconds: float) -> None:
        self.verdicts.labels(stage=stage.value, action=verdict.action.value).inc()
        self.layer_latency.labels(stage=stage.value).observe(seconds)
        for finding in verdict.findings:
            self.findings.labels(monitor=finding.monitor, category=finding.category).inc()
            for member in left_out(finding.detail):
                self.degraded.labels(monitor=finding.monitor, member=member).inc()
        for run in verdict.runs:
            if run.status.value != "ok":
                self.monitor_failures.labels(monitor=run.monitor, status=run.status.value).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
