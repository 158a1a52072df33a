"""The evidence a framework's conditions read: named figures from the flight recorder.

Conditions are CEL expressions over one map with four roots:

- ``eval``: the latest ``swisscheese eval`` run recorded for the deployment's policy digest
  (falling back to the latest run of any policy, with ``eval.policy_matches`` false). Every
  estimate is its point value (``eval.asr.at_k``, not ``{value, ci95}``); the interval is
  kept under ``eval.ci`` with the same path (``eval.ci.asr.at_k`` is ``[lo, hi]``).
- ``incidents``: the deployment's incident register: ``open`` and ``open_serious`` counts,
  and ``failed``, a map from each monitor an incident says failed to those incidents' ids. A
  failed mitigation stays there until its incident is mitigated or closed *and* an evaluation
  newer than that revision is recorded (new passing evidence, not only a human's word).
- ``production``: the deployment's live traffic over the last ``PRODUCTION_DAYS`` days, from
  the hourly verdict counts the log keeps: requests (input-stage verdicts), the share of them
  refused (blocked, escalated or halted at the input), the share of all verdicts with any
  intervention, and counts by action.
- ``deployment``: the deployment's recorded state.

Names a condition uses are checked against ``CATALOGUE`` when the framework loads, so a typo
is an error with its line, not a condition that silently never fires. Evidence that exists in
the catalogue but not in the store (no evaluation yet) makes a condition *unknown*, which the
gate treats as crossed: missing evidence is not evidence of safety.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from swisscheese.core.stamps import read_stamp

__all__ = [
    "CATALOGUE",
    "EvidenceSnapshot",
    "evaluation_evidence",
    "incident_evidence",
    "is_known_path",
    "paths_in",
    "production_evidence",
    "unknown_roots",
]

_RATES = ("tpr", "fpr", "roc_auc", "recall_at_1pct_fpr", "recall_at_0_1pct_fpr")
CATALOGUE: tuple[str, ...] = (
    "eval.present",
    "eval.age_days",
    "eval.created",
    "eval.policy",
    "eval.policy_matches",
    "eval.record",
    "eval.target",
    "eval.judge",
    "eval.counts.attacks",
    "eval.counts.attack_prompts",
    "eval.counts.benign",
    "eval.asr.k",
    "eval.asr.goals",
    "eval.asr.at_1",
    "eval.asr.at_k",
    "eval.asr.mean_attempts_to_success",
    *(f"eval.asr.by_{g}.*.{f}" for g in ("category", "source") for f in ("goals", "at_1", "at_k")),
    *(f"eval.stack.{r}" for r in _RATES),
    *(f"eval.layers.*.{r}" for r in _RATES),
    "eval.layers.*.monitor",
    "eval.layers.*.stage",
    "eval.layers.*.action",
    "eval.layers.*.barrier",
    "eval.swiss_cheese.observed_miss",
    "eval.swiss_cheese.independent_miss",
    "eval.swiss_cheese.ratio",
    "eval.latency.p50_ms",
    "eval.latency.p99_ms",
    "eval.benign.fpr",
    "eval.benign.refused",
    "eval.benign.fpr_by_category.*.fpr",
    "eval.benign.fpr_by_category.*.items",
    "eval.ci.*",
    "incidents.open",
    "incidents.open_serious",
    "incidents.failed",
    "incidents.failed.*",
    "production.window_days",
    "production.requests",
    "production.verdicts",
    "production.refusal_rate",
    "production.intervention_rate",
    "production.by_action.*",
    "deployment.name",
    "deployment.halted",
    "deployment.policy",
    "deployment.model",
)


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """``path`` is the pattern, a prefix of it, or (``eval.ci.*``) anything under it."""
    if pattern[-1] == "*" and len(path) >= len(pattern):
        path = path[: len(pattern)]
    if len(path) > len(pattern):
        return False
    return all(p == q or q == "*" for p, q in zip(path, pattern, strict=False))


_PATTERNS = tuple(tuple(p.split(".")) for p in CATALOGUE)
_ROOTS = frozenset(p[0] for p in _PATTERNS)


def is_known_path(path: str) -> bool:
    parts = tuple(path.split("."))
    return any(_matches(parts, pattern) for pattern in _PATTERNS)


_STRING = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"")
_PATH = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(\s*\()?")


_BOUND = re.compile(r"\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")


def unknown_roots(expression: str, variables: Iterable[str]) -> list[str]:
    """Variables of an expression that are neither evidence roots nor bound by a macro
    (``eval.layers.exists(n, ...)`` binds ``n``)."""
    bound = set(_BOUND.findall(_STRING.sub('""', expression)))
    return [v for v in variables if v not in _ROOTS and v not in bound]


def paths_in(expression: str) -> list[str]:
    """The evidence names an expression reads: dotted identifiers that start at a root, without
    a trailing method call (``eval.layers.exists(...)`` reads ``eval.layers``)."""
    text = _STRING.sub('""', expression)
    out: list[str] = []
    for match in _PATH.finditer(text):
        dotted, call = match.group(1), match.group(2)
        parts = dotted.split(".")
        if call:
            parts = parts[:-1]
        if parts and parts[0] in _ROOTS:
            out.append(".".join(parts))
    return out


def _split_estimates(value: Any, path: tuple[str, ...], ci: dict[str, Any]) -> Any:
    """``{"value": v, "ci95": [lo, hi]}`` becomes ``v``; the interval goes to ``ci`` by path."""
    if isinstance(value, Mapping):
        if set(value) == {"value", "ci95"}:
            node = ci
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = list(value["ci95"])
            return value["value"]
        return {str(k): _split_estimates(v, (*path, str(k)), ci) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class EvidenceSnapshot:
    """What the conditions see, and where it came from."""

    values: dict[str, Any]
    evaluation_record: int | None
    """The log index of the evaluation evidence used, if any."""


def evaluation_evidence(
    results: Mapping[str, Any] | None,
    *,
    record: int | None,
    deployed_policy: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The ``eval`` root from one evaluation's results document (``None``: no evaluation)."""
    if results is None:
        return {"present": False}
    ci: dict[str, Any] = {}
    plain = _split_estimates(dict(results), (), ci)
    created = read_stamp(results["created"])
    policy = results.get("config", {}).get("policy_digest")
    asr = plain["asr"]
    latency = plain["latency_ms"]["stack"]
    benign = plain["benign"]
    return {
        "present": True,
        "age_days": round((now - created).total_seconds() / 86400, 4),
        "created": created.isoformat(),
        "policy": policy,
        "policy_matches": deployed_policy is not None and policy == deployed_policy,
        "record": record,
        "target": plain.get("target"),
        "judge": plain.get("judge"),
        "counts": plain["counts"],
        "asr": {
            key: asr.get(key) for key in ("k", "goals", "at_1", "at_k", "mean_attempts_to_success")
        }
        | {"by_category": asr.get("by_category", {}), "by_source": asr.get("by_source", {})},
        "stack": plain["stack"],
        "layers": plain["layers"],
        "swiss_cheese": {
            k: plain["swiss_cheese"].get(k) for k in ("observed_miss", "independent_miss", "ratio")
        },
        "latency": {"p50_ms": latency.get("p50"), "p99_ms": latency.get("p99")},
        "benign": {
            "fpr": plain["stack"]["fpr"],
            "refused": len(benign.get("refused", [])),
            "fpr_by_category": benign.get("fpr_by_category", {}),
        },
        "ci": ci,
    }


