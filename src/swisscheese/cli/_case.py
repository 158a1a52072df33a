"""`swisscheese case`: a live safety case, its status computed from recorded evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from swisscheese.cli._common import (
    ByOption,
    DbOption,
    JsonOption,
    fail,
    fail_issues,
    operations,
    out,
)

if TYPE_CHECKING:
    from swisscheese.governance.safety_case import LoadedCase

case_app = typer.Typer(
    help="Safety cases in GSN, their status computed from recorded evidence.", no_args_is_help=True
)
CaseArgument = Annotated[
    Path | None,
    typer.Argument(help="The safety case YAML (default: the shipped reference case)."),
]


def _load(path: Path | None) -> LoadedCase:
    from swisscheese.governance.safety_case import SafetyCaseError, load_case, reference_case_path

    try:
        return load_case(path or reference_case_path())
    except SafetyCaseError as exc:
        fail_issues(exc)


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True)


@case_app.command("export")
def export(
    case: CaseArgument = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here (default: stdout).")
    ] = None,
) -> None:
    """The case as gsn2x YAML (element prefixes G, S, Sn, C, A, J on the ids)."""
    from swisscheese.governance.safety_case import to_gsn2x

    text = yaml.safe_dump(to_gsn2x(_load(case)), sort_keys=False, allow_unicode=True)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")


@case_app.command("check")
def check(
    deployment: Annotated[str, typer.Option(help="The deployment whose evidence to use.")],
    case: CaseArgument = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the diagram and node table here.")
    ] = None,
    by: ByOption = "operator",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compute every node's status (supported, defeated, stale, undeveloped) and why, from the
    deployment's recorded evidence; record the result. Exit 0 when the top goal is supported,
    1 otherwise."""
    import datetime as dt

    from swisscheese.governance.gate import gather
    from swisscheese.governance.safety_case import (
        SafetyCaseError,
        evaluate_case,
        render_dot,
        render_html,
        render_svg,
        top_goal,
    )
    from swisscheese.ops import OpsError
    from swisscheese.recorder.events import CaseEvaluated

    loaded = _load(case)
    with operations(db) as ops:
        assert ops.recorder is not None
        try:
            known = ops.known(deployment)
        except OpsError as exc:
            fail(str(exc))
        gathered = gather(ops.recorder.store, known, dt.datetime.now(dt.UTC))
        statuses = evaluate_case(loaded, gathered.evidence)
        top = statuses[top_goal(loaded)]
        report = {
            "case": loaded.case.case,
            "digest": loaded.digest,
            "deployment": deployment,
            "status": top.status.value,
            "nodes": [
                {"id": s.id, "type": s.type, "status": s.status.value, "reason": s.reason}
                for s in statuses.values()
            ],
        }
        receipt = ops.recorder.record(
            CaseEvaluated(
                deployment=deployment,
                case=loaded.case.case,
                digest=loaded.digest,
                status=top.status.value,
                evidence=gathered.evaluation_record,
                by=by,
            ),
            report,
        )
    if html is not None:
        try:
            svg = render_svg(render_dot(loaded, statuses))
        except SafetyCaseError as exc:
            fail(str(exc.issues[0].message))
        html.write_text(render_html(loaded, statuses, svg), encoding="utf-8")
    if as_json:
        print(json.dumps(report | {"record": receipt.index}))
    else:
        _say(f"{loaded.case.case}: {top.id} {top.status.value.upper()} ({top.reason})")
        for s in statuses.values():
            _say(f"  {s.id:6} {s.type:13} {s.status.value:11} {s.reason}")
        _say(f"recorded: log entry {receipt.index}" + (f"; diagram: {html}" if html else ""))
    raise typer.Exit(0 if top.status.value == "supported" else 1)
