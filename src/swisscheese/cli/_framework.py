"""`swisscheese framework`: a safety framework as code, checked against recorded evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import (
    ByOption,
    DbOption,
    JsonOption,
    OperatorKeyOption,
    fail,
    fail_issues,
    operations,
    operator_signer,
    out,
)

if TYPE_CHECKING:
    from swisscheese.governance.framework import GateDecision, LoadedFramework
    from swisscheese.ops import Operations
    from swisscheese.recorder.note import Signer

framework_app = typer.Typer(
    help="Safety frameworks as code: gate decisions from recorded evidence.", no_args_is_help=True
)
FrameworkArgument = Annotated[
    Path | None,
    typer.Argument(help="The framework YAML (default: the shipped reference framework)."),
]
FrameworkOption = Annotated[
    Path | None,
    typer.Option(
        "--framework",
        envvar="SWISSCHEESE_FRAMEWORK",
        help="The deployment's framework (default: the shipped reference framework).",
    ),
]
EXIT = {"go": 0, "go with conditions": 1, "no-go": 3}


def load(path: Path | None) -> LoadedFramework:
    from swisscheese.governance.framework import FrameworkError, load_framework, reference_path

    try:
        return load_framework(path or reference_path())
    except FrameworkError as exc:
        fail_issues(exc)


@framework_app.command("validate")
def validate(framework: FrameworkArgument = None) -> None:
    """Check a framework without deciding: YAML, CEL syntax, evidence names, mitigations."""
    loaded = load(framework)
    fw = loaded.framework
    levels = sum(len(d.levels) for d in fw.domains)
    out.print(
        f"{loaded.source}: {fw.framework}: {len(fw.domains)} domains, {levels} levels, "
        f"{len(fw.red_lines)} red lines, {len(fw.mitigations)} mitigations ({loaded.digest})",
        highlight=False,
        soft_wrap=True,
    )


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True)


def _print(decision: GateDecision) -> None:
    _say(f"{decision.framework}: {decision.decision.value.upper()}")
    for reason in decision.reasons:
        _say(f"  - {reason}")
    _say("conditions:")
    for c in decision.conditions:
        value = {True: "TRUE", False: "false", None: "UNKNOWN"}[c.value]
        why = f"  ({c.reason})" if c.reason else ""
        _say(f"  {c.kind:13} {c.id:28} {value:8} {c.expression}{why}")
    if decision.mitigations:
        _say("mitigations:")
        for m in decision.mitigations:
            state = "in place" if m.in_place else "MISSING"
            _say(f"  {m.id:28} {state:9} {m.found}")


@framework_app.command("check")
def check(
    deployment: Annotated[str, typer.Option(help="The deployment to decide for.")],
    framework: FrameworkArgument = None,
    by: ByOption = "operator",
    key: OperatorKeyOption = None,
    db: DbOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and record, but do not act on it.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Decide go / go with conditions / no-go for a deployment from the recorded evidence (the
    latest evaluation of its policy, its incidents, its state) and its deployed policy; record
    the decision with every condition's value, signed with the operator's key when there is
    one; carry out the framework's responses (a halt) unless --dry-run. Exit 0 for go, 1 for
    go with conditions, 3 for no-go."""
    from swisscheese.governance.gate import check_gate
    from swisscheese.ops import OpsError
    from swisscheese.recorder import RecordError

    loaded = load(framework)
    signer = operator_signer(by, key, required=key is not None)
    with operations(db) as ops:
        try:
            decision, gathered, receipt = check_gate(
                ops, loaded, deployment, by, signer, respond=not dry_run
            )
        except OpsError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"no decision: the log could not record it: {exc}")
    if as_json:
        report = decision.to_dict() | {
            "deployment": deployment,
            "record": receipt.index if receipt else None,
            "signed": signer is not None,
            "responded": bool(decision.responses) and not dry_run,
            "evidence": gathered.evidence,
        }
        print(json.dumps(report, default=str))
    else:
        _print(decision)
        where = f"log entry {receipt.index}" if receipt else "not recorded"
        signed = f"signed by {by}" if signer else f"unsigned (no operator key for {by})"
        _say(f"recorded: {where}, {signed}")
        if decision.responses:
            done = "not carried out (--dry-run)" if dry_run else "carried out"
            _say(f"responses {', '.join(decision.responses)}: {done}")
    raise typer.Exit(EXIT[decision.decision.value])


def respond_to_incident(
    ops: Operations, deployment: str, incident: str, by: str, signer: Signer | None,
    framework: Path | None,
) -> None:  # fmt: skip
    """The closed loop: after an incident is recorded, the deployment's framework decides again
    on the evidence that now includes it, and acts (a halt) if its responses say so."""
    from swisscheese.governance.gate import check_gate

    if ops.store.deployment(deployment) is None:
        _say(f"no gate: no gateway has served {deployment!r}")
        return
    decision, _, receipt = check_gate(
        ops, load(framework), deployment, by, signer, cause=f"incident {incident}"
    )
    where = f"log entry {receipt.index}" if receipt else "not recorded"
    _say(f"framework {decision.framework}: {decision.decision.value} ({where})")
    if decision.responses:
        _say(f"{deployment} halted by response {', '.join(decision.responses)}")
