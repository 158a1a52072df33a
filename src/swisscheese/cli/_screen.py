"""`check`, `scan`, `init`, `monitors`: screening from the shell."""

from __future__ import annotations

import contextlib
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from swisscheese.cli._common import (
    EXIT_OK,
    EXIT_STOPPED,
    DbOption,
    err,
    fail,
    fail_issues,
    out,
    output_file,
    progress_bar,
    read_text_lines,
)
from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder
from swisscheese.core import Action, Content, Stage, Verdict, decode_bytes, valid_text

if TYPE_CHECKING:
    from swisscheese.guard import Guard
    from swisscheese.scanning import ScanSummary


PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        "-p",
        envvar="SWISSCHEESE_POLICY",
        help="Policy file (default: the embedded default policy).",
    ),
]
StageOption = Annotated[
    Stage, typer.Option("--stage", "-s", help="Stage the content is screened at.")
]


class Author(StrEnum):
    """Who wrote a checked text (``Content.role``)."""

    system = "system"
    developer = "developer"
    user = "user"
    assistant = "assistant"
    tool = "tool"


_ACTION_STYLE = {
    "allow": "green",
    "log": "green",
    "flag": "yellow",
    "modify": "cyan",
    "escalate": "magenta",
    "block": "bold red",
    "halt": "bold red",
}


RecordOption = Annotated[
    bool, typer.Option("--record", help="Record every verdict in the flight recorder.")
]


def _guard(policy: Path | None, record: bool = False, db: str | None = None) -> Guard:
    from swisscheese.config import PolicyError
    from swisscheese.guard import Guard
    from swisscheese.recorder import RecordError

    recorder = open_recorder(db, None, DEFAULT_ORIGIN, create=True) if record else None
    try:
        return Guard.from_policy(policy, recorder=recorder) if policy else Guard(recorder=recorder)
    except PolicyError as exc:
        fail_issues(exc)
    except RecordError as exc:
        fail(f"flight recorder: {exc}")


def _checked(guard: Guard, stage: Stage, text: str | Content) -> Verdict:
    from swisscheese.recorder import RecordError

    try:
        return guard.check_sync(stage, text)
    except RecordError as exc:
        fail(f"flight recorder: {exc}")


def exit_code(action: Action) -> int:
    return EXIT_STOPPED if action.stops else EXIT_OK


def render_verdict(verdict: Verdict, text: str) -> None:
    style = _ACTION_STYLE[verdict.action.value]
    out.print(
        f"[{style}]{verdict.action.value.upper()}[/{style}]  stage={verdict.stage.value} "
        f"layer={verdict.layer or '-'}  {verdict.duration_ms:.3f} ms",
        highlight=False,
    )
    if verdict.findings:
        table = Table(show_edge=False, header_style="bold")
        for column in ("monitor", "category", "score", "where", "detail"):
            table.add_column(column)
        for f in verdict.findings:
            where = ", ".join(repr(text[s.start : s.end][:40]) for s in f.spans) or "-"
            detail = ", ".join(
                f"{k}={v}" for k, v in f.detail.items() if k not in ("replacement", "decoded_from")
            )
            table.add_row(f.monitor, f.category, f"{f.score:.2f}", where, detail[:60])
        out.print(table)
    for d in verdict.decisions:
        if d.rule < 0:
            out.print(f"  {d.reason}", highlight=False)
        elif d.action is not Action.ALLOW:
            out.print(
                f"  rule {d.rule} ({d.monitor}) → {d.action.value}: {d.reason}", highlight=False
            )
    failed = [r for r in verdict.runs if r.status.value != "ok"]
    for r in failed:
        out.print(f"  [red]{r.monitor}: {r.status.value}[/red] {r.error or ''}", highlight=False)
    if verdict.modified is not None:
        out.print("modified:", verdict.modified, highlight=False, soft_wrap=True)
    out.print(f"[dim]policy {verdict.policy_digest}[/dim]", highlight=False)


def check(
    text: Annotated[str, typer.Argument(help="Text to screen, or - to read standard input.")],
    stage: StageOption = Stage.INPUT,
    policy: PolicyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    record: RecordOption = False,
    db: DbOption = None,
    role: Annotated[
        Author | None,
        typer.Option(
            "--role",
            help="Who wrote the text (default: user, or assistant for output and reasoning); "
            "a system prompt the policy pins is not screened.",
        ),
    ] = None,
) -> None:
    """Screen one text: exit 0 if it may go on, 1 if stopped, 2 on a usage error."""
    if text == "-":
        text = decode_bytes(sys.stdin.buffer.read())
    text = valid_text(text)
    guard = _guard(policy, record, db)
    verdict = _checked(guard, stage, Content(text, role.value, stage) if role else text)
    if as_json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    else:
        render_verdict(verdict, text)
    raise typer.Exit(exit_code(verdict.action))


