"""What the gateway's /metrics counts from a verdict."""

from __future__ import annotations

from swisscheese.core import Action, Finding, MonitorRun, RunStatus, Stage, Verdict
from swisscheese.gateway._metrics import Metrics


def _verdict(*findings: Finding) -> Verdict:
    runs = tuple(MonitorRun(f.monitor, RunStatus.OK, 1.0) for f in findings)
    return Verdict(Action.ALLOW, Stage.INPUT, "input", findings, (), runs, "p", "c")


def test_decisions_taken_without_a_late_member_are_counted_per_member() -> None:
    # An operator watching a busy gateway must see how much traffic the full ensemble missed.
    metrics = Metrics()
    degraded = Finding(
        "injection",
        "injection",
        0.02,
        detail={"tier": "ensemble", "degraded": {"embedding": "no answer within 250 ms"}},
    )
    whole = Finding("injection", "injection", 0.9, detail={"tier": "ensemble"})
    for finding in (degraded, degraded, whole):
        metrics.observe(_verdict(finding), Stage.INPUT, 0.01)
    text = metrics.render()[0].decode()
    assert (
        'swisscheese_degraded_decisions_total{member="embedding",monitor="injection"} 2.0' in text
    )
    assert 'swisscheese_findings_total{category="injection",monitor="injection"} 3.0' in text
