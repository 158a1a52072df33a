"""Operator commands for the gateway: client keys, deployment halt/resume, approvals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import err, fail, out
from swisscheese.cli._log import DbOption, keys_app

if TYPE_CHECKING:
    from swisscheese.store import AccessStore

deployment_app = typer.Typer(help="Halt and resume deployments.", no_args_is_help=True)
approvals_app = typer.Typer(help="Requests waiting for a human decision.", no_args_is_help=True)


def open_access(db: str | None) -> AccessStore:
    from swisscheese.store import AccessStore, StoreError

    try:
        return AccessStore(db)
    except (StoreError, OSError) as exc:
        fail(f"cannot open the store: {exc}")
    except Exception as exc:
        fail(f"cannot open the store: {type(exc).__name__}: {exc}")


@keys_app.command("create-client")
def create_client(
    name: Annotated[str, typer.Argument(help="Who the key is for.")],
    deployment: Annotated[str | None, typer.Option(help="Only valid for this deployment.")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second allowed.")] = None,
    burst: Annotated[int | None, typer.Option(help="Requests allowed at once.")] = None,
    db: DbOption = None,
) -> None:
    """Create a gateway API key; it is printed once and stored only as its hash."""
    from swisscheese.store import StoreError

    store = open_access(db)
    try:
        _, secret = store.create_key(name, deployment=deployment, rate=rate, burst=burst)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    err.print(f"client key for {name} (shown once):", highlight=False)
    print(secret)


@keys_app.command("revoke-client")
def revoke_client(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Revoke a gateway API key (replicas stop accepting it within 10 s)."""
    store = open_access(db)
    revoked = store.revoke_key(name)
    store.close()
    if not revoked:
        fail(f"no active client key named {name!r}")
    out.print(f"revoked {name}", highlight=False)


@deployment_app.command("resume")
def resume(
    name: Annotated[str, typer.Argument(help="Deployment name.")], db: DbOption = None
) -> None:
    """Resume a deployment stopped by a HALT verdict or by hand."""
    store = open_access(db)
    store.set_halted(name, False, "resumed by operator")
    store.close()
    out.print(f"{name} resumed", highlight=False)


@deployment_app.command("halt")
def halt(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    reason: Annotated[str, typer.Option(help="Why (shown to clients).")] = "halted by operator",
    db: DbOption = None,
) -> None:
    """Stop a deployment: every gateway replica answers 503 until it is resumed."""
    store = open_access(db)
    store.set_halted(name, True, reason)
    store.close()
    out.print(f"{name} halted", highlight=False)


@deployment_app.command("status")
def status(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Whether a deployment is halted, and why."""
    store = open_access(db)
    reason = store.halted(name)
    store.close()
    out.print(f"{name}: " + (f"halted ({reason})" if reason else "running"), highlight=False)


@approvals_app.command("list")
def list_approvals(
    deployment: Annotated[str | None, typer.Option()] = None, db: DbOption = None
) -> None:
    """Pending approval requests."""
    store = open_access(db)
    for a in store.pending(deployment):
        out.print(f"{a.id}  {a.deployment}  {a.stage}  {a.summary}", highlight=False)
    store.close()


def _decide(approval_id: str, approved: bool, by: str, db: str | None) -> None:
    store = open_access(db)
    done = store.decide(approval_id, approved, by)
    store.close()
    if not done:
        fail(f"no pending approval {approval_id}")
    out.print(f"{approval_id} {'approved' if approved else 'denied'}", highlight=False)


@approvals_app.command("approve")
def approve(
    approval_id: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option(help="Who decides.")] = "operator",
    db: DbOption = None,
) -> None:
    """Let a waiting request go on."""
    _decide(approval_id, True, by, db)


@approvals_app.command("deny")
def deny(
    approval_id: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option(help="Who decides.")] = "operator",
    db: DbOption = None,
) -> None:
    """Refuse a waiting request."""
    _decide(approval_id, False, by, db)
