"""Live safety cases: a GSN argument in YAML whose status is computed from recorded evidence.

Nodes are goals, strategies, solutions, contexts, assumptions, justifications and away goals
(GSN Community Standard v3 core and modular elements). A solution is bound to evidence: a CEL
condition over the same names as the framework (``docs/governance.md``) and a freshness limit;
an assumption to a runtime check. Status, with the reason at each node:

- a **solution** is *supported* when its condition holds on evidence no older than
  ``max_age_days``, *defeated* when it does not hold, *stale* when the evidence is older, and
  *undeveloped* when there is no evidence at all;
- an **assumption** (or a context or justification with a ``check``) is *supported* or
  *defeated* by its check, *undeveloped* when it cannot be evaluated; one without a check is
  taken as stated (*supported*);
- a **goal** or **strategy** is *undeveloped* without support; otherwise the worst of what
  supports it and of the assumptions it is in the context of (defeated > stale > undeveloped >
  supported);
- an **away goal** is *undeveloped* here: its argument lives in another module.
"""

from __future__ import annotations

import enum
import hashlib
import html
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import cel
from pydantic import BaseModel, ConfigDict, Field

from swisscheese.config import ConfigError, Issue, Loc, line_of, parse_document, read_document
from swisscheese.governance.evidence import is_known_path, paths_in, unknown_roots
from swisscheese.governance.framework import run_condition

__all__ = [
    "LoadedCase",
    "NodeStatus",
    "SafetyCaseError",
    "Status",
    "evaluate_case",
    "load_case",
    "parse_case",
    "reference_case_path",
    "render_dot",
    "render_html",
    "render_svg",
    "to_gsn2x",
]


class SafetyCaseError(ConfigError):
    """A safety case that cannot be used; each issue names file, line and key."""


NodeType = Literal[
    "goal", "strategy", "solution", "context", "assumption", "justification", "away_goal"
]


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    type: NodeType
    text: str = Field(min_length=1)
    supported_by: tuple[str, ...] = ()
    in_context_of: tuple[str, ...] = ()
    evidence: str | None = None
    """Solutions: CEL over recorded evidence that must hold."""
    max_age_days: float | None = Field(default=None, gt=0)
    """Solutions: evidence older than this is stale."""
    check: str | None = None
    """Assumptions, contexts, justifications: CEL that must hold at runtime."""
    module: str | None = None
    """Away goals: the module whose argument supports it."""
    relies_on: tuple[str, ...] = ()
    """Solutions: the monitors whose working the evidence assumes; an incident that says one
    failed defeats the solution (``incidents.failed``)."""


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    case: str = Field(min_length=1)
    description: str = ""
    nodes: tuple[Node, ...] = Field(min_length=1)


SUPPORTS: dict[str, frozenset[str]] = {
    "goal": frozenset({"goal", "strategy", "solution", "away_goal"}),
    "strategy": frozenset({"goal", "strategy", "solution", "away_goal"}),
}
CONTEXTUAL = frozenset({"context", "assumption", "justification"})


@dataclass(frozen=True)
class LoadedCase:
    case: Case
    source: str
    digest: str
    programs: dict[str, Any]
    """Compiled CEL by node id (its evidence or check)."""

    def node(self, node_id: str) -> Node:
        return next(n for n in self.case.nodes if n.id == node_id)


