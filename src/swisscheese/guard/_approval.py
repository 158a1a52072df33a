"""What a human approver is shown of an escalated content: enough to decide, nothing a log
would not keep."""

from __future__ import annotations

from typing import Any

from swisscheese.core import Content, Verdict, json_text
from swisscheese.core.taxonomy import CATEGORIES, Kind
from swisscheese.guard._guard import redacted, text_of


def _is_data(label: str) -> bool:
    known = CATEGORIES.get(label) or CATEGORIES.get(label.split(".", 1)[0])
    return known is not None and known.kind is Kind.DATA


def approval_excerpt(verdict: Verdict, content: Content) -> str:
    """The content as recorded (redacted where a monitor marked a secret). For a tool call, a
    JSON document: the call, the findings that escalated it (rule, reason, label) and the steps
    of its trace they cite (a step cited for a secret or personal data is named, not shown)."""
    shown = redacted(verdict, text_of(content))
    if content.tool_call is None:
        return shown
    trace = content.trace
    rules = [
        {k: v for k, v in f.detail.items() if k in ("rule", "reason", "label", "step", "source")}
        | {"category": f.category, "monitor": f.monitor}
        for f in verdict.findings
    ]
    cited: dict[int, dict[str, Any]] = {}
    for f in verdict.findings:
        step = f.detail.get("step")
        if not isinstance(step, int) or not 0 <= step < len(trace):
            continue
        label = str(f.detail.get("label", ""))
        item = trace[step]
        cited[step] = {
            "step": step,
            "role": item.role,
            "source": item.source,
            "text": f"[withheld: carries {label}]" if _is_data(label) else item.text[:1500],
        }
    return json_text({"call": shown, "rules": rules, "trace": [cited[k] for k in sorted(cited)]})
