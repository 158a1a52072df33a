"""Evidence and obligations: evaluation runs and their trends, incidents with their reporting
deadlines, the safety case's computed status, and the framework gate's latest decisions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from swisscheese.common.plots import figure_svg, pyplot
from swisscheese.console._web import REPORT_CSP, SVG_CSP, Refused, render, require, state
from swisscheese.console.auth import Permission
from swisscheese.core.stamps import read_stamp
from swisscheese.evaluation.report import render_html as evaluation_html
from swisscheese.governance.gate import gather
from swisscheese.governance.incidents import deadlines, load_regimes
from swisscheese.governance.register import current as current_incidents
from swisscheese.governance.safety_case import (
    LoadedCase,
    NodeStatus,
    SafetyCaseError,
    evaluate_case,
    load_case,
    reference_case_path,
    render_dot,
    render_svg,
    top_goal,
)
from swisscheese.store import Deployment, LogStore, StoredEntry

router = APIRouter()

RUNS_SHOWN = 100


def _evaluations(log: LogStore) -> Iterator[tuple[int, dict[str, Any]]]:
    for entry in log.newest_of_type("evidence"):
        event = json.loads(entry.event)
        if event.get("kind") == "evaluation":
            yield entry.index, event


def _trends(runs: list[tuple[int, dict[str, Any]]]) -> str | None:
    """ASR@k, benign FPR and p50 latency across runs, oldest to newest."""
    if len(runs) < 2:
        return None
    ordered = list(reversed(runs))
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.6))
    x = [read_stamp(e["time"]) for _, e in ordered]
    for ax, (key, title, scale) in zip(
        axes,
        (
            ("asr_at_k", "attack success within k (%)", 100.0),
            ("benign_fpr", "benign refused (%)", 100.0),
            ("latency_p50_ms", "stack latency p50 (ms)", 1.0),
        ),
        strict=True,
    ):
        values = [
            float(e[key]) * scale if isinstance(e.get(key), int | float) else float("nan")
            for _, e in ordered
        ]
        ax.plot(x, values, marker="o", color="#1f5fa8")
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=30)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_svg(fig)


def _recent_runs(request: Request) -> list[tuple[int, dict[str, Any]]]:
    runs = []
    for run in _evaluations(state(request).log):
        runs.append(run)
        if len(runs) == RUNS_SHOWN:
            break
    return runs


def svg_response(svg: str) -> Response:
    """A figure as an image of its own: its inline styles then need no exception in the
    pages' policy."""
    return Response(svg, media_type="image/svg+xml", headers={"Content-Security-Policy": SVG_CSP})


@router.get("/evaluations", name="evaluations")
def evaluations(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    runs = _recent_runs(request)
    return render(request, "evaluations.html", current, runs=runs, trends=len(runs) >= 2)


@router.get("/evaluations/trends.svg")
def evaluation_trends(request: Request) -> Response:
    require(request, Permission.VIEW)
    svg = _trends(_recent_runs(request))
    if svg is None:
        raise Refused(404, "trends need two evaluations")
    return svg_response(svg)


def _evaluation_entry(request: Request, index: int) -> StoredEntry:
    entry = state(request).log.entry(index)
    if entry is None or entry.type != "evidence":
        raise Refused(404, f"no evaluation at record {index}")
    return entry


@router.get("/evaluations/{index}", name="evaluation")
def evaluation(request: Request, index: int) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    _evaluation_entry(request, index)
    return render(request, "evaluation.html", current, index=index)


@router.get("/evaluations/{index}/report", name="evaluation_report")
def evaluation_report(request: Request, index: int) -> Response:
    """The run's report.html, rebuilt from the results the log keeps as its payload."""
    require(request, Permission.VIEW)
    entry = _evaluation_entry(request, index)
    data = state(request).log.payload(entry.payload_digest) if entry.payload_digest else None
    if data is None:
        raise Refused(410, f"the results of record {index} were erased")
    return HTMLResponse(
        evaluation_html(json.loads(data)), headers={"Content-Security-Policy": REPORT_CSP}
    )


@router.get("/incidents", name="incidents")
def incidents(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    st = state(request)
    found = current_incidents(st.log)
    full = [incident for _, _, incident in found.values() if incident is not None]
    due = deadlines(full, load_regimes(st.settings.regimes))
    now = dt.datetime.now(dt.UTC)
    return render(
        request,
        "incidents.html",
        current,
        incidents=[(index, event) for index, event, _ in found.values()],
        due=[(d, (d.due - now).total_seconds()) for d in due],
    )


def _deployment(request: Request) -> tuple[Deployment | None, list[Deployment]]:
    """The deployment the page asks for (default: the first), and all of them."""
    deployments = state(request).ops.store.deployments()
    chosen = request.query_params.get("deployment")
    if chosen:
        found = [d for d in deployments if d.name == chosen]
        if not found:
            raise Refused(404, f"no deployment {chosen!r}")
        return found[0], deployments
    return (deployments[0] if deployments else None), deployments


@router.get("/case", name="case")
def case(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    deployment, deployments = _deployment(request)
    loaded = _case(request)
    statuses, top = None, None
    if deployment is not None:
        statuses = _statuses(request, loaded, deployment)
        top = statuses[top_goal(loaded)]
    return render(
        request,
        "case.html",
        current,
        case=loaded.case,
        deployment=deployment,
        deployments=deployments,
        statuses=list(statuses.values()) if statuses else [],
        top=top,
    )


def _statuses(
    request: Request, loaded: LoadedCase, deployment: Deployment
) -> dict[str, NodeStatus]:
    gathered = gather(state(request).log, deployment, dt.datetime.now(dt.UTC))
    return evaluate_case(loaded, gathered.evidence)


def _case(request: Request) -> LoadedCase:
    try:
        return load_case(state(request).settings.case or reference_case_path())
    except SafetyCaseError as exc:
        raise Refused(500, f"the safety case cannot be read: {exc}") from None


@router.get("/case.svg")
def case_graph(request: Request) -> Response:
    require(request, Permission.VIEW)
    deployment, _ = _deployment(request)
    if deployment is None:
        raise Refused(404, "no deployment to compute the case for")
    loaded = _case(request)
    try:
        return svg_response(render_svg(render_dot(loaded, _statuses(request, loaded, deployment))))
    except SafetyCaseError as exc:  # no Graphviz: the page's table still gives every status
        raise Refused(503, str(exc)) from None


@router.get("/gate", name="gate")
def gate(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    log = state(request).log
    known = len(state(request).ops.store.deployments())
    latest: dict[str, tuple[int, dict[str, Any], Any]] = {}
    for entry in log.newest_of_type("framework_decision"):
        event = json.loads(entry.event)
        name = str(event.get("deployment"))
        if name in latest:
            continue
        data = log.payload(entry.payload_digest) if entry.payload_digest else None
        latest[name] = (entry.index, event, json.loads(data) if data else None)
        if len(latest) >= known:
            break
    return render(request, "gate.html", current, decisions=sorted(latest.items()))