def _issues(case: Case, source: str, lines: dict[Loc, int]) -> tuple[list[Issue], dict[str, Any]]:
    issues: list[Issue] = []

    def issue(loc: Loc, message: str) -> None:
        issues.append(Issue(source, line_of(lines, loc), loc, message))

    by_id: dict[str, int] = {}
    for i, n in enumerate(case.nodes):
        if n.id in by_id:
            issue(("nodes", i, "id"), f"node {n.id!r} given twice (first at nodes.{by_id[n.id]})")
        by_id.setdefault(n.id, i)
    programs: dict[str, Any] = {}
    for i, n in enumerate(case.nodes):
        links = [("supported_by", j, ref) for j, ref in enumerate(n.supported_by)]
        links += [("in_context_of", j, ref) for j, ref in enumerate(n.in_context_of)]
        for key, j, ref in links:
            loc = ("nodes", i, key, j)
            if ref not in by_id:
                issue(loc, f"no node {ref!r}")
                continue
            target = case.nodes[by_id[ref]].type
            if key == "in_context_of" and target not in CONTEXTUAL:
                issue(loc, f"a {target} is not context (context, assumption, justification)")
            elif key == "supported_by" and n.type not in SUPPORTS:
                issue(loc, f"a {n.type} is supported by nothing (it is evidence or context)")
            elif key == "supported_by" and target not in SUPPORTS[n.type]:
                issue(loc, f"a {target} cannot support a {n.type}")
        if n.type == "solution" and n.evidence is None:
            issue(("nodes", i), "a solution needs 'evidence' (a CEL condition)")
        if n.type != "solution" and (
            n.evidence is not None or n.max_age_days is not None or n.relies_on
        ):
            issue(("nodes", i), "'evidence', 'max_age_days' and 'relies_on' belong to solutions")
        if n.check is not None and n.type not in CONTEXTUAL:
            issue(("nodes", i, "check"), "'check' belongs to assumptions, contexts, justifications")
        if (n.module is not None) != (n.type == "away_goal"):
            issue(("nodes", i), "an away goal, and only an away goal, names its 'module'")
        expression = n.evidence if n.evidence is not None else n.check
        if expression is None:
            continue
        key = "evidence" if n.evidence is not None else "check"
        try:
            programs[n.id] = cel.compile(expression)
        except ValueError as exc:
            issue(("nodes", i, key), f"CEL: {str(exc).splitlines()[0]}")
            continue
        for root in unknown_roots(expression, programs[n.id].variables()):
            issue(("nodes", i, key), f"unknown evidence {root!r}")
        for path in paths_in(expression):
            if not is_known_path(path):
                issue(("nodes", i, key), f"unknown evidence {path!r}")
    if not issues:
        cycle = _cycle(case)
        if cycle:
            i = by_id[cycle[0]]
            issue(("nodes", i, "supported_by"), "a cycle: " + " -> ".join(cycle))
        roots = _roots(case)
        if len(roots) != 1:
            issue(("nodes",), f"one top goal is needed, found {len(roots)}: {', '.join(roots)}")
    return issues, programs


def _cycle(case: Case) -> list[str]:
    """A support cycle as the ids along it, or []."""
    edges = {n.id: n.supported_by for n in case.nodes}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for n in case.nodes:
        if n.id not in state:
            found = visit(n.id)
            if found:
                return found
    return []


def _roots(case: Case) -> list[str]:
    referenced = {r for n in case.nodes for r in (*n.supported_by, *n.in_context_of)}
    return [n.id for n in case.nodes if n.id not in referenced and n.type == "goal"]


def parse_case(text: str, source: str = "<safety case>") -> LoadedCase:
    case, lines = parse_document(text, source, Case, what="a safety case", error=SafetyCaseError)
    issues, programs = _issues(case, source, lines)
    if issues:
        raise SafetyCaseError(issues)
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return LoadedCase(case, source, digest, programs)


def load_case(path: str | Path) -> LoadedCase:
    return parse_case(read_document(path, SafetyCaseError), str(path))


def reference_case_path() -> Path:
    ref = resources.files("swisscheese.governance").joinpath("reference/safety_case.yaml")
    return Path(str(ref))


class Status(enum.StrEnum):
    SUPPORTED = "supported"
    UNDEVELOPED = "undeveloped"
    STALE = "stale"
    DEFEATED = "defeated"


_WORST = [Status.SUPPORTED, Status.UNDEVELOPED, Status.STALE, Status.DEFEATED]


@dataclass(frozen=True, slots=True)
class NodeStatus:
    id: str
    type: str
    status: Status
    reason: str


