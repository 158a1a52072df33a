"""`swisscheese keys`: the log's signing key and the gateway's client keys (each client-key
change is recorded)."""

from __future__ import annotations

from typing import Annotated

import typer

from swisscheese.cli._common import ByOption, DbOption, err, fail, operations, out
from swisscheese.cli._log import DEFAULT_ORIGIN, KeyOption, open_recorder

keys_app = typer.Typer(help="Signing and client keys.", no_args_is_help=True)


@keys_app.command("init")
def keys_init(
    key: KeyOption = None,
    name: Annotated[str, typer.Option(help="Key name (no spaces or '+').")] = "swisscheese-log",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
    db: DbOption = None,
) -> None:
    """Create the Ed25519 key that signs checkpoints, record it in the log, print its verifier
    key."""
    from swisscheese.recorder import RecordError, write_signer
    from swisscheese.recorder.note import NoteError, Signer

    try:
        signer = Signer.generate(name)
        path = write_signer(signer, key, force=force)
    except (RecordError, NoteError) as exc:
        fail(str(exc))
    with open_recorder(db, key, DEFAULT_ORIGIN) as recorder:
        receipt = recorder.adopt_key(signer)
    err.print(
        f"wrote {path} (keep it secret), recorded as entry {receipt.index}; verifier key:",
        highlight=False,
    )
    print(signer.verifier.encode())


@keys_app.command("public")
def keys_public(key: KeyOption = None) -> None:
    """Print the verifier key (C2SP note format: name+hash+key) for auditors."""
    from swisscheese.recorder import RecordError, load_signer

    try:
        print(load_signer(key).verifier.encode())
    except RecordError as exc:
        fail(str(exc))


@keys_app.command("create-client")
def create_client(
    name: Annotated[str, typer.Argument(help="Who the key is for.")],
    deployment: Annotated[str | None, typer.Option(help="Only valid for this deployment.")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second allowed.")] = None,
    burst: Annotated[int | None, typer.Option(help="Requests allowed at once.")] = None,
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Create a gateway API key; it is printed once and stored only as its hash."""
    from swisscheese.recorder import RecordError
    from swisscheese.store import StoreError

    with operations(db) as ops:
        try:
            _, secret, _ = ops.create_client_key(
                name, by=by, deployment=deployment, rate=rate, burst=burst
            )
        except StoreError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"no key created: the log could not record it: {exc}")
    err.print(f"client key for {name} (shown once):", highlight=False)
    print(secret)


@keys_app.command("revoke-client")
def revoke_client(
    name: Annotated[str, typer.Argument()], by: ByOption = "operator", db: DbOption = None
) -> None:
    """Revoke a gateway API key (replicas stop accepting it within 10 s)."""
    from swisscheese.ops import OpsError
    from swisscheese.recorder import RecordError

    with operations(db) as ops:
        try:
            ops.revoke_client_key(name, by)
        except OpsError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"{name} revoked, but the log could not record it: {exc}")
    out.print(f"revoked {name}", highlight=False)
