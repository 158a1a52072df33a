"""``swisscheese train``, ``score`` and ``eval-detector``: the learned tier from the shell."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from swisscheese.cli._common import err, fail, out, output_file, read_text_lines
from swisscheese.core.errors import InputError
from swisscheese.core.jsonl import json_lines
from swisscheese.learned.specs import DETECTOR_SPECS

if TYPE_CHECKING:
    from swisscheese.learned.model import Prediction
    from swisscheese.monitors.learned import Scorer

DETECTORS = tuple(DETECTOR_SPECS)
DEFAULT_DEV = Path("../shared/datasets/dev")

ModelOption = Annotated[
    Path | None, typer.Option("--model", help="A trained .npz (default: the shipped model).")
]
TIERS = ("fast", "embedding", "probe", "ensemble", "sentences")
TierOption = Annotated[
    str,
    typer.Option(
        help="fast (hashed n-grams), embedding (MiniLM; the [ml] extra), probe (the local "
        "model's hidden states; the [local] extra), ensemble (a calibrated stacker over "
        "several of them) or sentences (indirect-injection: the fast head sentence by "
        "sentence, and how each likely instruction relates to its document; the [ml] extra)."
    ),
]


def _detector(name: str, tier: str, model: Path | None) -> Scorer:
    from swisscheese.monitors.learned import load_scorer

    if name not in DETECTORS:
        fail(f"unknown detector {name!r} (known: {', '.join(DETECTORS)})")
    if tier not in TIERS:
        fail(f"unknown tier {tier!r} (known: {', '.join(TIERS)})")
    try:
        return load_scorer(name, tier, model)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(str(exc))


def _predict(scorer: Scorer, texts: list[str]) -> list[Prediction]:
    from swisscheese.learned.causal_lm import LocalModelError
    from swisscheese.learned.embedding import EmbeddingError

    try:
        return scorer.predict(texts)
    except (EmbeddingError, LocalModelError) as exc:
        fail(str(exc))


def train_command(
    detector: Annotated[str, typer.Argument(help=f"One of: {', '.join(DETECTORS)}.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where the model and cards go.")],
    seed: Annotated[int, typer.Option(help="Seed for data generation, split and solver.")] = 0,
    dev: Annotated[
        Path,
        typer.Option(help="Development data sets to train on as well (skipped if absent)."),
    ] = DEFAULT_DEV,
    no_dev: Annotated[
        bool, typer.Option("--no-dev", help="Train on package and generated data only.")
    ] = False,
    held_out: Annotated[
        Path | None,
        typer.Option(
            help="Data never to train on (a benchmark's test split): its items and "
            "near-duplicates are removed, and training refuses if one remains."
        ),
    ] = None,
    cross_validate: Annotated[
        bool,
        typer.Option(
            "--cross-validate",
            help="Leave-one-source-out cross-validation first; its out-of-fold benign scores "
            "set the thresholds and its figures go into the cards.",
        ),
    ] = False,
    sample: Annotated[
        int | None,
        typer.Option(
            min=100,
            help="Train on a seeded sample of this many examples (for tiers whose features cost "
            "a forward pass: the probe tier reads ~5 prompts a second per core).",
        ),
    ] = None,
    mutated: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Held-out attacks per held-out set copied through each mutator for the "
            "robustness figures (default: 40 fast, 20 embedding, 10 probe; 0 leaves them "
            "out). Each copy is read like a training item: fewer make a quick run quicker.",
        ),
    ] = None,
    tier: TierOption = "fast",
    members: Annotated[
        str,
        typer.Option(
            help="--tier ensemble: the tiers it stacks, comma-separated; their models must "
            "already be in --out. It always cross-validates (the stacker is fitted on "
            "out-of-fold scores). Written as DETECTOR.ensemble.json for fast,embedding, "
            "else as DETECTOR.ensemble.TIERS.json (DETECTOR.ensemble.fast-embedding-probe.json)."
        ),
    ] = "fast,embedding",
    encoder: Annotated[
        str | None,
        typer.Option(
            help="--tier embedding: the encoder its head reads, english (all-MiniLM-L6-v2) or "
            "multilingual (Universal Sentence Encoder multilingual v3); default: the one "
            "measured best for the detector. --tier ensemble follows the embedding member's "
            "file in --out. --tier sentences: the encoder that relates sentences (default "
            "english)."
        ),
    ] = None,
) -> None:
    """Train a learned detector from data in installed packages, generated data and (when
    present) the development sets; write the model, its data card and its model card."""
    try:
        from swisscheese.training.crossval import cross_validate as run_cross_validation
        from swisscheese.training.fit import prepare, train
    except ImportError as exc:
        fail(f"training needs the [train] extra (pip install 'swisscheese[train]'): {exc}")
    if detector not in DETECTORS:
        fail(f"unknown detector {detector!r} (known: {', '.join(DETECTORS)})")
    dev_root = None if no_dev or not dev.is_dir() else dev
    if held_out is not None and not held_out.is_dir():
        fail(f"{held_out}: no such directory (--held-out)")
    if dev_root is None and not no_dev and dev != DEFAULT_DEV:
        fail(f"{dev}: no such directory (--dev, or --no-dev)")
    if encoder is not None and tier not in ("embedding", "ensemble", "sentences"):
        fail(f"--encoder chooses the embedding tier's encoder; --tier {tier} has none")
    if tier == "ensemble":
        _train_ensemble(
            detector, out_dir, members, seed, dev_root, held_out, sample, mutated, encoder
        )
        return
    if tier == "sentences":
        _train_sentences(detector, out_dir, seed, dev_root, sample, encoder)
        return
    started = time.perf_counter()
    with _training_errors():
        data = prepare(
            detector,
            tier=tier,
            seed=seed,
            dev_root=dev_root,
            held_out_root=held_out,
            sample=sample,
            encoder=encoder,
        )
        cv = (
            run_cross_validation(data, seed=seed, mutated_attacks=mutated)
            if cross_validate
            else None
        )
        for line in cv.lines() if cv else []:
            out.print(f"  {line}", highlight=False)
        report = train(detector, out_dir, tier=tier, seed=seed, dataset=data, cross_validation=cv)
    m = report.metrics
    trained_on = ", ".join(report.data_card["trained_on_development_sets"]) or "none"
    out.print(
        f"{detector}: {report.data_card['items']} items (development sets: {trained_on}); "
        f"held-out split ROC AUC {m['roc_auc']}, recall@1% FPR {m['recall_at_1pct_fpr']}; "
        f"{time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    out.print(f"wrote {report.model_path} and its data and model cards", highlight=False)


@contextmanager
def _training_errors() -> Iterator[None]:
    """What can go wrong in training, as a message naming it (exit status 2)."""
    from swisscheese.evaluation.corpora import CorpusError
    from swisscheese.learned.causal_lm import LocalModelError
    from swisscheese.learned.embedding import EmbeddingError
    from swisscheese.training.leakage import LeakageError

    try:
        yield
    except (LeakageError, EmbeddingError, LocalModelError, ValueError) as exc:
        fail(str(exc))
    except CorpusError as exc:
        fail(f"training data: {exc}")


def _train_ensemble(
    detector: str,
    out_dir: Path,
    members: str,
    seed: int,
    dev_root: Path | None,
    held_out: Path | None,
    sample: int | None,
    mutated: int | None,
    encoder: str | None,
) -> None:
    from swisscheese.training.ensemble import member_encoder, prepare_ensemble, train_ensemble

    tiers = tuple(t.strip() for t in members.split(",") if t.strip())
    started = time.perf_counter()
    with _training_errors():
        data = prepare_ensemble(
            detector,
            tiers,
            seed=seed,
            dev_root=dev_root,
            held_out_root=held_out,
            sample=sample,
            # The embedding member is re-fitted fold by fold on the encoder its file reads.
            encoder=encoder or member_encoder(out_dir, detector, tiers),
        )
        path, measured = train_ensemble(data, out_dir, tiers, seed=seed, mutated_attacks=mutated)
    for line in measured.lines():
        out.print(f"  {line}", highlight=False)
    out.print(
        f"{detector}: ensemble of {', '.join(tiers)} over {len(data.examples)} items; "
        f"{time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    out.print(f"wrote {path} and its data and model cards", highlight=False)


def _train_sentences(
    detector: str,
    out_dir: Path,
    seed: int,
    dev_root: Path | None,
    sample: int | None,
    encoder: str | None,
) -> None:
    from swisscheese.learned.encoders import encoder_for
    from swisscheese.learned.model import model_filename
    from swisscheese.training.devdata import DevData
    from swisscheese.training.fit import encoder_features
    from swisscheese.training.sentences import documents, fit_reader

    if DETECTOR_SPECS[detector].window is None:
        fail(f"{detector}: the sentences tier is for detectors that read documents")
    head = out_dir / model_filename(detector, "fast")
    if not head.is_file():
        fail(
            f"the sentence reader pins its fast head, and {head} is missing: train it into "
            f"{out_dir} first (swisscheese train {detector} --out {out_dir})"
        )
    started = time.perf_counter()
    with _training_errors():
        docs = documents(seed, DevData(dev_root) if dev_root else None, sample=sample)
        features = encoder_features(encoder or "english")
        reader = fit_reader(
            docs,
            head,
            encoder_for(features).encode,
            detector=detector,
            seed=seed,
            encoder=features,
        )
    path = out_dir / model_filename(detector, "sentences")
    reader.save(path)
    chosen = reader.meta["by_weight"][str(reader.weight)]
    out.print(
        f"{detector}: sentence reader over {len(docs.texts)} documents; relation weight "
        f"{reader.weight}, planted documents caught where 1% of clean ones are flagged "
        f"{chosen['recall_at_1pct']:.3f} (not held out: the fast head trained on such "
        f"documents); {time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    out.print(f"wrote {path}", highlight=False)


def _read_jsonl(path: Path, detector: str) -> tuple[list[dict[str, object]], list[str]]:
    """The records of a JSONL file and the text each one gives the detector to score."""
    records: list[dict[str, object]] = []
    texts: list[str] = []
    lines, source = read_text_lines(path)
    try:
        parsed = list(json_lines(lines, source))
    except InputError as exc:
        fail(str(exc))
    for n, record in parsed:
        if isinstance(record, str):
            record = {"text": record}
        text = _scored_text(detector, record)
        if text is None:
            fail(f"{source}:{n}: expected an object with {DETECTOR_SPECS[detector].input_help}")
        records.append(record)
        texts.append(text)
    return records, texts


def _scored_text(detector: str, record: object) -> str | None:
    if not isinstance(record, dict):
        return None
    if detector == "harmful-output" and isinstance(record.get("response"), str):
        from swisscheese.learned.predict import pair_text

        request = record.get("request")
        return pair_text(request if isinstance(request, str) else "", record["response"])
    for key in DETECTOR_SPECS[detector].input_fields:
        if isinstance(record.get(key), str):
            return str(record[key])
    return None


def score_command(
    detector: Annotated[str, typer.Argument(help=f"One of: {', '.join(DETECTORS)}.")],
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="JSONL: 'text' per line ('context' for indirect-injection, 'request' and "
            "'response' for harmful-output); - for stdin.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", help="JSONL out: each line + score (- for stdout).")
    ],
    tier: TierOption = "fast",
    model: ModelOption = None,
) -> None:
    """Score every line of a JSONL file; write it back with ``score`` and ``category``."""
    det = _detector(detector, tier, model)
    records, texts = _read_jsonl(input_path, detector)
    predictions = _predict(det, texts)
    with output_file(output) as sink:
        for record, p in zip(records, predictions, strict=True):
            line = {**record, "score": round(p.score, 6), "category": p.category, "tier": tier}
            sink.write(json.dumps(line) + "\n")
    err.print(f"scored {len(records)} lines into {output}", highlight=False)


LATENCY_SAMPLE = 200


def eval_detector_command(
    detector: Annotated[str, typer.Argument(help=f"One of: {', '.join(DETECTORS)}.")],
    positives: Annotated[Path, typer.Option(help="JSONL of texts that should be flagged.")],
    negatives: Annotated[Path, typer.Option(help="JSONL of texts that should pass.")],
    tier: TierOption = "fast",
    model: ModelOption = None,
) -> None:
    """ROC AUC, recall at 1% and 0.1% FPR, per-category recall and latency on your own data."""
    from swisscheese.evaluation.detectors import evaluate_detector

    det = _detector(detector, tier, model)
    pos_records, pos_texts = _read_jsonl(positives, detector)
    _, neg_texts = _read_jsonl(negatives, detector)
    if not pos_texts or not neg_texts:
        fail("need at least one positive and one negative")
    report = evaluate_detector(
        lambda texts: [(p.score, p.category) for p in _predict(det, texts)],
        pos_texts,
        neg_texts,
        threshold=det.thresholds.get("fpr_1pct", 0.5),
        categories=[str(r["category"]) if r.get("category") else None for r in pos_records],
        latency_sample=LATENCY_SAMPLE,
    )
    table = Table(
        title=f"{detector} ({tier}): {report.positives} positives, {report.negatives} negatives"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("ROC AUC", f"{report.roc_auc:.4f}")
    table.add_row("recall @ 1% FPR", f"{report.recall_at_1pct_fpr:.4f}")
    table.add_row("recall @ 0.1% FPR", f"{report.recall_at_01pct_fpr:.4f}")
    table.add_row("shipped 1%-FPR threshold", f"{report.threshold:.4f}")
    table.add_row(
        "  TPR / FPR at it", f"{report.tpr_at_threshold:.4f} / {report.fpr_at_threshold:.4f}"
    )
    lat = report.latency_ms
    table.add_row(f"latency p50 / p99 (ms, {lat['n']} calls)", f"{lat['p50']} / {lat['p99']}")
    out.print(table)
    if len(report.recall_by_category) > 1:
        per = Table(title="recall at the 1%-FPR threshold, per category")
        per.add_column("category")
        per.add_column("n", justify="right")
        per.add_column("recall", justify="right")
        for c, (count, recall) in report.recall_by_category.items():
            per.add_row(c, str(count), f"{recall:.3f}")
        out.print(per)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("score")(score_command)
    app.command("eval-detector")(eval_detector_command)
