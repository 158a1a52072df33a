"""`swisscheese audit`: signed bundles of the flight recorder for auditors, verified offline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import DbOption, JsonOption, fail, out, print_checks
from swisscheese.cli._log import DEFAULT_ORIGIN, KeyOption, OriginOption, open_recorder

audit_app = typer.Typer(
    help="Audit bundles: a proved range of the log and the governance documents, signed.",
    no_args_is_help=True,
)


@audit_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--out", help="The bundle to write (a tar file).")],
    since: Annotated[
        str | None,
        typer.Option(help="From the first entry at or after this time (ISO 8601, with a zone)."),
    ] = None,
    first: Annotated[int, typer.Option("--from", min=0, help="From this log index.")] = 0,
    framework: Annotated[
        Path | None, typer.Option(help="The framework to include (default: the reference one).")
    ] = None,
    case: Annotated[
        Path | None,
        typer.Option(help="The safety case to include (default: the reference one)."),
    ] = None,
    db: DbOption = None,
    key: KeyOption = None,
    origin: OriginOption = DEFAULT_ORIGIN,
) -> None:
    """Write a signed bundle of the log from --since (or --from) to a fresh checkpoint: every
    event and payload (erasures stay erased), the hashes that prove them against the signed
    root, the framework and the safety case. `audit verify` checks it with the public key."""
    from swisscheese.governance.audit import export_bundle, first_index_since
    from swisscheese.governance.framework import reference_path
    from swisscheese.governance.safety_case import reference_case_path

    documents: dict[str, bytes] = {}
    for name, path in (
        ("framework.yaml", framework or reference_path()),
        ("safety_case.yaml", case or reference_case_path()),
    ):
        try:
            documents[name] = path.read_bytes()
        except OSError as exc:
            fail(f"{path}: cannot read: {exc.strerror}")
    with open_recorder(db, key, origin, need_key=True) as recorder:
        if since is not None:
            try:
                moment = dt.datetime.fromisoformat(since)
            except ValueError:
                fail(f"--since {since!r}: not an ISO 8601 time")
            if moment.tzinfo is None:
                fail(f"--since {since!r}: give a time zone (e.g. {since}Z)")
            first = first_index_since(recorder, moment)
        try:
            manifest = export_bundle(recorder, output, first, documents)
        except ValueError as exc:
            fail(str(exc))
    count = manifest["size"] - manifest["first"]
    out.print(
        f"{output}: entries {manifest['first']}..{manifest['size'] - 1} ({count}), "
        f"{len(manifest['files'])} files, {len(manifest['erased_payloads'])} erased payloads; "
        f"verify with: swisscheese audit verify {output} --verifier '{manifest['verifier']}'",
        highlight=False,
        soft_wrap=True,
    )


@audit_app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle (tar file).")],
    verifier: Annotated[
        str, typer.Option(help="The log's public key (`swisscheese keys show`), trusted as given.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Check a bundle offline: the manifest's signature, every file against it, the checkpoint's
    signature, the events and prefix hashes against the signed root, every payload against its
    digest (or its recorded erasure). Names what failed; exit 1 on any failure."""
    from swisscheese.governance.audit import verify_bundle
    from swisscheese.recorder.note import NoteError, Verifier

    try:
        key = Verifier.parse(verifier)
    except NoteError as exc:
        fail(f"--verifier: {exc}")
    checks = verify_bundle(bundle, key)
    print_checks(checks, all(c.ok for c in checks), as_json=as_json)
