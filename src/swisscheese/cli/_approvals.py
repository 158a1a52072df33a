"""`swisscheese approvals`: requests waiting for a human decision (each decision is recorded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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

approvals_app = typer.Typer(help="Requests waiting for a human decision.", no_args_is_help=True)
IdArgument = Annotated[str, typer.Argument(help="The approval's id (from `approvals list`).")]


@approvals_app.command("list")
def list_approvals(
    deployment: Annotated[str | None, typer.Option(help="Only this deployment's.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pending approval requests, oldest first, with what each is about."""
    with operations(db) as ops:
        pending = ops.store.pending(deployment)
    rows = [
        {
            "id": a.id,
            "deployment": a.deployment,
            "stage": a.stage,
            "verdict": a.verdict,
            "summary": a.summary,
            "content": a.content,
            "created_at": iso(a.created_at),
        }
        for a in pending
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        out.print(
            f"{r['id']}  {r['created_at']}  {r['deployment']}  {r['stage']}  {r['summary']}\n"
            f"    {r['content']!r}",
            highlight=False,
            markup=False,
        )


def _decide(
    approval: str, approved: bool, by: str, key: Path | None, db: str | None, reason: str | None
) -> None:
    from swisscheese.ops import OpsError
    from swisscheese.recorder import RecordError

    signer = operator_signer(by, key, required=True)
    with operations(db) as ops:
        try:
            receipt = ops.decide(approval, approved, by, signer, reason)
        except OpsError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"the log could not record the decision: {exc}")
    word = "approved" if approved else "denied"
    out.print(f"{approval} {word} (log entry {receipt.index if receipt else '-'})", highlight=False)


ReasonOption = Annotated[
    str | None, typer.Option(help="Why (recorded and signed with the decision).")
]


@approvals_app.command("approve")
def approve(
    approval: IdArgument,
    by: ByOption,
    reason: ReasonOption = None,
    key: OperatorKeyOption = None,
    db: DbOption = None,
) -> None:
    """Let a waiting request go on (the decision is signed with your operator key)."""
    _decide(approval, True, by, key, db, reason)


@approvals_app.command("deny")
def deny(
    approval: IdArgument,
    by: ByOption,
    reason: ReasonOption = None,
    key: OperatorKeyOption = None,
    db: DbOption = None,
) -> None:
    """Refuse a waiting request (the decision is signed with your operator key)."""
    _decide(approval, False, by, key, db, reason)
