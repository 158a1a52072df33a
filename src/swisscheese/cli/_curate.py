"""`curate`: training data through the corpus stage, into kept and removed shards, a report and
a signed manifest; `curate verify DIR --manifest M` re-checks a curated dataset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import (
    ByOption,
    DbOption,
    JsonOption,
    err,
    fail,
    fail_issues,
    out,
    print_checks,
)
from swisscheese.cli._screen import PolicyOption


def curate(
    source: Annotated[
        str,
        typer.Argument(
            help="A .jsonl or .parquet shard, a directory of them, or a glob; `verify` to "
            "re-check a curated dataset (then DIR follows).",
        ),
    ],
    target: Annotated[
        Path | None, typer.Argument(help="With `verify`: the curated dataset's directory.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Where kept/, removed/, the report and manifest go."),
    ] = None,
    field: Annotated[str, typer.Option(help="The field or column holding the text.")] = "text",
    policy: PolicyOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    ray: Annotated[
        str | None,
        typer.Option(help="Run shards as Ray tasks: a cluster address, or `local`."),
    ] = None,
    poisoning: Annotated[
        bool,
        typer.Option("--poisoning", help="Also look for backdoor triggers and near-duplicates."),
    ] = False,
    skip_bad: Annotated[
        bool,
        typer.Option(
            "--skip-bad", help="Skip an unreadable shard (named in the report) instead of stopping."
        ),
    ] = False,
    manifest: Annotated[
        Path | None, typer.Option(help="With `verify`: the manifest (default DIR/manifest.json).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(help="With `verify`: the log's verifier key (default: the one it names)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    by: ByOption = "operator",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Curate a training corpus: every record through the policy's corpus stage (harmful
    content, injection text, secrets, personal data), kept or removed shards in the input's
    format, a report, and a manifest signed with the log key and recorded. Resumable: a rerun
    skips finished shards and writes the same bytes."""
    if source == "verify":
        if target is None:
            fail("curate verify DIR: name the curated dataset's directory")
        _verify(target, manifest or target / "manifest.json", key, as_json)
        return
    if output is None:
        fail("curate SRC --out DIR: say where the curated dataset goes")
    _curate(
        source, output, field, policy, workers, ray, poisoning, skip_bad, quiet, by, db, as_json
    )


def _curate(
    source: str,
    output: Path,
    field: str,
    policy: Path | None,
    workers: int,
    ray: str | None,
    poisoning: bool,
    skip_bad: bool,
    quiet: bool,
    by: str,
    db: str | None,
    as_json: bool,
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder
    from swisscheese.config import PolicyError
    from swisscheese.curation import CurateConfig, ShardError, find_shards, finish
    from swisscheese.curation.run import curate as run_curation

    config = CurateConfig(source, output, field, policy, workers, ray, skip_bad)
    try:
        total = len(find_shards(source))
    except ShardError as exc:
        fail(str(exc))
    recorder = open_recorder(db, None, DEFAULT_ORIGIN, create=True)
    if recorder.signer is None:
        recorder.close()
        fail("the manifest is signed with the log key: create it with `swisscheese keys init`")
    started = time.perf_counter()
    records = 0
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err, disable=quiet,
    )  # fmt: skip
    try:
        with bar:
            task = bar.add_task("curating", total=total, rate="", unit="shards")

            def advance(_: object, count: int) -> None:
                nonlocal records
                records += count
                rate = records / max(1e-9, time.perf_counter() - started)
                bar.update(task, advance=1, rate=f"{records:,} documents, {rate:,.0f}/s")

            outcome = run_curation(config, advance)
            # Poisoning detection reads every shard three times (the third only if there
            # are suspects).
            looking = bar.add_task(
                "poisoning", total=3 * total, rate="", unit="shard passes", visible=poisoning
            )
            summary = finish(
                outcome,
                config,
                recorder,
                by,
                poisoning=poisoning,
                progress=lambda step: bar.update(looking, advance=1, rate=step),
            )
            bar.update(looking, completed=3 * total)
    except PolicyError as exc:
        fail_issues(exc)
    except ShardError as exc:
        fail(str(exc))
    finally:
        recorder.close()
    elapsed = time.perf_counter() - started
    if as_json:
        print(json.dumps(summary | {"seconds": round(elapsed, 3)}))
        return
    out.print(
        f"{summary['records']:,} records in {elapsed:.1f} s: {summary['kept']:,} kept "
        f"({summary['modified']:,} redacted), {summary['removed']:,} removed"
        + (f", {summary['resumed']} shards already done" if summary["resumed"] else ""),
        highlight=False,
    )
    for category, n in summary["removed_by_category"].items():
        out.print(f"  {category:28} {n:,}", highlight=False)
    if summary.get("triggers"):
        for t in summary["triggers"]:
            out.print(
                f"  suspected trigger {t['trigger']!r} ({t['family']}): {t['documents']} documents",
                highlight=False,
            )
    out.print(
        f"report: {output / 'report.html'}; manifest: {output / 'manifest.json'} "
        f"(root {summary['root'][:16]}…, log entry {summary['record']})",
        highlight=False,
    )


def _verify(directory: Path, manifest: Path, key: str | None, as_json: bool) -> None:
    from swisscheese.curation.manifest import read_manifest, verify_dataset
    from swisscheese.recorder.note import NoteError, Verifier

    try:
        document = read_manifest(manifest)
    except (OSError, ValueError) as exc:
        fail(f"{manifest}: cannot read the manifest ({exc})")
    try:
        verifier = Verifier.parse(key) if key else None
    except NoteError as exc:
        fail(f"--key: {exc}")
    result = verify_dataset(directory, document, verifier)
    print_checks(
        result.checks,
        result.ok,
        as_json=as_json,
        changed=result.changed,
        missing=result.missing,
        extra=result.extra,
    )


def register(app: typer.Typer) -> None:
    app.command("curate")(curate)
