"""What a human approver is shown of an escalated content: enough to decide, nothing a log
would not keep."""

from __future__ import annotations

from typing import Any

from swisscheese.core import Content, Verdict, json_text
from swisscheese.core.taxonomy import is_data
from swisscheese.guard._guard import redacted, text_of


def approval_summary(verdict: Verdict) -> str:
    """One line for the approval queue: the action, the stage, and the surest finding."""
    top = max(verdict.findings, key=lambda f: f.score, default=None)
    return f"{verdict.action.value} at {verdict.stage.value}" + (
        f": {top.category} ({top.monitor}, {top.score:.2f})" if top else ""
    )


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
            "text": f"[withheld: carries {label}]" if is_data(label) else item.text[:1500],
        }
    return json_text({"call": shown, "rules": rules, "trace": [cited[k] for k in sorted(cited)]})
