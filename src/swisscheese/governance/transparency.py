"""Transparency reports: what a deployment did over a period, from the flight recorder, signed.

Figures: requests (input-stage verdicts), interventions by action, by layer and by finding
category (from the verdicts' payloads; an erased payload counts as ``unknown``); the latest
evaluation recorded by the end of the period (benign refusal rate, stack recall at 1% FPR,
attack success, each with its 95% interval); incidents (state at the end of the period, and
their reporting deadlines); framework decisions, safety-case results, halts and resumes in the
period. The JSON is the report; the HTML shows it with plots; a note signed by the log key
covers the JSON's SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swisscheese.common.plots import figure_svg, pyplot
from swisscheese.governance.audit import first_index_since
from swisscheese.governance.incidents import Incident, Regimes, deadlines
from swisscheese.governance.register import revisions
from swisscheese.recorder import Recorder

__all__ = ["Period", "build_report", "parse_period", "render_html", "signed_note"]

SIGNED_PREFIX = "swisscheese transparency report\n"


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: dt.datetime
    end: dt.datetime
    """Exclusive."""


def parse_period(text: str) -> Period:
    """``2026-Q4``, ``2026-11``, ``2026`` or ``START..END`` (ISO dates or times with zones),
    in UTC."""
    utc = dt.UTC
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
        year, q = int(m[1]), int(m[2])
        start = dt.datetime(year, 3 * q - 2, 1, tzinfo=utc)
        end = dt.datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=utc)
    elif m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: no month {month}")
        start = dt.datetime(year, month, 1, tzinfo=utc)
        end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=utc)
    elif re.fullmatch(r"\d{4}", text):
        start = dt.datetime(int(text), 1, 1, tzinfo=utc)
        end = dt.datetime(int(text) + 1, 1, 1, tzinfo=utc)
    elif ".." in text:
        a, b = text.split("..", 1)
        start, end = _moment(a), _moment(b)
    else:
        raise ValueError(f"{text!r}: give YYYY-Qn, YYYY-MM, YYYY or START..END")
    if end <= start:
        raise ValueError(f"{text!r}: the period ends before it starts")
    return Period(text, start, end)


def _moment(text: str) -> dt.datetime:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r}: give a time zone")
    return moment


def _estimate(results: Mapping[str, Any], *path: str) -> dict[str, Any] | None:
    node: Any = results
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return dict(node) if isinstance(node, Mapping) else None


def build_report(
    recorder: Recorder, period: Period, deployment: str | None, regimes: Regimes
) -> dict[str, Any]:
    log = recorder.store
    first = first_index_since(recorder, period.start)
    end = first_index_since(recorder, period.end)
    by_action: Counter[str] = Counter()
    by_layer: dict[str, Counter[str]] = defaultdict(Counter)
    by_category: Counter[str] = Counter()
    per_day: Counter[str] = Counter()
    requests = verdicts = 0
    decisions: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    operations: list[dict[str, Any]] = []

    def ours(event: Mapping[str, Any]) -> bool:
        return deployment is None or event.get("deployment") == deployment

    for entry in log.entries(first, end):
        event = json.loads(entry.event)
        kind = event.get("type")
        if not ours(event):
            continue
        if kind == "verdict":
            verdicts += 1
            requests += event["stage"] == "input"
            per_day[str(event["time"])[:10]] += event["stage"] == "input"
            action = event["action"]
            by_action[action] += 1
            by_layer[event.get("layer") or event["stage"]][action] += 1
            if action != "allow":
                data = log.payload(entry.payload_digest) if entry.payload_digest else None
                found = json.loads(data).get("verdict", {}).get("findings", []) if data else None
                if found is None:
                    by_category["unknown (payload erased)"] += 1
                for category in sorted({f.get("category", "?") for f in found or []}):
                    by_category[category] += 1
        elif kind == "framework_decision":
            decisions.append({k: event.get(k) for k in ("time", "framework", "decision", "by")})
        elif kind == "safety_case":
            cases.append({k: event.get(k) for k in ("time", "case", "status", "by")})
        elif kind in ("halt", "resume"):
            operations.append({k: event.get(k) for k in ("time", "type", "reason", "by")})
    evaluation = None
    for entry in log.newest_of_type("evidence", end):
        if entry.payload_digest:
            data = log.payload(entry.payload_digest)
            if data is None:
                continue
            results = json.loads(data)
            evaluation = {
                "record": entry.index,
                "created": results.get("created"),
                "policy": results.get("config", {}).get("policy_digest"),
                "benign_refusal_rate": _estimate(results, "stack", "fpr"),
                "stack_recall_at_1pct_fpr": _estimate(results, "stack", "recall_at_1pct_fpr"),
                "attack_success_at_1": _estimate(results, "asr", "at_1"),
                "attack_success_at_k": _estimate(results, "asr", "at_k"),
                "k": results.get("asr", {}).get("k"),
            }
            break
    # Each incident as its newest revision before the period's end whose record remains.
    incidents: dict[str, Incident] = {}
    for _, _, incident in revisions(log, end):
        if incident is not None and (
            deployment is None or incident.system.deployment == deployment
        ):
            incidents.setdefault(incident.id, incident)
    in_period = {
        i: inc
        for i, inc in incidents.items()
        if inc.aware_at < period.end and (inc.status != "closed" or inc.aware_at >= period.start)
    }
    due = deadlines(in_period.values(), regimes)
    return {
        "format": "swisscheese.transparency/1",
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "deployment": deployment or "all",
        "log": {"first": first, "end": end},
        "requests": requests,
        "verdicts": verdicts,
        "interventions": {
            "by_action": dict(sorted(by_action.items())),
            "by_layer": {k: dict(sorted(v.items())) for k, v in sorted(by_layer.items())},
            "by_category": dict(by_category.most_common()),
        },
        "requests_per_day": dict(sorted(per_day.items())),
        "evaluation": evaluation,
        "incidents": [
            {
                "id": inc.id,
                "title": inc.title,
                "severity": inc.severity.value,
                "status": inc.status,
                "aware_at": inc.aware_at.isoformat(),
                "reported": {k: v.isoformat() for k, v in inc.reported.items()},
                "due": [
                    {"regime": d.regime, "due": d.due.isoformat()}
                    for d in due
                    if d.incident == inc.id
                ],
            }
            for inc in in_period.values()
        ],
        "framework_decisions": decisions,
        "safety_cases": cases,
        "halts_and_resumes": operations,
        "generated": dt.datetime.now(dt.UTC).isoformat(),
    }


def signed_note(recorder: Recorder, body: bytes) -> str:
    if recorder.signer is None:
        raise ValueError("a transparency report is signed with the log key: none is loaded")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    return recorder.signer.sign(SIGNED_PREFIX + digest + "\n")


def _pct(estimate: Mapping[str, Any] | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "not measured"
    lo, hi = estimate.get("ci95") or (None, None)
    interval = f" [{lo:.1%}, {hi:.1%}]" if lo is not None and hi is not None else ""
    return f"{estimate['value']:.1%}{interval}"


def _bar(counts: Mapping[str, int], title: str) -> str:
    if not counts:
        return "<p>none</p>"
    plt = pyplot()
    names = list(counts)[:15]
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(names) + 1.0))
    ax.barh(names[::-1], [counts[n] for n in names][::-1], color="#b23b3b")
    ax.set_title(title)
    return figure_svg(fig)


def _line(per_day: Mapping[str, int]) -> str:
    if not per_day:
        return "<p>no requests</p>"
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 2.2))
    days = list(per_day)
    ax.plot(range(len(days)), [per_day[d] for d in days], color="#2b5d8a")
    ticks = list(range(0, len(days), max(1, len(days) // 6)))
    ax.set_xticks(ticks, [days[i] for i in ticks], rotation=30, ha="right")
    ax.set_title("requests per day")
    return figure_svg(fig)


def render_html(report: Mapping[str, Any]) -> str:
    e = html.escape
    ev = report["evaluation"] or {}
    interventions = report["interventions"]
    stopped = {k: v for k, v in interventions["by_action"].items() if k != "allow"}
    rows = "".join(
        f"<tr><td>{e(i['id'])}</td><td>{e(i['title'])}</td><td>{i['severity']}</td>"
        f"<td>{i['status']}</td><td>{e(i['aware_at'])}</td>"
        f"<td>{e(', '.join(d['regime'] + ' ' + d['due'] for d in i['due']) or '-')}</td>"
        f"<td>{e(', '.join(i['reported']) or '-')}</td></tr>"
        for i in report["incidents"]
    )
    decisions = "".join(
        f"<li>{e(str(d['time']))}: {e(str(d['framework']))} {e(str(d['decision']))}</li>"
        for d in report["framework_decisions"]
    )
    cases = "".join(
        f"<li>{e(str(c['time']))}: {e(str(c['case']))} {e(str(c['status']))}</li>"
        for c in report["safety_cases"]
    )
    ops = "".join(
        f"<li>{e(str(o['time']))}: {e(str(o['type']))} by {e(str(o['by']))}: "
        f"{e(str(o['reason']))}</li>"
        for o in report["halts_and_resumes"]
    )
    period = report["period"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Transparency report {e(period['label'])}</title><style>"
        "body{font-family:Helvetica,sans-serif;margin:2em;max-width:60em}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 6px}</style>"
        f"</head><body><h1>Transparency report {e(period['label'])}: "
        f"{e(report['deployment'])}</h1>"
        f"<p>{e(period['start'])} to {e(period['end'])}; log entries {report['log']['first']}"
        f" to {report['log']['end'] - 1}; generated {e(report['generated'])}.</p>"
        f"<h2>Traffic</h2><p>{report['requests']} requests, {report['verdicts']} verdicts, "
        f"{sum(stopped.values())} interventions.</p>"
        f"{_line(report['requests_per_day'])}"
        f"{_bar(stopped, 'interventions by action')}"
        f"{_bar(interventions['by_category'], 'interventions by finding category')}"
        "<h2>Measured safeguards</h2>"
        + (
            f"<p>Latest evaluation (log entry {ev['record']}, {e(str(ev['created']))}): "
            f"benign requests refused {_pct(ev['benign_refusal_rate'])}; stack recall at 1% "
            f"false positives {_pct(ev['stack_recall_at_1pct_fpr'])}; attack success "
            f"{_pct(ev['attack_success_at_1'])} at the first attempt, "
            f"{_pct(ev['attack_success_at_k'])} within {ev['k']} (95% intervals).</p>"
            if ev
            else "<p>No evaluation recorded by the end of the period.</p>"
        )
        + "<h2>Incidents</h2>"
        + (
            "<table><tr><th>id</th><th>title</th><th>severity</th><th>status</th>"
            f"<th>aware</th><th>due</th><th>reported</th></tr>{rows}</table>"
            if rows
            else "<p>none</p>"
        )
        + f"<h2>Framework decisions</h2><ul>{decisions or '<li>none</li>'}</ul>"
        f"<h2>Safety cases</h2><ul>{cases or '<li>none</li>'}</ul>"
        f"<h2>Halts and resumes</h2><ul>{ops or '<li>none</li>'}</ul>"
        "</body></html>\n"
    )
