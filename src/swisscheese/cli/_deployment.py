"""`swisscheese deployment`: halt, resume and inspect deployments (each change is recorded).

Only deployments a gateway has served are known; any other name is an error, so a typo never
halts nothing while the real deployment keeps serving."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import (
    ByOption,
    DbOption,
    JsonOption,
    OperatorKeyOption,
    fail,
    iso,
    operations,
    operator_signer,
    out,
)
from swisscheese.cli._framework import FrameworkOption
from swisscheese.cli._framework import load as load_framework

if TYPE_CHECKING:
    from swisscheese.core import Receipt
    from swisscheese.ops import Operations
    from swisscheese.store import Deployment

deployment_app = typer.Typer(help="Halt and resume deployments.", no_args_is_help=True)
NameArgument = Annotated[str, typer.Argument(help="Deployment name.")]


@deployment_app.command("halt")
def halt(
    name: NameArgument,
    reason: Annotated[str, typer.Option(help="Why (shown to clients).")] = "halted by operator",
    by: ByOption = "operator",
    key: OperatorKeyOption = None,
    db: DbOption = None,
) -> None:
    """Stop a deployment: every gateway and MCP-proxy replica answers 503 (refuses) until it is
    resumed. Signed with the operator's key when there is one."""
    from swisscheese.ops import OpsError
    from swisscheese.recorder import RecordError

    signer = operator_signer(by, key, required=key is not None)
    with operations(db) as ops:
        try:
            receipt = ops.halt(name, reason, by, signer)
        except OpsError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"{name} halted, but the log could not record it: {exc}")
        incident = _open_halt_incident(ops, name, reason, by, receipt)
    out.print(f"{name} halted (log entry {receipt.index if receipt else '-'})", highlight=False)
    out.print(f"incident {incident} opened", highlight=False)


def _open_halt_incident(
    ops: Operations, name: str, reason: str, by: str, receipt: Receipt | None
) -> str:
    """A halt is an incident: opened with it, linked to the halt event, in the jurisdictions
    of ``SWISSCHEESE_JURISDICTIONS``."""
    import datetime as dt

    from swisscheese.cli._incidents import jurisdictions
    from swisscheese.governance.register import halt_incident, record

    assert ops.recorder is not None
    index = receipt.index if receipt else None
    incident = halt_incident(name, reason, by, dt.datetime.now(dt.UTC), index, jurisdictions())
    record(ops.recorder, incident, by, new=True)
    return incident.id


@deployment_app.command("resume")
def resume(
    name: NameArgument,
    reason: Annotated[str, typer.Option(help="Why.")] = "resumed by operator",
    by: ByOption = "operator",
    key: OperatorKeyOption = None,
    framework: FrameworkOption = None,
    db: DbOption = None,
) -> None:
    """Resume a deployment stopped by a HALT verdict or by hand (signed with the operator's
    key when there is one). A deployment its framework halted resumes only when the framework,
    deciding again on the evidence recorded since, no longer calls for the halt, and only by an
    operator who signs the decision."""
    from swisscheese.governance.gate import FRAMEWORK_HALT, check_gate
    from swisscheese.ops import OpsError
    from swisscheese.recorder import RecordError

    with operations(db) as ops:
        try:
            found = ops.known(name)
        except OpsError as exc:
            fail(str(exc))
        by_framework = found.halted and found.reason.startswith(FRAMEWORK_HALT)
        signer = operator_signer(by, key, required=key is not None or by_framework)
        if by_framework:
            decision, _, _ = check_gate(
                ops, load_framework(framework), name, by, signer, respond=False, cause="resume"
            )
            if decision.responses:
                fail(
                    f"{name} stays halted: framework {decision.framework} still calls for "
                    f"{', '.join(decision.responses)} ("
                    + "; ".join(r for r in decision.reasons if r.startswith("red line"))
                    + "); record new passing evidence and handle the incident first"
                )
        try:
            receipt = ops.resume(name, reason, by, signer)
        except OpsError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"not resumed: the log could not record it: {exc}")
    out.print(f"{name} resumed (log entry {receipt.index if receipt else '-'})", highlight=False)


def _as_dict(d: Deployment) -> dict[str, object]:
    return {
        "name": d.name,
        "state": "halted" if d.halted else "running",
        "reason": d.reason if d.halted else None,
        "policy_digest": d.policy_digest,
        "model": d.model,
        "served_at": iso(d.served_at),
        "changed_at": iso(d.changed_at),
    }


def _line(d: Deployment) -> str:
    state = f"halted ({d.reason})" if d.halted else "running"
    policy = (d.policy_digest or "-")[:19]
    return f"{d.name}: {state}; policy {policy}; model {d.model or '-'}"


@deployment_app.command("status")
def status(name: NameArgument, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Whether a deployment is halted, and why; what it last served."""
    from swisscheese.ops import OpsError

    with operations(db) as ops:
        try:
            found = ops.known(name)
        except OpsError as exc:
            fail(str(exc))
    if as_json:
        print(json.dumps(_as_dict(found)))
    else:
        out.print(_line(found), highlight=False, markup=False)


@deployment_app.command("list")
def list_deployments(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every deployment a gateway has served, with its state."""
    with operations(db) as ops:
        found = ops.store.deployments()
    if as_json:
        print(json.dumps([_as_dict(d) for d in found]))
        return
    for d in found:
        out.print(_line(d), highlight=False, markup=False)