def incident_evidence(
    incidents: Iterable[tuple[int, Any]], deployment: str, evaluated_at: int | None
) -> dict[str, Any]:
    """The ``incidents`` root from ``(revision log index, Incident)`` pairs (current revisions)."""
    open_count = serious = 0
    failed: dict[str, list[str]] = {}
    for index, incident in incidents:
        if incident.system.deployment != deployment:
            continue
        if incident.status == "open":
            open_count += 1
            serious += incident.severity.value != "minor"
        cleared = incident.status != "open" and evaluated_at is not None and evaluated_at > index
        if not cleared:
            for monitor in incident.failed_mitigations:
                failed.setdefault(monitor, []).append(incident.id)
    return {"open": open_count, "open_serious": serious, "failed": failed}


PRODUCTION_DAYS = 7


def production_evidence(counts: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """The ``production`` root from verdict counts by (stage, action) over the window; rates
    are missing (unknown to a condition) when there was no traffic to rate."""
    by_action: dict[str, int] = {}
    for (_, action), n in counts.items():
        by_action[action] = by_action.get(action, 0) + n
    requests = sum(n for (stage, _), n in counts.items() if stage == "input")
    refused = sum(
        n
        for (stage, action), n in counts.items()
        if stage == "input" and action in ("escalate", "block", "halt")
    )
    verdicts = sum(by_action.values())
    out: dict[str, Any] = {
        "window_days": PRODUCTION_DAYS,
        "requests": requests,
        "verdicts": verdicts,
        "by_action": by_action,
    }
    if requests:
        out["refusal_rate"] = refused / requests
    if verdicts:
        out["intervention_rate"] = (verdicts - by_action.get("allow", 0)) / verdicts
    return out


def unknown_paths(expressions: Iterable[str]) -> list[str]:
    return [p for e in expressions for p in paths_in(e) if not is_known_path(p)]