def _age(expression: str, evidence: Mapping[str, Any]) -> float | None:
    """The age of the evidence an expression reads: the evaluation's, if it reads ``eval``."""
    if any(p.split(".")[0] == "eval" for p in paths_in(expression)):
        age = evidence.get("eval", {}).get("age_days")
        return float(age) if age is not None else None
    return 0.0


def evaluate_case(loaded: LoadedCase, evidence: Mapping[str, Any]) -> dict[str, NodeStatus]:
    """Every node's status and why, by id (the top goal's is the case's)."""
    nodes = {n.id: n for n in loaded.case.nodes}
    done: dict[str, NodeStatus] = {}

    def leaf(n: Node) -> NodeStatus:
        expression = n.evidence if n.evidence is not None else n.check
        if expression is None:
            if n.type == "away_goal":
                return NodeStatus(n.id, n.type, Status.UNDEVELOPED, f"argued in {n.module}")
            return NodeStatus(n.id, n.type, Status.SUPPORTED, "stated")
        failed = evidence.get("incidents", {}).get("failed", {})
        broken = [f"{m} (incident {', '.join(failed[m])})" for m in n.relies_on if m in failed]
        if broken:
            return NodeStatus(n.id, n.type, Status.DEFEATED, "failed: " + "; ".join(broken))
        value, why = run_condition(loaded.programs[n.id], evidence)
        if value is None:
            return NodeStatus(n.id, n.type, Status.UNDEVELOPED, why)
        if not value:
            return NodeStatus(n.id, n.type, Status.DEFEATED, f"does not hold: {expression}")
        if n.max_age_days is not None:
            age = _age(expression, evidence)
            if age is None or age > n.max_age_days:
                shown = "unknown" if age is None else f"{age:.1f}"
                limit = f"{n.max_age_days:g}"
                return NodeStatus(
                    n.id, n.type, Status.STALE, f"evidence {shown} days old > {limit}"
                )
        return NodeStatus(n.id, n.type, Status.SUPPORTED, f"holds: {expression}")

    def status(node_id: str) -> NodeStatus:
        if node_id in done:
            return done[node_id]
        n = nodes[node_id]
        if n.type not in SUPPORTS:
            result = leaf(n)
        elif not n.supported_by:
            result = NodeStatus(n.id, n.type, Status.UNDEVELOPED, "nothing supports it yet")
        else:
            below = [status(c) for c in (*n.supported_by, *n.in_context_of)]
            worst = max(below, key=lambda s: _WORST.index(s.status))
            if worst.status is Status.SUPPORTED:
                result = NodeStatus(n.id, n.type, Status.SUPPORTED, "all support holds")
            else:
                result = NodeStatus(n.id, n.type, worst.status, f"{worst.id} is {worst.status}")
        done[node_id] = result
        return result

    for n in loaded.case.nodes:
        status(n.id)
    return {n.id: done[n.id] for n in loaded.case.nodes}


def top_goal(loaded: LoadedCase) -> str:
    return _roots(loaded.case)[0]


# -- rendering ------------------------------------------------------------------------------

COLOURS = {
    Status.SUPPORTED: "#c8e6c9",
    Status.DEFEATED: "#ffcdd2",
    Status.STALE: "#ffe0b2",
    Status.UNDEVELOPED: "#e0e0e0",
}
SHAPES = {
    "goal": "box",
    "strategy": "parallelogram",
    "solution": "circle",
    "context": "box",
    "assumption": "ellipse",
    "justification": "ellipse",
    "away_goal": "tab",
}


def _dot_text(text: str, width: int = 32) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    escaped = (html.escape(x).replace("\\", "\\\\") for x in lines)
    return "<" + "<br/>".join(escaped) + ">"


