"""`swisscheese keys`: the log's signing key and the gateway's client keys (each client-key
change is recorded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import ByOption, DbOption, JsonOption, err, fail, iso, operations, out
from swisscheese.cli._log import DEFAULT_ORIGIN, KeyOption, PayloadKeyOption, open_recorder

if TYPE_CHECKING:
    from swisscheese.core import Receipt
    from swisscheese.ops import Operations
    from swisscheese.recorder.note import Signer

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
    with open_recorder(db, key, DEFAULT_ORIGIN, create=True) as recorder:
        receipt = recorder.adopt_key(signer)
    err.print(
        f"wrote {path} (keep it secret), recorded as entry {receipt.index}; verifier key:",
        highlight=False,
    )
    print(signer.verifier.encode())


@keys_app.command("rotate")
def keys_rotate(key: KeyOption = None, db: DbOption = None) -> None:
    """Replace the log's signing key: the new key signs checkpoints and output statements from
    now on and is recorded; the old one is kept beside it (renamed) so statements it signed can
    still be checked, and `log verify` checks each checkpoint against the keys in force."""
    from swisscheese.recorder import RecordError, key_path, load_signer
    from swisscheese.recorder.note import Signer
    from swisscheese.recorder.sealing import write_private

    try:
        old = load_signer(key)
    except RecordError as exc:
        fail(str(exc))
    new = Signer.generate(old.name)
    location = key_path(key)
    retired = location.with_name(f"{location.name}.{old.verifier.hash:08x}.retired")
    write_private(retired, old.encode(), force=False)
    write_private(location, new.encode(), force=True)
    with open_recorder(db, location, DEFAULT_ORIGIN) as recorder:
        receipt = recorder.adopt_key(new)
    err.print(
        f"rotated {location} (the old key is kept as {retired}); recorded as entry "
        f"{receipt.index}; new verifier key:",
        highlight=False,
    )
    print(new.verifier.encode())


@keys_app.command("history")
def keys_history(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every log key the log adopted, in order: when, and whether it was revoked."""
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        history = recorder.key_history()
    rows = [
        {
            "adopted_at": at,
            "verifier": v.encode(),
            "revoked_at": None if revoked == sys.maxsize else revoked,
        }
        for at, v, revoked in history
    ]
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        state = "revoked at entry " + str(r["revoked_at"]) if r["revoked_at"] is not None else ""
        out.print(f"entry {r['adopted_at']}  {r['verifier']}  {state}", highlight=False)


