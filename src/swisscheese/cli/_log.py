"""``swisscheese keys`` and ``swisscheese log``: the flight recorder from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import ByOption, DbOption, JsonOption, fail, out

if TYPE_CHECKING:
    from swisscheese.recorder import Recorder

log_app = typer.Typer(
    help="The flight recorder: checkpoints, proofs, verification.", no_args_is_help=True
)

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        envvar="SWISSCHEESE_LOG_KEY",
        help="Log signing key (default .swisscheese/log.key).",
    ),
]
PayloadKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--payload-key",
        envvar="SWISSCHEESE_PAYLOAD_KEY",
        help="The payload key (default .swisscheese/payload.key).",
    ),
]
OriginOption = Annotated[
    str,
    typer.Option("--origin", envvar="SWISSCHEESE_LOG_ORIGIN", help="The log's origin line."),
]


def open_recorder(
    db: str | None, key: Path | None, origin: str, *, need_key: bool = False, create: bool = False
) -> Recorder:
    """The log at ``db``; only commands that write (``create``) may create its database."""
    from swisscheese.recorder import Recorder, RecordError
    from swisscheese.store import StoreError

    try:
        return Recorder.open(db, key=key, origin=origin, require_key=need_key, create=create)
    except RecordError as exc:
        fail(str(exc))
    except (StoreError, OSError, ValueError) as exc:
        fail(f"cannot open the log at {db or 'the default database'}: {exc}")
    except Exception as exc:  # driver errors (connection refused, bad URL) are usage errors here
        fail(f"cannot open the log: {type(exc).__name__}: {exc}")


DEFAULT_ORIGIN = "swisscheese.local/log"


@log_app.command("checkpoint")
def log_checkpoint(
    db: DbOption = None, key: KeyOption = None, origin: OriginOption = DEFAULT_ORIGIN
) -> None:
    """Sign the current tree head and print it as a C2SP checkpoint note."""
    with open_recorder(db, key, origin, need_key=True) as recorder:
        print(recorder.checkpoint(), end="")


@log_app.command("prove")
def log_prove(
    index: Annotated[int, typer.Argument(help="Leaf index.")],
    size: Annotated[int | None, typer.Option(help="Tree size (default: current).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Inclusion proof of leaf INDEX in the tree of the given size."""
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        try:
            proof = recorder.prove_inclusion(index, size)
        except ValueError as exc:
            fail(str(exc))
    _print_fields(proof.to_dict(), as_json)