def scan(
    file: Annotated[
        Path | None,
        typer.Argument(help='JSONL input: one {"text": ...} object a line (- for stdin).'),
    ] = None,
    examples: Annotated[
        bool, typer.Option("--examples", help="Screen the bundled example inputs.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write JSONL verdicts here (- for stdout)."),
    ] = None,
    stage: StageOption = Stage.INPUT,
    policy: PolicyOption = None,
    field: Annotated[str, typer.Option(help="Name of the text field.")] = "text",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    record: RecordOption = False,
    db: DbOption = None,
) -> None:
    """Screen every record of a JSONL file; print a summary, write verdicts as JSONL."""
    from swisscheese.recorder import RecordError
    from swisscheese.scanning import (
        InputError,
        NullProgress,
        ScanSummary,
        examples_path,
        read_jsonl,
        verdict_line,
    )
    from swisscheese.scanning import scan as run_scan

    if examples == (file is not None):
        fail("give either a FILE or --examples")
    path = examples_path() if examples else file
    assert path is not None
    lines, source = read_text_lines(path)
    guard = _guard(policy, record, db)
    summary = ScanSummary()
    show = not quiet and err.is_terminal
    bar = progress_bar("screening", show=show)
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(output_file(output)) if output is not None else None
        try:
            with bar:
                task = bar.add_task("scan", total=len(lines))

                class _Bar:
                    def update(self, n: int = 1) -> None:
                        bar.advance(task, n)

                    def complete(self) -> None:
                        bar.update(task, completed=len(lines))

                progress = _Bar() if show else NullProgress()
                records = read_jsonl(lines, source, field_name=field, stage=stage)
                for item, verdict in run_scan(guard, records, progress):
                    summary.add(item, verdict)
                    if sink is not None:
                        sink.write(verdict_line(item, verdict) + "\n")
        except InputError as exc:
            fail(str(exc))
        except RecordError as exc:
            fail(f"flight recorder: {exc}")
    source = "the bundled examples" if examples else source
    _render_summary(summary, source, err if str(output) == "-" else out)
    if summary.expected and summary.matched != summary.expected:
        raise typer.Exit(EXIT_STOPPED)


def _render_summary(summary: ScanSummary, source: str, console: Console) -> None:
    table = Table(title=f"{summary.total} records from {source}", header_style="bold")
    table.add_column("action")
    table.add_column("records", justify="right")
    for action in Action:
        n = summary.by_action.get(action.value, 0)
        if n:
            style = _ACTION_STYLE[action.value]
            table.add_row(f"[{style}]{action.value}[/{style}]", str(n))
    console.print(table)
    if summary.by_category:
        cats = ", ".join(f"{c} {n}" for c, n in summary.by_category.most_common())
        console.print(f"findings: {cats}", highlight=False, soft_wrap=True)
    console.print(
        f"latency per record: p50 {summary.percentile(0.5):.3f} ms, "
        f"p99 {summary.percentile(0.99):.3f} ms",
        highlight=False,
    )
    if summary.expected:
        console.print(
            f"matches expected action: {summary.matched}/{summary.expected}", highlight=False
        )
        for record, verdict in summary.mismatches:
            console.print(
                f"  line {record.line} ({record.id or '-'}): expected {record.expect}, "
                f"got {verdict.action.value}",
                highlight=False,
            )


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the policy.")] = Path(
        "swisscheese.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    opt_in: Annotated[
        list[str] | None,
        typer.Option(
            "--opt-in",
            metavar="NAME",
            help="Also write the rules the default leaves off because they need an extra "
            "(repeatable): harmful-requests (torch: the [ml] and [local] extras).",
        ),
    ] = None,
) -> None:
    """Write the commented default policy to PATH."""
    from swisscheese.config import default_policy_text

    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite")
    try:
        text = default_policy_text(opt_in or ())
    except ValueError as exc:
        fail(str(exc))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror}")
    out.print(f"wrote {path}", highlight=False)


def monitors(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the registered monitors (built-in and plugins) without loading any model."""
    from swisscheese.monitors import REGISTRY

    specs = REGISTRY.specs()
    if as_json:
        rows = [
            {
                "name": s.name,
                "origin": s.origin,
                "tier": s.tier,
                "stages": sorted(st.value for st in s.stages),
                "categories": list(s.categories),
                "description": s.description,
                "config": s.config.model_json_schema(),
            }
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table(header_style="bold")
    for column in ("monitor", "tier", "origin", "categories", "description"):
        table.add_column(column)
    for s in specs:
        table.add_row(s.name, str(s.tier), s.origin, ", ".join(s.categories), s.description)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(scan)
    app.command()(init)
    app.command()(monitors)
