"""`swisscheese deployment`: halt, resume and inspect deployments (each change is recorded)."""

from __future__ import annotations

from typing import Annotated

import typer

from swisscheese.cli._common import ByOption, DbOption, fail, operations, out

deployment_app = typer.Typer(help="Halt and resume deployments.", no_args_is_help=True)
NameArgument = Annotated[str, typer.Argument(help="Deployment name.")]


@deployment_app.command("halt")
def halt(
    name: NameArgument,
    reason: Annotated[str, typer.Option(help="Why (shown to clients).")] = "halted by operator",
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Stop a deployment: every gateway replica answers 503 until it is resumed."""
    from swisscheese.recorder import RecordError

    with operations(db) as ops:
        try:
            receipt = ops.halt(name, reason, by)
        except RecordError as exc:
            fail(f"{name} halted, but the log could not record it: {exc}")
    out.print(f"{name} halted (log entry {receipt.index if receipt else '-'})", highlight=False)


@deployment_app.command("resume")
def resume(
    name: NameArgument,
    reason: Annotated[str, typer.Option(help="Why.")] = "resumed by operator",
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Resume a deployment stopped by a HALT verdict or by hand."""
    from swisscheese.recorder import RecordError

    with operations(db) as ops:
        try:
            receipt = ops.resume(name, reason, by)
        except RecordError as exc:
            fail(f"not resumed: the log could not record it: {exc}")
    out.print(f"{name} resumed (log entry {receipt.index if receipt else '-'})", highlight=False)


@deployment_app.command("status")
def status(name: NameArgument, db: DbOption = None) -> None:
    """Whether a deployment is halted, and why."""
    with operations(db) as ops:
        reason = ops.store.halted(name)
    out.print(f"{name}: " + (f"halted ({reason})" if reason else "running"), highlight=False)