def render_dot(loaded: LoadedCase, statuses: Mapping[str, NodeStatus]) -> str:
    out = [
        "digraph safety_case {",
        '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.3, ranksep=0.5];',
        '  node [fontname="Helvetica", fontsize=10, style=filled];',
    ]
    for n in loaded.case.nodes:
        s = statuses[n.id].status
        style = "filled,rounded" if n.type == "context" else "filled"
        label = _dot_text(f"{n.id} [{s.value}] {n.text}", 22 if n.type == "solution" else 32)
        tag = {"assumption": " A", "justification": " J"}.get(n.type, "")
        xlabel = f', xlabel="{tag.strip()}"' if tag else ""
        out.append(
            f'  "{n.id}" [shape={SHAPES[n.type]}, style="{style}", '
            f'fillcolor="{COLOURS[s]}", label={label}{xlabel}];'
        )
    for n in loaded.case.nodes:
        for c in n.supported_by:
            out.append(f'  "{n.id}" -> "{c}" [arrowhead=normal];')
        for c in n.in_context_of:
            out.append(f'  "{n.id}" -> "{c}" [arrowhead=empty, style=dashed];')
    out.append("}")
    return "\n".join(out) + "\n"


def render_svg(dot: str) -> str:
    """Graphviz's layout of ``dot`` as SVG (Debian's ``graphviz`` package)."""
    binary = shutil.which("dot")
    if binary is None:
        missing = "Graphviz is not installed (apt-get install graphviz)"
        raise SafetyCaseError([Issue("dot", None, (), missing)])
    done = subprocess.run(
        [binary, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise SafetyCaseError([Issue("dot", None, (), done.stderr.decode(errors="replace"))])
    return done.stdout.decode()


def render_html(loaded: LoadedCase, statuses: Mapping[str, NodeStatus], svg: str) -> str:
    top = statuses[top_goal(loaded)]
    rows = "\n".join(
        f"<tr class='{s.status.value}'><td>{html.escape(s.id)}</td><td>{s.type}</td>"
        f"<td>{s.status.value}</td><td>{html.escape(s.reason)}</td></tr>"
        for s in statuses.values()
    )
    styles = " ".join(f"tr.{k.value} td {{ background: {v}; }}" for k, v in COLOURS.items())
    body = svg[svg.find("<svg") :]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(loaded.case.case)}</title><style>"
        "body { font-family: Helvetica, sans-serif; margin: 2em; } "
        "table { border-collapse: collapse; } td, th { padding: 4px 8px; "
        f"border: 1px solid #bbb; text-align: left; }} {styles}</style></head><body>"
        f"<h1>{html.escape(loaded.case.case)}: {top.status.value}</h1>"
        f"<p>{html.escape(loaded.case.description)}</p>"
        f"<p>Case {html.escape(loaded.digest)}; top goal {html.escape(top.id)}: "
        f"{html.escape(top.reason)}</p>{body}"
        "<h2>Nodes</h2><table><tr><th>node</th><th>type</th><th>status</th><th>why</th></tr>"
        f"{rows}</table></body></html>\n"
    )


_PREFIX = {
    "goal": "G",
    "strategy": "S",
    "solution": "Sn",
    "context": "C",
    "assumption": "A",
    "justification": "J",
    "away_goal": "G",
}


def to_gsn2x(loaded: LoadedCase) -> dict[str, Any]:
    """The case in gsn2x's YAML shape: ids carry the element prefix (G, S, Sn, C, A, J)."""
    nodes = {n.id: n for n in loaded.case.nodes}

    def gid(node_id: str) -> str:
        n = nodes[node_id]
        prefix = _PREFIX[n.type]
        rest = node_id[len(prefix) :]
        wrong = n.type == "strategy" and node_id.startswith("Sn")
        if node_id.startswith(prefix) and rest[:1].isdigit() and not wrong:
            return node_id
        return f"{prefix}_{node_id}"

    out: dict[str, Any] = {}
    for n in loaded.case.nodes:
        entry: dict[str, Any] = {"text": n.text}
        if n.type == "away_goal":
            entry["text"] = f"{n.text} (argued in module {n.module})"
        if n.supported_by:
            entry["supportedBy"] = [gid(c) for c in n.supported_by]
        if n.in_context_of:
            entry["inContextOf"] = [gid(c) for c in n.in_context_of]
        if n.type in ("goal", "strategy", "away_goal") and not n.supported_by:
            entry["undeveloped"] = True
        out[gid(n.id)] = entry
    return out
