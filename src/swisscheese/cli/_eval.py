"""``swisscheese eval``: red-team and measure a policy, write results.json and report.html."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swisscheese.cli._common import DbOption, err, fail, out, progress_bar
from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder
from swisscheese.config import Settings

# Shares of attack prompts and benign items read by an ensemble without a late member.
_DEGRADED = ("degraded_attack_prompts", "degraded_benign")


def _pct(estimate: dict[str, Any]) -> str:
    value = estimate.get("value")
    if value is None:
        return "–"
    lo, hi = estimate["ci95"]
    return f"{100 * value:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def _point(estimate: dict[str, Any], pct: bool = True) -> str:
    value = estimate.get("value")
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def _render(results: dict[str, Any], paths: tuple[Path, Path]) -> None:
    counts = results["counts"]
    table = Table(
        title=(
            f"{counts['attacks']} attack goals ({counts['attack_prompts']} prompts), "
            f"{counts['benign']} benign prompts"
        ),
        caption=f"target {results['target']}, judge {results['judge']}; 95% intervals in "
        "results.json",
        header_style="bold",
    )
    table.add_column("barrier", no_wrap=True)
    table.add_column("action", no_wrap=True)
    for col in ("TPR", "FPR", "AUC", "R@1%FPR"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = [
        (name, m["action"] + ("" if m["barrier"] else "*"), m)
        for name, m in results["layers"].items()
    ]
    rows.append(("stack", "", results["stack"]))
    for name, action, m in rows:
        table.add_row(
            name,
            action,
            _point(m["tpr"]),
            _point(m["fpr"]),
            _point(m["roc_auc"], pct=False),
            _point(m["recall_at_1pct_fpr"]),
        )
    out.print(table)
    out.print("* detects only: its action does not stop a request", style="dim")
    asr, sc, lat = results["asr"], results["swiss_cheese"], results["latency_ms"]["stack"]
    ratio = sc.get("ratio")
    out.print(f"ASR@1 {_pct(asr['at_1'])}", highlight=False)
    out.print(f"adaptive ASR@{asr['k']} {_pct(asr['at_k'])}", highlight=False)
    if through := _through_line(results):
        out.print(through, highlight=False)
    out.print(f"benign refused {_pct(results['stack']['fpr'])}", highlight=False)
    by_failure = results["stack"]["fpr_by_failure"]["value"]
    if by_failure:
        out.print(
            f"  of which {100 * by_failure:.1f}% only by monitors that failed (timeouts, "
            "errors): the layer's on_error, not detection",
            highlight=False,
        )
    degraded = [results["stack"].get(k, {}).get("value") for k in _DEGRADED]
    if any(degraded):
        out.print(
            f"degraded: {100 * (degraded[0] or 0):.1f}% of attack prompts and "
            f"{100 * (degraded[1] or 0):.1f}% of benign ones were read by an ensemble without a "
            "late member (member_timeout_ms): the fast tier's reading",
            highlight=False,
        )
    out.print(
        f"stack miss rate {_pct(sc['observed_miss'])} observed vs "
        f"{_pct(sc['independent_miss'])} if independent"
        + (f" (ratio {ratio})" if ratio is not None else ""),
        highlight=False,
    )
    out.print(
        f"latency per exchange: p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms; "
        f"run took {results['duration_s']} s",
        highlight=False,
    )
    for corpus, o in results.get("training_overlap", {}).items():
        if o["trained_on"]:
            out.print(
                f"trained on: {o['trained_on']} of {o['items']} items of {corpus} are training "
                f"data of {', '.join(o['models'])}",
                style="yellow",
                highlight=False,
            )
    out.print(f"wrote {paths[0]} and {paths[1]}", highlight=False)


def _through_line(results: dict[str, Any]) -> str | None:
    """How the goals that got through did: how many nothing found anything in, and which
    barrier came nearest to stopping the rest."""
    through = results.get("attacks_through", [])
    if not through:
        return None
    succeeded = results["asr"].get("succeeded", len(through))
    nothing = sum(t["nearest"] is None for t in through)
    nearest = Counter(t["nearest"]["barrier"] for t in through if t["nearest"])
    listed = f" ({len(through)} listed)" if len(through) < succeeded else ""
    line = f"got through: {succeeded} goal{'s' if succeeded != 1 else ''}{listed}"
    if nothing:
        line += f"; no barrier found anything in {nothing}"
    if nearest:
        line += "; nearest to stopping the rest: " + ", ".join(
            f"{name} {n}" for name, n in nearest.most_common()
        )
    return line + " (report.html shows each as sent)"


def eval_command(
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", "-p", envvar="SWISSCHEESE_POLICY", help="Policy file (default: embedded)."
        ),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            help="inprocess (the policy around a worst-case model) or an OpenAI-compatible "
            "base URL such as http://127.0.0.1:8080/v1."
        ),
    ] = "inprocess",
    model: Annotated[str, typer.Option(help="Model name sent to a URL target.")] = "default",
    attacks: Annotated[
        list[str] | None,
        typer.Option("--attacks", help="Attack corpus spec, repeatable (see --list-corpora)."),
    ] = None,
    benign: Annotated[
        list[str] | None,
        typer.Option("--benign", help="Benign corpus spec, repeatable."),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Attempts per goal.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed for sampling and the attacker.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 1,
    ray: Annotated[
        str | None, typer.Option("--ray", help="Run as Ray tasks: a cluster address or 'local'.")
    ] = None,
    judge: Annotated[
        str, typer.Option(help="refusal (deterministic) or URL#MODEL for an LLM judge.")
    ] = "refusal",
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out/eval"),
    record: Annotated[
        bool,
        typer.Option("--record", help="Record the results as evidence in the log."),
    ] = False,
    db: DbOption = None,
    list_corpora: Annotated[
        bool, typer.Option("--list-corpora", help="List the corpus specs and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Red-team the policy layer by layer and as a stack; write results.json and report.html.

    With no options: the embedded default policy, in-process, on the built-in corpora. The
    results are also recorded as evidence when a store is configured (--db or SWISSCHEESE_DB)
    or --record is given."""
    from swisscheese.config import PolicyError, load_policy
    from swisscheese.evaluation import (
        DEFAULT_ATTACKS,
        DEFAULT_BENIGN,
        CorpusError,
        EvalConfig,
        evaluate,
        load_items,
        record_evidence,
        write_outputs,
    )
    from swisscheese.evaluation.corpora import describe_corpora

    if list_corpora:
        for name, desc in describe_corpora().items():
            out.print(f"{name:20} {desc}", highlight=False)
        return
    if policy is not None:
        try:
            load_policy(policy)
        except PolicyError as exc:
            fail(str(exc))
    if target != "inprocess" and not target.startswith(("http://", "https://")):
        fail(f"--target {target!r}: expected 'inprocess' or an http(s) URL")
    if judge != "refusal" and "#" not in judge:
        fail(f"--judge {judge!r}: expected 'refusal' or URL#MODEL")
    attack_specs = attacks or list(DEFAULT_ATTACKS)
    benign_specs = benign or list(DEFAULT_BENIGN)
    try:
        attack_items, benign_items = load_items(attack_specs, benign_specs, seed)
    except CorpusError as exc:
        fail(str(exc))
    recorder = open_recorder(db, None, DEFAULT_ORIGIN, create=True) if (record or db) else None
    config = EvalConfig(
        policy=str(policy) if policy else None,
        target=target,
        model=model,
        api_key=eval_key.get_secret_value() if (eval_key := Settings().eval_api_key) else None,
        judge=judge,
        k=k,
        seed=seed,
    )
    total = len(attack_items) + len(benign_items)
    bar = progress_bar("evaluating", show=not quiet and err.is_terminal)
    try:
        with bar:
            task = bar.add_task("eval", total=total)
            results = evaluate(
                config,
                attack_items,
                benign_items,
                workers=workers,
                ray_address=ray,
                progress=lambda n: bar.advance(task, n),
                specs={"attacks": attack_specs, "benign": benign_specs},
            )
        paths = write_outputs(results, out_dir)
        if recorder is not None:
            receipt = record_evidence(results, recorder)
            out.print(f"recorded as evidence at log index {receipt.index}", highlight=False)
    except (OSError, RuntimeError, ValueError) as exc:
        fail(f"evaluation failed: {exc}")
    finally:
        if recorder is not None:
            recorder.close()
    _render(results, paths)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
