"""`swisscheese model`: fingerprint, sign and verify model weights (safetensors, GGUF)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from swisscheese.cli._common import DbOption, JsonOption, err, fail, out, print_checks
from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder

if TYPE_CHECKING:
    from swisscheese.provenance.fingerprint import Fingerprint

model_app = typer.Typer(
    help="Model fingerprints, signatures (OpenSSF model-signing format) and lineage.",
    no_args_is_help=True,
)

ModelPath = Annotated[
    Path, typer.Argument(help="A .safetensors or .gguf file, or a directory of them.")
]
ModelKeyOption = Annotated[
    Path | None,
    typer.Option("--key", help="The model-signing key (default .swisscheese/model.key)."),
]
SignatureOption = Annotated[
    Path | None,
    typer.Option(
        "--signature", help="The signature file (default DIR/model.sig, or FILE.sig beside a file)."
    ),
]


def _fingerprint(path: Path) -> Fingerprint:
    from swisscheese.provenance.fingerprint import ModelFileError, fingerprint

    try:
        return fingerprint(path)
    except ModelFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")


def _parent(value: str) -> Fingerprint:
    """A parent given as a model path or as a fingerprint JSON file (`model fingerprint
    --json --tensors`)."""
    from swisscheese.provenance.fingerprint import Fingerprint, ModelFileError

    path = Path(value)
    if path.suffix == ".json":
        try:
            return Fingerprint.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            fail(f"{path}: not a fingerprint: {exc}")
        except ModelFileError as exc:
            fail(f"{path}: {exc}")
    return _fingerprint(path)


@model_app.command("fingerprint")
def fingerprint_command(
    path: ModelPath,
    tensors: Annotated[bool, typer.Option("--tensors", help="List every tensor's digest.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A Merkle root over the model's tensors by name and content: the same weights repacked
    or resharded give the same fingerprint."""
    fp = _fingerprint(path)
    if as_json:
        print(json.dumps(fp.as_dict(tensors=tensors)))
        return
    print(fp.digest)
    err.print(
        f"{len(fp.tensors)} tensors, {fp.nbytes} bytes, {fp.format}, files: {', '.join(fp.files)}",
        highlight=False,
    )
    for t in fp.tensors if tensors else ():
        out.print(f"{t.sha256}  {t.dtype:<8} {list(t.shape)}  {t.name}", highlight=False)


@model_app.command("diff")
def diff_command(
    path: ModelPath,
    parent: Annotated[str, typer.Option("--parent", help="The parent model or its JSON.")],
    as_json: JsonOption = False,
) -> None:
    """Which tensors a derived model kept, changed, added or removed relative to a parent."""
    diff = _fingerprint(path).diff(_parent(parent))
    if as_json:
        print(json.dumps({**asdict(diff), "identical_fraction": diff.identical_fraction}))
        return
    out.print(
        f"identical {len(diff.same)}, changed {len(diff.changed)}, added {len(diff.added)}, "
        f"removed {len(diff.removed)} ({diff.identical_fraction:.1%} of the parent's tensors "
        "kept bit for bit)",
        highlight=False,
    )
    for name in diff.changed:
        out.print(f"changed  {name}", highlight=False, markup=False)


@model_app.command("sign")
def sign_command(
    path: ModelPath,
    key: ModelKeyOption = None,
    signature: SignatureOption = None,
    parent: Annotated[
        str | None,
        typer.Option(
            "--parent",
            help="The model this one was derived from (a path, or its fingerprint JSON): "
            "the signature then carries the lineage.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Sign the model's files and tensor fingerprint with the model key (ECDSA P-256, in
    OpenSSF model-signing's format: `model_signing verify key` accepts it); the signature
    is recorded in the log."""
    from swisscheese.provenance.fingerprint import ModelFileError
    from swisscheese.provenance.model_keys import load_model_key, record_signature
    from swisscheese.provenance.model_signature import (
        ModelSignatureError,
        default_signature_path,
        sign_model,
    )

    try:
        signing_key = load_model_key(key)
    except ModelSignatureError as exc:
        fail(str(exc))
    parent_fp = _parent(parent) if parent else None
    target = signature or default_signature_path(path)
    try:
        bundle, fp = sign_model(path, signing_key, signature=target, parent=parent_fp)
    except ModelFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    statement = _statement(bundle)
    with open_recorder(db, None, DEFAULT_ORIGIN, create=True) as recorder:
        index = record_signature(recorder, statement, signing_key.public)
    try:
        target.write_text(json.dumps(bundle, indent=2), encoding="utf-8")
    except OSError as exc:
        fail(f"{target}: cannot write: {exc.strerror or exc}")
    lineage = statement["predicate"]["swisscheese"].get("lineage")
    err.print(
        f"wrote {target}; recorded as entry {index}"
        + (
            f"; derived from {lineage['parent']} ({lineage['tensors_identical']} tensors "
            f"identical, {lineage['tensors_changed']} changed)"
            if lineage
            else ""
        ),
        highlight=False,
        soft_wrap=True,
    )
    print(fp.digest)


def _statement(bundle: dict[str, Any]) -> dict[str, Any]:
    import base64

    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert isinstance(payload, dict)
    return payload


@model_app.command("verify")
def verify_command(
    path: ModelPath,
    signature: SignatureOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The signer's PEM public key. Without it the key is found in the log by the "
            "signature's key hint, and the log says whether it was revoked before signing.",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a model against its signature: key, signature, every file, the tensor
    fingerprint (and, from the log, the key's standing). Exit 1 naming what fails."""
    from swisscheese.provenance.model_keys import log_check, recorded_keys
    from swisscheese.provenance.model_signature import (
        ModelSignatureError,
        ModelVerifyingKey,
        default_signature_path,
        verify_model,
    )
    from swisscheese.provenance.statements import Check

    source = signature or default_signature_path(path)
    try:
        bundle = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{source}: cannot read the signature: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"{source}: the signature is not JSON: {exc}")
    if not isinstance(bundle, dict):
        fail(f"{source}: not a signature bundle")
    extra: list[Check] = []
    if public_key is not None:
        try:
            verifying = ModelVerifyingKey.from_pem(public_key.read_bytes(), str(public_key))
        except OSError as exc:
            fail(f"{public_key}: cannot read: {exc.strerror or exc}")
        except ModelSignatureError as exc:
            fail(str(exc))
        result = verify_model(path, bundle, verifying)
    else:
        hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
        with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
            known = recorded_keys(recorder).get(str(hint))
            if known is None:
                fail("the signature's key is not one the log adopted; give --public-key")
            result = verify_model(path, bundle, known.key)
            if result.statement is not None:
                subject = result.statement["subject"][0]["digest"]["sha256"]
                extra.append(log_check(recorder, known, subject))
    lineage = (result.statement or {}).get("predicate", {}).get("swisscheese", {}).get("lineage")
    if lineage and not as_json:
        out.print(f"derived from {lineage['parent']}", highlight=False)
    print_checks(
        [*result.checks, *extra],
        result.ok and all(c.ok for c in extra),
        as_json=as_json,
        lineage=lineage,
        fingerprint=result.fingerprint.digest if result.fingerprint else None,
    )