@log_app.command("consistency")
def log_consistency(
    old: Annotated[int, typer.Argument(help="Older tree size.")],
    new: Annotated[int, typer.Argument(help="Newer tree size.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Consistency proof that the tree of size NEW extends the tree of size OLD."""
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        try:
            proof = recorder.prove_consistency(old, new)
            old_root, new_root = recorder.root(old), recorder.root(new)
        except ValueError as exc:
            fail(str(exc))
    data = {
        "old_size": old,
        "new_size": new,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [h.hex() for h in proof],
    }
    _print_fields(data, as_json)


def _print_fields(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data))
        return
    for k, v in data.items():
        out.print(f"{k}: {v}", highlight=False, soft_wrap=True)


@log_app.command("verify")
def log_verify(
    checkpoint: Annotated[
        Path | None, typer.Option(help="A checkpoint note the log must be consistent with.")
    ] = None,
    verifier: Annotated[
        str | None, typer.Option(help="Verifier key (default: from the log key).")
    ] = None,
    db: DbOption = None,
    key: KeyOption = None,
    origin: OriginOption = DEFAULT_ORIGIN,
    as_json: JsonOption = False,
) -> None:
    """Recompute every leaf, subtree, payload digest and checkpoint; exit 1 on any mismatch."""
    from swisscheese.recorder.note import NoteError, Verifier

    note = None
    if checkpoint is not None:
        try:
            note = checkpoint.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{checkpoint}: cannot read: {exc.strerror}")
    parsed = None
    if verifier:
        try:
            parsed = Verifier.parse(verifier)
        except NoteError as exc:
            fail(f"verifier key: {exc}")
    with open_recorder(db, key, origin) as recorder:
        report = recorder.verify(note, parsed)
        incident = None if report.ok else _open_tamper_incident(recorder, report.problems)
    data = {
        "ok": report.ok,
        "size": report.size,
        "root_hash": report.root_hash.hex(),
        "first_bad_index": report.first_bad_index,
        "payloads_checked": report.payloads_checked,
        "payloads_erased": report.payloads_erased,
        "checkpoints_checked": report.checkpoints_checked,
        "decisions_signed": report.decisions_signed,
        "decisions_unsigned": report.decisions_unsigned,
        "problems": report.problems,
        "incident": incident,
    }
    if as_json:
        print(json.dumps(data))
    else:
        status = "[green]OK[/green]" if report.ok else "[bold red]FAILED[/bold red]"
        out.print(
            f"{status} {report.size} entries, root {report.root_hash.hex()}, "
            f"{report.payloads_checked} payloads ({report.payloads_erased} erased), "
            f"{report.checkpoints_checked} checkpoints, {report.decisions_signed} signed "
            f"decisions ({report.decisions_unsigned} unsigned)",
            highlight=False,
        )
        if report.first_bad_index is not None:
            out.print(f"first bad index: {report.first_bad_index}", highlight=False)
        for problem in report.problems:
            out.print(f"  {problem}", highlight=False)
        if incident is not None:
            out.print(f"incident {incident} opened", highlight=False)
    raise typer.Exit(0 if report.ok else 1)


def _open_tamper_incident(recorder: Recorder, problems: list[str]) -> str | None:
    """A log that fails verification is an incident: recorded in that log (its id in the
    output), or None when the log cannot take another entry."""
    import datetime as dt

    from swisscheese.cli._incidents import jurisdictions
    from swisscheese.governance.register import record, tamper_incident
    from swisscheese.recorder import RecordError

    at = dt.datetime.now(dt.UTC)
    incident = tamper_incident("flight-recorder", problems, at, jurisdictions())
    try:
        record(recorder, incident, "log verify", new=True)
    except (RecordError, ValueError, OSError):
        return None
    return incident.id


def _show(recorder: Recorder, start: int, end: int, as_json: bool) -> None:
    for entry in recorder.store.entries(start, end):
        event = json.loads(entry.event)
        if as_json:
            print(
                json.dumps(
                    {"index": entry.index, "leaf_hash": entry.leaf_hash.hex(), "event": event}
                )
            )
            continue
        summary = " ".join(
            f"{k}={v}" for k, v in event.items() if k not in ("v", "type", "time", "payload")
        )
        kind = str(event.get("type", "?"))
        out.print(
            f"{entry.index:>8}  {event.get('time', '')}  {kind:<10} {summary}",
            highlight=False,
            soft_wrap=True,
        )


@log_app.command("show")
def log_show(
    start: Annotated[int, typer.Argument(help="First index.")] = 0,
    count: Annotated[int, typer.Option("--count", "-n", help="How many entries.")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show entries from START on."""
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        _show(recorder, start, start + count, as_json)


@log_app.command("tail")
def log_tail(
    count: Annotated[int, typer.Option("--count", "-n", help="How many entries.")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the newest entries."""
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        size = recorder.size()
        _show(recorder, max(0, size - count), size, as_json)


@log_app.command("payload")
def log_payload(
    index: Annotated[int, typer.Argument(help="The entry's index.")],
    reveal: Annotated[
        bool,
        typer.Option("--reveal", help="Open the sealed original with the payload key (recorded)."),
    ] = False,
    payload_key: PayloadKeyOption = None,
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Print an entry's payload as JSON: the verdict and the text as recorded (redacted by
    default); with --reveal also the original, opened with the payload key."""
    from swisscheese.recorder import RecordError
    from swisscheese.recorder.events import PayloadRevealed
    from swisscheese.recorder.sealing import DEFAULT_PAYLOAD_KEY, SealError, load_payload_key

    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        entry = recorder.store.entry(index)
        if entry is None or entry.payload_digest is None:
            fail(f"entry {index} has no payload" if entry else f"no entry {index}")
        data = recorder.store.payload(entry.payload_digest)
        if data is None:
            fail(f"the payload of entry {index} was erased")
        payload = json.loads(data)
        if reveal:
            sealed = payload.get("sealed_text")
            if not isinstance(sealed, dict):
                fail(f"entry {index} has no sealed original (nothing was redacted, or no key)")
            try:
                key = load_payload_key(payload_key or DEFAULT_PAYLOAD_KEY)
                original = key.open(sealed)
            except SealError as exc:
                fail(str(exc))
            try:
                recorder.record(PayloadRevealed(index=index, by=by))
            except RecordError as exc:
                fail(f"not revealed: the log could not record it: {exc}")
            payload["original"] = original
    print(json.dumps(payload, ensure_ascii=False, indent=2))


@log_app.command("erase")
def log_erase(
    digest: Annotated[str, typer.Argument(help="Payload digest (sha256:...).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the log).")] = "",
    db: DbOption = None,
) -> None:
    """Delete a payload (personal data); the log records the erasure and still verifies."""
    with open_recorder(db, None, DEFAULT_ORIGIN) as recorder:
        receipt = recorder.erase(digest, reason)
    if receipt is None:
        fail(f"no payload {digest} in the log")
    out.print(f"erased {digest}; the erasure is entry {receipt.index}", highlight=False)
