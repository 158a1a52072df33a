"""`swisscheese provenance`: check a released answer against its signed statement, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import DbOption, JsonOption, fail, print_checks
from swisscheese.cli._log import KeyOption

provenance_app = typer.Typer(
    help="Signed statements of released answers: fetch a bundle, verify one offline.",
    no_args_is_help=True,
)


@provenance_app.command("verify")
def verify(
    text: Annotated[Path, typer.Option("--text", help="The answer's text, as received.")],
    bundle: Annotated[Path, typer.Option("--bundle", help="The bundle (JSON) to check.")],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The log's verifier key (from `keys init`); without it the bundle is only "
            "checked against the key it names.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the signature, the text's digest, the record, the checkpoint and the inclusion
    proof; exit 1 naming the first part that fails."""
    from swisscheese.provenance import verify_bundle
    from swisscheese.recorder.note import NoteError, Verifier

    try:
        released = text.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{text}: cannot read: {exc}")
    try:
        document = json.loads(bundle.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{bundle}: cannot read: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"{bundle}: not JSON: {exc}")
    verifier = None
    if key is not None:
        try:
            verifier = Verifier.parse(key)
        except NoteError as exc:
            fail(f"--key: {exc}")
    if not isinstance(document, dict):
        fail(f"{bundle}: not a provenance bundle")
    checks = verify_bundle(released, document, verifier)
    print_checks(checks, all(c.ok for c in checks) and len(checks) == 5, as_json=as_json)


@provenance_app.command("bundle")
def make(
    record: Annotated[int, typer.Argument(help="The answer's record (its log index).")],
    db: DbOption = None,
    key: KeyOption = None,
) -> None:
    """Print the bundle of a released answer from the log: what `GET /v1/provenance/{record}`
    serves."""
    from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder
    from swisscheese.provenance import ProvenanceError, StatementSigner, answer_bundle

    with open_recorder(db, key, DEFAULT_ORIGIN, need_key=True) as recorder:
        assert recorder.signer is not None
        try:
            found = answer_bundle(recorder, StatementSigner(recorder.signer), record)
        except ProvenanceError as exc:
            fail(str(exc))
    print(json.dumps(found))