@keys_app.command("revoke")
def keys_revoke(
    verifier: Annotated[str, typer.Argument(help="The verifier key to revoke (`keys history`).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    by: ByOption,
    key: KeyOption = None,
    db: DbOption = None,
) -> None:
    """Revoke a retired log key: checkpoints it signs after this no longer verify. The key in
    use cannot be revoked: rotate first."""
    from swisscheese.recorder import RecordError, load_signer
    from swisscheese.recorder.events import KeyRevoked

    try:
        current = load_signer(key).verifier.encode()
    except RecordError:
        current = None
    if verifier.strip() == current:
        fail("that is the key in use: `swisscheese keys rotate` first, then revoke the old one")
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        known = {v.encode() for _, v, _ in recorder.key_history()}
        if verifier.strip() not in known:
            fail("not a key this log adopted (see `swisscheese keys history`)")
        receipt = recorder.record(KeyRevoked(verifier=verifier.strip(), reason=reason, by=by))
    out.print(f"revoked (log entry {receipt.index})", highlight=False)


@keys_app.command("init-operator")
def keys_init_operator(
    name: Annotated[str, typer.Argument(help="The operator, as they give --by.")],
    key: Annotated[
        Path | None,
        typer.Option(help="Where to write it (default .swisscheese/operators/NAME.key)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
    db: DbOption = None,
) -> None:
    """Create an operator's Ed25519 key, which signs their approvals, denials, halts and
    resumes; its public half is recorded in the log (`log verify` checks every signature)."""
    from swisscheese.recorder.decisions import operator_key_path

    path = key or operator_key_path(name)
    with operations(db, create=True) as ops:
        signer, receipt = create_operator_key(ops, name, path, force=force)
    err.print(
        f"wrote {path} (keep it secret); public key recorded as entry "
        f"{receipt.index if receipt else '-'}:",
        highlight=False,
    )
    print(signer.verifier.encode())


def create_operator_key(
    ops: Operations, name: str, path: Path, *, force: bool = False
) -> tuple[Signer, Receipt | None]:
    """Write a new operator key for ``name`` to ``path`` and record its public half."""
    from swisscheese.recorder.note import NoteError, Signer
    from swisscheese.recorder.sealing import write_private

    try:
        signer = Signer.generate(name)
    except NoteError as exc:
        fail(str(exc))
    try:
        write_private(path, signer.encode(), force=force)
    except FileExistsError:
        fail(f"{path} exists; refusing to replace an operator key (--force replaces it)")
    return signer, ops.register_operator(signer)


@keys_app.command("init-payload")
def keys_init_payload(
    path: PayloadKeyOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
) -> None:
    """Create the AES-256 key under which the originals of redacted texts are sealed in the
    log. Keep it apart from the database; destroying it erases every sealed original."""
    from swisscheese.recorder.sealing import (
        DEFAULT_PAYLOAD_KEY,
        PayloadKey,
        SealError,
        write_payload_key,
    )

    key = PayloadKey.generate()
    try:
        written = write_payload_key(key, path or DEFAULT_PAYLOAD_KEY, force=force)
    except SealError as exc:
        fail(str(exc))
    err.print(f"wrote {written} (keep it secret and apart from the database)", highlight=False)
    print(key.key_id)


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

    with operations(db, create=True) as ops:
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


@keys_app.command("rotate-client")
def rotate_client(
    name: Annotated[str, typer.Argument()], by: ByOption = "operator", db: DbOption = None
) -> None:
    """Give an active key a new secret (same deployment and limits); the old secret stops
    working at once on this host and within 10 s on other replicas."""
    from swisscheese.ops import OpsError
    from swisscheese.recorder import RecordError

    with operations(db) as ops:
        try:
            _, secret, _ = ops.rotate_client_key(name, by)
        except OpsError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"not rotated (both secrets are now revoked): the log could not record it: {exc}")
    err.print(f"new client key for {name} (shown once):", highlight=False)
    print(secret)


@keys_app.command("list-clients")
def list_clients(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Client keys (names, ids, limits and dates; never the secrets)."""
    with operations(db) as ops:
        found = ops.store.client_keys(include_revoked=revoked)
    rows = [
        {
            "name": k.name,
            "id": k.id,
            "deployment": k.deployment,
            "rate": k.rate,
            "burst": k.burst,
            "created_at": iso(k.created_at),
            "revoked_at": iso(k.revoked_at),
        }
        for k in found
    ]
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        limits = f"{r['rate']:g}/s burst {r['burst'] or '-'}" if r["rate"] else "no limit"
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        out.print(
            f"{r['name']}  {r['id']}  deployment {r['deployment'] or 'any'}  {limits}  "
            f"created {r['created_at']}  {state}",
            highlight=False,
            markup=False,
        )


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


ModelKeyPath = Annotated[
    Path | None,
    typer.Option("--key", help="The model-signing key (default .swisscheese/model.key)."),
]


@keys_app.command("init-model")
def keys_init_model(key: ModelKeyPath = None, db: DbOption = None) -> None:
    """Create the ECDSA P-256 key that signs models (`swisscheese model sign`), record its
    public half in the log, print it (PEM)."""
    from swisscheese.provenance.model_keys import adopt, write_model_key
    from swisscheese.provenance.model_signature import ModelSignatureError, ModelSigningKey

    signing = ModelSigningKey.generate()
    try:
        path = write_model_key(signing, key, force=False)
    except ModelSignatureError as exc:
        fail(str(exc))
    with open_recorder(db, None, DEFAULT_ORIGIN, create=True) as recorder:
        index = adopt(recorder, signing.public)
    err.print(f"wrote {path} (keep it secret); recorded as entry {index}", highlight=False)
    print(signing.public.pem(), end="")


@keys_app.command("rotate-model")
def keys_rotate_model(key: ModelKeyPath = None, db: DbOption = None) -> None:
    """Replace the model key: the new one signs from now on and is recorded; the old one is
    kept beside it (renamed), and models it signed still verify."""
    from swisscheese.provenance.model_keys import DEFAULT_MODEL_KEY, adopt, load_model_key
    from swisscheese.provenance.model_signature import ModelSignatureError, ModelSigningKey
    from swisscheese.recorder.sealing import write_private

    try:
        old = load_model_key(key)
    except ModelSignatureError as exc:
        fail(str(exc))
    location = key or DEFAULT_MODEL_KEY
    retired = location.with_name(f"{location.name}.{old.public.hint[:16]}.retired")
    new = ModelSigningKey.generate()
    write_private(retired, old.private_pem(), force=False)
    write_private(location, new.private_pem(), force=True)
    with open_recorder(db, None, DEFAULT_ORIGIN, create=True) as recorder:
        index = adopt(recorder, new.public)
    err.print(
        f"rotated {location} (the old key is kept as {retired}); recorded as entry {index}",
        highlight=False,
    )
    print(new.public.pem(), end="")


@keys_app.command("revoke-model")
def keys_revoke_model(
    hint: Annotated[str, typer.Argument(help="The key's hint (SHA-256 of its PEM public key).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    by: ByOption,
    key: ModelKeyPath = None,
    db: DbOption = None,
) -> None:
    """Revoke a model key: signatures the log recorded before this still verify; any other
    signature by it no longer does. The key in use cannot be revoked: rotate first."""
    from swisscheese.provenance.model_keys import load_model_key, revoke
    from swisscheese.provenance.model_signature import ModelSignatureError

    try:
        current = load_model_key(key).public.hint
    except ModelSignatureError:
        current = None
    if hint.strip() == current:
        fail("that is the key in use: `swisscheese keys rotate-model` first, then revoke it")
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        try:
            index = revoke(recorder, hint.strip(), reason, by)
        except ModelSignatureError as exc:
            fail(str(exc))
    out.print(f"revoked (log entry {index})", highlight=False)


@keys_app.command("init-watermark")
def keys_init_watermark(
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Where to write it (default .swisscheese/watermark.key)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create the secret key of the text watermark (policy `watermark:`); its identifier is
    recorded in the log. Whoever holds it can detect the watermark, and forge it."""
    from swisscheese.provenance.watermark import WatermarkError
    from swisscheese.provenance.watermark_keys import adopt, new_key, write_watermark_key

    secret = new_key()
    try:
        path = write_watermark_key(secret, key)
    except WatermarkError as exc:
        fail(str(exc))
    with open_recorder(db, None, DEFAULT_ORIGIN, create=True) as recorder:
        index = adopt(recorder, secret)
    err.print(f"wrote {path} (keep it secret); recorded as entry {index}", highlight=False)
