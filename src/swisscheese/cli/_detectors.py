"""``swisscheese train``, ``score`` and ``eval-detector``: the learned tier from the shell."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from swisscheese.cli._common import err, fail, out

DETECTORS = ("injection", "indirect-injection", "harmful-request")  # monitors/learned.py
DEFAULT_DEV = Path("../shared/datasets/dev")

ModelOption = Annotated[
    Path | None, typer.Option("--model", help="A trained .npz (default: the shipped model).")
]


def _detector(name: str, model: Path | None) -> object:
    from swisscheese.learned.model import LinearDetector
    from swisscheese.monitors.learned import shipped_model

    if name not in DETECTORS:
        fail(f"unknown detector {name!r} (known: {', '.join(DETECTORS)})")
    path = model or shipped_model(name)
    try:
        return LinearDetector.load(path)
    except (OSError, ValueError, KeyError) as exc:
        fail(f"{path}: cannot load the model: {exc}")


def train_command(
    detector: Annotated[str, typer.Argument(help=f"One of: {', '.join(DETECTORS)}.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where the model and cards go.")],
    seed: Annotated[int, typer.Option(help="Seed for data generation, split and solver.")] = 0,
    dev: Annotated[
        Path,
        typer.Option(help="Development data: its items are kept out of training (leakage check)."),
    ] = DEFAULT_DEV,
    no_leakage_check: Annotated[
        bool, typer.Option("--no-leakage-check", help="Train without development data at hand.")
    ] = False,
) -> None:
    """Train a fast-tier detector from data in installed packages plus generated data; write
    the model, its data card and its model card."""
    try:
        from swisscheese.training.fit import train
        from swisscheese.training.leakage import LeakageError
    except ImportError as exc:
        fail(f"training needs the [train] extra (pip install 'swisscheese[train]'): {exc}")
    if detector not in DETECTORS:
        fail(f"unknown detector {detector!r} (known: {', '.join(DETECTORS)})")
    if not no_leakage_check and not dev.is_dir():
        fail(f"{dev}: no development data for the leakage check (or --no-leakage-check)")
    from swisscheese.evaluation.corpora import CorpusError

    started = time.perf_counter()
    try:
        report = train(detector, out_dir, dev_root=None if no_leakage_check else dev, seed=seed)
    except LeakageError as exc:
        fail(str(exc))
    except CorpusError as exc:
        fail(f"training data: {exc}")
    m = report.metrics
    out.print(
        f"{detector}: {report.data_card['items']} items; held-out ROC AUC {m['roc_auc']}, "
        f"recall@1% FPR {m['recall_at_1pct_fpr']}, recall@0.1% FPR {m['recall_at_0_1pct_fpr']}; "
        f"{time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    out.print(f"wrote {report.model_path} and its data and model cards", highlight=False)


def _read_jsonl(path: Path, field: str) -> list[dict[str, object]]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}:{n}: not valid JSON ({exc.msg})")
        if isinstance(record, str):
            record = {field: record}
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            fail(f"{path}:{n}: expected an object with a string {field!r}")
        records.append(record)
    return records


def score_command(
    detector: Annotated[str, typer.Argument(help=f"One of: {', '.join(DETECTORS)}.")],
    input_path: Annotated[Path, typer.Option("--input", help="JSONL with a 'text' per line.")],
    output: Annotated[Path, typer.Option("--output", help="JSONL out: each line + score.")],
    tier: Annotated[str, typer.Option(help="fast (the embedding tier is not built yet).")] = "fast",
    model: ModelOption = None,
) -> None:
    """Score every line of a JSONL file; write it back with ``score`` and ``category``."""
    if tier != "fast":
        fail(f"--tier {tier}: only the fast tier exists so far")
    det = _detector(detector, model)
    records = _read_jsonl(input_path, "text")
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as sink:
        for record in records:
            p = det.predict(str(record["text"]))  # type: ignore[attr-defined]
            sink.write(
                json.dumps({**record, "score": round(p.score, 6), "category": p.category}) + "\n"
            )
    out.print(f"scored {len(records)} lines into {output}", highlight=False)


def eval_detector_command(
    detector: Annotated[str, typer.Argument(help=f"One of: {', '.join(DETECTORS)}.")],
    positives: Annotated[Path, typer.Option(help="JSONL of texts that should be flagged.")],
    negatives: Annotated[Path, typer.Option(help="JSONL of texts that should pass.")],
    model: ModelOption = None,
) -> None:
    """ROC AUC, recall at 1% and 0.1% FPR, per-category recall and latency on your own data."""
    import numpy as np

    from swisscheese.evaluation.metrics import percentiles, recall_at_fpr, roc_auc

    det = _detector(detector, model)
    pos = _read_jsonl(positives, "text")
    neg = _read_jsonl(negatives, "text")
    if not pos or not neg:
        fail("need at least one positive and one negative")
    times: list[float] = []

    def run(records: list[dict[str, object]]) -> list[tuple[float, str]]:
        out_ = []
        for r in records:
            t0 = time.perf_counter()
            p = det.predict(str(r["text"]))  # type: ignore[attr-defined]
            times.append((time.perf_counter() - t0) * 1000)
            out_.append((p.score, str(r.get("category") or p.category)))
        return out_

    ps, ns = run(pos), run(neg)
    p_scores = np.array([s for s, _ in ps])
    n_scores = np.array([s for s, _ in ns])
    threshold = det.thresholds.get("fpr_1pct", 0.5)  # type: ignore[attr-defined]
    table = Table(title=f"{detector}: {len(pos)} positives, {len(neg)} negatives")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("ROC AUC", f"{roc_auc(p_scores, n_scores):.4f}")
    table.add_row("recall @ 1% FPR", f"{recall_at_fpr(p_scores, n_scores, 0.01):.4f}")
    table.add_row("recall @ 0.1% FPR", f"{recall_at_fpr(p_scores, n_scores, 0.001):.4f}")
    table.add_row("shipped 1%-FPR threshold", f"{threshold:.4f}")
    table.add_row(
        "  TPR / FPR at it",
        f"{np.mean(p_scores >= threshold):.4f} / {np.mean(n_scores >= threshold):.4f}",
    )
    lat = percentiles(times)
    table.add_row("latency p50 / p99 (ms)", f"{lat['p50']} / {lat['p99']}")
    out.print(table)
    cats: dict[str, list[bool]] = {}
    for s, c in ps:
        cats.setdefault(c, []).append(s >= threshold)
    if len(cats) > 1:
        per = Table(title="recall at the 1%-FPR threshold, per category")
        per.add_column("category")
        per.add_column("n", justify="right")
        per.add_column("recall", justify="right")
        for c, hits in sorted(cats.items()):
            per.add_row(c, str(len(hits)), f"{np.mean(hits):.3f}")
        out.print(per)
    err.print("", end="")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("score")(score_command)
    app.command("eval-detector")(eval_detector_command)
