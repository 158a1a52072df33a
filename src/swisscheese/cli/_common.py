"""What every command shares: consoles, exit codes, the one way to fail."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from swisscheese.core import decode_bytes

if TYPE_CHECKING:
    from swisscheese.config import ConfigError
    from swisscheese.ops import Operations
    from swisscheese.recorder.note import Signer

out = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_STOPPED, EXIT_USAGE = 0, 1, 2


def progress_bar(label: str, *, show: bool) -> Progress:
    """The progress bar long commands draw on standard error (when ``show``)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show,
    )


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error naming the problem and exit (2: usage error)."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="SWISSCHEESE_DB",
        help="Database URL or SQLite path (default .swisscheese/swisscheese.db).",
    ),
]


def fail_issues(exc: ConfigError) -> NoReturn:
    """A document that cannot be used: each issue (file:line: key: message) on a line."""
    fail("\n       ".join(str(i) for i in exc.issues))


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ByOption = Annotated[str, typer.Option("--by", help="Who acts (recorded in the log).")]
AgentRootOption = Annotated[
    str | None,
    typer.Option(
        envvar="SWISSCHEESE_AGENT_ROOT",
        help="Public key (hex, from `agents init-root`) whose agent tokens are accepted.",
    ),
]
RequireAgentOption = Annotated[
    bool,
    typer.Option(
        "--require-agent",
        envvar="SWISSCHEESE_REQUIRE_AGENT",
        help="Refuse requests and calls that show no valid agent token.",
    ),
]
OperatorKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The operator's signing key (default .swisscheese/operators/BY.key, from "
        "`keys init-operator BY`).",
    ),
]


def operator_signer(by: str, key: Path | None, *, required: bool) -> Signer | None:
    """The signing key of operator ``by`` (a usage error if it is required and missing)."""
    from swisscheese.recorder.decisions import load_operator_key, operator_key_path
    from swisscheese.recorder.note import NoteError

    try:
        signer = load_operator_key(by, key)
    except NoteError as exc:
        fail(str(exc))
    if signer is None and required:
        fail(
            f"decisions are signed: no key for {by!r} at {operator_key_path(by)}; create it "
            f"with `swisscheese keys init-operator {by}` (or give --key)"
        )
    return signer


@contextmanager
def operations(db: str | None, *, create: bool = False) -> Iterator[Operations]:
    """The operations service on the store and log of ``db``; a failure to open is a usage
    error naming the database. Only commands that create state (``create``) may create it."""
    from swisscheese.ops import Operations
    from swisscheese.recorder import Recorder
    from swisscheese.store import AccessStore, Database, LogStore, StoreError

    try:
        database = Database(db, create=create)
    except (StoreError, OSError, ValueError) as exc:
        fail(f"cannot open the store at {db or 'the default database'}: {exc}")
    except Exception as exc:  # driver errors (connection refused, bad URL) are usage errors here
        fail(f"cannot open the store: {type(exc).__name__}: {exc}")
    recorder = Recorder(LogStore(database))
    try:
        yield Operations(AccessStore(database), recorder)
    finally:
        recorder.close()
        database.close()


STDIO = "-"


def iso(moment: dt.datetime | None) -> str | None:
    """A stored time as ISO 8601 for --json output (None stays None)."""
    return moment.isoformat() if moment is not None else None


def read_text(path: Path) -> tuple[str, str]:
    """The text of ``path`` (``-``: standard input) and the name to give in errors; an
    unreadable file is a usage error naming it."""
    if str(path) == STDIO:
        # As for `check -`: bytes that are not UTF-8 become U+FFFD, never a traceback.
        return decode_bytes(sys.stdin.buffer.read()), "<stdin>"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text")
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")


def read_text_lines(path: Path) -> tuple[list[str], str]:
    """``read_text``, as lines."""
    text, name = read_text(path)
    return text.splitlines(), name


@contextmanager
def output_file(path: Path) -> Iterator[IO[str]]:
    """Write to ``path`` (``-``: standard output) all or nothing: the text goes to a temporary
    file beside it, renamed over ``path`` only when the block completes, so a run that stops
    on a bad line leaves no partial file behind."""
    if str(path) == STDIO:
        yield sys.stdout
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as sink:
            yield sink
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def print_checks(
    checks: Iterator[Any] | list[Any], ok: bool, *, as_json: bool, **extra: Any
) -> NoReturn:
    """A verification's checks (objects with name, ok, detail) as lines or JSON; exit 0 if
    ``ok``, 1 if not."""
    import json

    rows = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]
    if as_json:
        print(json.dumps({"ok": ok, "checks": rows, **extra}))
    else:
        for row in rows:
            mark = "ok  " if row["ok"] else "FAIL"
            out.print(f"{mark} {row['name']}: {row['detail']}", highlight=False, markup=False)
        out.print("verified" if ok else "NOT verified", highlight=False)
    raise typer.Exit(0 if ok else 1)
