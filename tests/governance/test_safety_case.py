"""Live safety cases: GSN as data, status computed and propagated from evidence with the reason
at each node, rendered with Graphviz, exported for gsn2x; bad cases are clear errors."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml

from swisscheese.governance.safety_case import (
    SafetyCaseError,
    Status,
    evaluate_case,
    load_case,
    parse_case,
    reference_case_path,
    render_dot,
    render_html,
    render_svg,
    to_gsn2x,
)

CASE = """
version: 1
case: test
nodes:
  - {id: G1, type: goal, text: Safe, supported_by: [S1], in_context_of: [A1, C1]}
  - {id: C1, type: context, text: Chat only}
  - {id: A1, type: assumption, text: Few refusals, check: eval.benign.fpr < 0.02}
  - {id: S1, type: strategy, text: Per hazard, supported_by: [G2, G3]}
  - {id: G2, type: goal, text: Harm refused, supported_by: [Sn1]}
  - id: Sn1
    type: solution
    text: ASR at most 20%
    evidence: eval.asr.at_k <= 0.20
    max_age_days: 30
  - {id: G3, type: goal, text: Provable, supported_by: [AG1]}
  - {id: AG1, type: away_goal, text: Log verifies, module: recorder}
"""


def evidence(at_k: float | None = 0.1, fpr: float = 0.0, age: float = 2.0) -> dict[str, Any]:
    if at_k is None:
        return {"eval": {"present": False}, "deployment": {}}
    return {
        "eval": {"present": True, "age_days": age, "asr": {"at_k": at_k}, "benign": {"fpr": fpr}},
        "deployment": {},
    }


def statuses(text: str, ev: dict[str, Any]) -> dict[str, tuple[Status, str]]:
    found = evaluate_case(parse_case(text, "case.yaml"), ev)
    return {k: (v.status, v.reason) for k, v in found.items()}


def test_status_propagates_with_the_reason_at_each_node() -> None:
    s = statuses(CASE, evidence(0.1))
    assert s["Sn1"] == (Status.SUPPORTED, "holds: eval.asr.at_k <= 0.20")
    assert s["G2"][0] is Status.SUPPORTED
    # The away goal is argued elsewhere: the case cannot be supported here until it is.
    assert s["AG1"] == (Status.UNDEVELOPED, "argued in recorder")
    assert s["G1"] == (Status.UNDEVELOPED, "S1 is undeveloped")
    complete = CASE.replace(
        "  - {id: G3, type: goal, text: Provable, supported_by: [AG1]}\n"
        "  - {id: AG1, type: away_goal, text: Log verifies, module: recorder}\n",
        "  - {id: G3, type: goal, text: Provable, supported_by: [Sn2]}\n"
        "  - {id: Sn2, type: solution, text: Live, evidence: '!deployment.halted'}\n",
    )
    live = evidence(0.1)
    live["deployment"] = {"halted": False}
    assert statuses(complete, live)["G1"][0] is Status.SUPPORTED


def test_defeated_stale_and_undeveloped() -> None:
    defeated = statuses(CASE, evidence(0.8))
    assert defeated["Sn1"] == (Status.DEFEATED, "does not hold: eval.asr.at_k <= 0.20")
    assert defeated["G1"] == (Status.DEFEATED, "S1 is defeated")
    stale = statuses(CASE, evidence(0.1, age=45))
    assert stale["Sn1"] == (Status.STALE, "evidence 45.0 days old > 30")
    assert stale["G1"][0] is Status.STALE
    nothing = statuses(CASE, evidence(None))
    assert nothing["Sn1"] == (Status.UNDEVELOPED, "no evidence eval.asr")
    # A broken assumption defeats the goal it is the context of, whatever supports it.
    refusing = statuses(CASE, evidence(0.1, fpr=0.1))
    assert refusing["A1"][0] is Status.DEFEATED
    assert refusing["G1"] == (Status.DEFEATED, "A1 is defeated")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("supported_by: [G2, G3]", "supported_by: [G2, G3, G1]"),
        ("supported_by: [Sn1]}", "supported_by: [Sn9]}"),
        ("evidence: eval.asr.at_k <= 0.20", "evidence: eval.asr.at_k <="),
        ("evidence: eval.asr.at_k <= 0.20", "evidence: eval.asr.at_kk <= 0.20"),
        ("in_context_of: [A1, C1]", "in_context_of: [A1, G2]"),
        ("module: recorder}", "}"),
    ],
)
def test_bad_cases_are_named_by_file_line_and_key(change: str, message: str) -> None:
    expected = {
        "supported_by: [G2, G3, G1]": "a cycle: G1 -> S1 -> G1",
        "supported_by: [Sn9]}": "no node 'Sn9'",
        "evidence: eval.asr.at_k <=": "CEL: Failed to parse",
        "evidence: eval.asr.at_kk <= 0.20": "unknown evidence 'eval.asr.at_kk'",
        "in_context_of: [A1, G2]": "a goal is not context",
        "}": "an away goal, and only an away goal, names its 'module'",
    }[message]
    broken = CASE.replace(change, message)
    with pytest.raises(SafetyCaseError) as caught:
        parse_case(broken, "case.yaml")
    assert expected in str(caught.value)
    assert "case.yaml:" in str(caught.value)


def test_gsn2x_export_carries_prefixes_links_and_undeveloped_marks() -> None:
    loaded = parse_case(CASE.replace("id: S1,", "id: per-hazard,").replace("[S1]", "[per-hazard]"))
    exported = to_gsn2x(loaded)
    assert exported["G1"]["supportedBy"] == ["S_per-hazard"]
    assert exported["G1"]["inContextOf"] == ["A1", "C1"]
    assert exported["S_per-hazard"]["supportedBy"] == ["G2", "G3"]
    assert exported["Sn1"] == {"text": "ASR at most 20%"}
    assert exported["G_AG1"]["undeveloped"] is True
    assert yaml.safe_load(yaml.safe_dump(exported)) == exported


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_the_diagram_is_graphviz_svg_coloured_by_status_and_escaped() -> None:
    loaded = parse_case(CASE.replace("text: Chat only", "text: <script>alert(1)</script>"))
    found = evaluate_case(loaded, evidence(0.8))
    dot = render_dot(loaded, found)
    svg = render_svg(dot)
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:300]
    assert "#ffcdd2" in svg  # defeated
    page = render_html(loaded, found, svg)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "test: defeated" in page


def test_the_reference_case_loads_and_is_defeated_by_todays_figures() -> None:
    loaded = load_case(reference_case_path())
    # What the default stack measures today: most harmful goals get through.
    today = {
        "eval": {
            "present": True, "age_days": 1.0, "policy_matches": True,
            "asr": {"at_k": 0.826, "by_category": {"cbrne": {"at_k": 1.0},
                                                     "jailbreak": {"at_k": 0.2}}},
            "stack": {"recall_at_1pct_fpr": 0.67}, "latency": {"p99_ms": 3.0},
            "benign": {"fpr": 0.001},
        },
        "deployment": {"halted": False},
    }  # fmt: skip
    found = evaluate_case(loaded, today)
    assert found["G1"].status is Status.DEFEATED
    assert found["Sn1"].status is Status.DEFEATED
    assert found["Sn2"].status is Status.DEFEATED
    assert found["A1"].status is Status.SUPPORTED
