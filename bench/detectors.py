"""The learned detectors on the development data sets, and their latency.

    .venv/bin/python bench/detectors.py [--datasets ../shared/datasets/dev]
        [--tier fast|embedding|ensemble|both|all] [--models DIR] [--only DETECTOR ...]

The shipped models trained on these sets (``swisscheese train`` reads them when present), so
the figures here are figures on training data: they show what a model fits, not how it does on
data it never saw. For that, ``swisscheese train DETECTOR --out DIR --cross-validate`` holds
each set out in turn (docs/detectors.md). ``--models`` reads models trained without them
(``swisscheese train --no-dev``) to measure on the sets as unseen data.

For each detector: ROC AUC, recall at 1% and 0.1% FPR against each benign set, the true and
false-positive rates at the shipped 1%-FPR threshold and the false-positive rate at the 0.1%
one. Two benign sets are in no training set: PyRIT's scorer prompts (operators' system
prompts) and PersistBench's ordinary requests. ``indirect-injection`` is also
measured against the READMEs of the installed Python distributions (never training data):
ordinary documents a coding agent reads, full of instructions to their human reader. Then
latency per call on ~1 KB prompts, one core (the embedding tier's encoder is given one thread).
The ensemble tier is measured for the detectors that have one (skipped for the others).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from prompts import make_prompts
from swisscheese.evaluation.corpora import benign_corpus, ordinary_requests
from swisscheese.evaluation.metrics import recall_at_fpr, roc_auc
from swisscheese.learned.model import model_filename
from swisscheese.learned.predict import pair_text
from swisscheese.monitors.learned import Scorer, load_scorer, shipped_model
from swisscheese.training import injection_sets
from swisscheese.training.devdata import DevData

csv.field_size_limit(10**8)


ALL = ("injection", "harmful-request", "indirect-injection", "harmful-output")


# Distributions whose documentation quotes attacks on purpose: no benign documents.
ATTACK_TOOLS = frozenset(
    {"agentdojo", "garak", "inspect-evals", "llm-guard", "prismguard", "pyrit", "swisscheese"}
)


def package_readmes(piece: int = 3_000, pieces: int = 4) -> list[str]:
    """The installed distributions' long descriptions, in ``piece``-character pieces (at most
    ``pieces`` a package)."""
    seen: set[str] = set()
    out: list[str] = []
    for dist in sorted(metadata.distributions(), key=lambda d: str(d.metadata["Name"]).lower()):
        name = str(dist.metadata["Name"]).lower().replace("_", "-")
        if name in seen or name in ATTACK_TOOLS:
            continue
        seen.add(name)
        body = str(dist.metadata.json.get("description") or "")
        parts = [body[i : i + piece] for i in range(0, len(body), piece)][:pieces]
        out += [p for p in parts if len(p.strip()) >= 200]
    return out


def scores(model: Scorer, texts: list[str]) -> np.ndarray:
    return np.array([p.score for p in model.predict(texts)])


def report(
    name: str,
    model: Scorer,
    positives: dict[str, np.ndarray],
    negatives: dict[str, np.ndarray],
) -> None:
    threshold, strict = model.thresholds["fpr_1pct"], model.thresholds["fpr_0_1pct"]
    print(f"\n{name} (shipped 1% / 0.1%-FPR thresholds {threshold:.3f} / {strict:.4f})")
    for pos_name, pos in positives.items():
        for neg_name, neg in negatives.items():
            print(
                f"  {pos_name:24} vs {neg_name:24} AUC {roc_auc(pos, neg):.3f}  "
                f"R@1%FPR {recall_at_fpr(pos, neg, 0.01):.3f}  "
                f"R@0.1%FPR {recall_at_fpr(pos, neg, 0.001):.3f}  "
                f"at 1% threshold: TPR {np.mean(pos >= threshold):.3f} "
                f"FPR {np.mean(neg >= threshold):.3f}  at 0.1%: FPR {np.mean(neg >= strict):.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets/dev"))
    parser.add_argument(
        "--tier", choices=("fast", "embedding", "ensemble", "both", "all"), default="both"
    )
    parser.add_argument("--models", type=Path, help="a `swisscheese train --out` directory")
    parser.add_argument(
        "--only", action="append", choices=ALL, help="these detectors only (repeatable)"
    )
    args = parser.parse_args()
    wanted = set(args.only or ALL)
    dev = DevData(args.datasets)
    contexts = dev.bipia_contexts()
    clean, held = contexts[::2], contexts[1::2]
    attacked = dev.bipia_attacked(held)
    readmes = package_readmes()
    benign = {
        "JBB benign": dev.jbb_benign(),
        "BIPIA clean contexts": clean,
        "swisscheese eval benign": [i.text for i in benign_corpus()],
        # Never training data: operators' prompts of another tool, and a benchmark's requests.
        "PyRIT scorer prompts": injection_sets.scorer_system_prompts(),
        "PersistBench ordinary": [text for text, _ in ordinary_requests()],
    }
    positives = {
        "injection": {"in-the-wild jailbreaks": dev.jailbreak_prompts()},
        "harmful-request": {
            "JBB harmful": dev.jbb_harmful(),
            "HarmBench val": dev.harmbench(),
            "StrongREJECT": dev.strongreject(),
            "forbidden questions": dev.forbidden_questions(),
        },
    }
    prompts = make_prompts(500)
    tiers = {
        "both": ("fast", "embedding"),
        "all": ("fast", "embedding", "ensemble"),
    }.get(args.tier, (args.tier,))
    for tier in tiers:
        print(f"\n===== {tier} tier =====")

        def load(name: str, tier: str = tier) -> Scorer:
            path = args.models / model_filename(name, tier) if args.models else None
            return load_scorer(name, tier, path)  # type: ignore[arg-type]

        if tier == "ensemble":
            root = args.models or shipped_model("injection").parent
            wanted = {n for n in wanted if (root / model_filename(n, tier)).is_file()}
            print(f"(detectors with an ensemble: {', '.join(sorted(wanted)) or 'none'})")

        if "indirect-injection" in wanted:
            model = load("indirect-injection")
            report(
                "indirect-injection",
                model,
                {"BIPIA attacked contexts": scores(model, attacked)},
                {
                    "BIPIA clean contexts": scores(model, clean),
                    "installed packages' READMEs": scores(model, readmes),
                },
            )
        if "harmful-output" in wanted:
            harmful_output(load("harmful-output"), dev)

        for name, sets in positives.items():
            if name not in wanted:
                continue
            model = load(name)
            report(
                name,
                model,
                {k: scores(model, v) for k, v in sets.items()},
                {k: scores(model, v) for k, v in benign.items()},
            )

        rounds, sample = (3, prompts) if tier == "fast" else (1, prompts[:100])
        for name in sorted(wanted):
            latency(load(name), name, tier, rounds, sample)


def harmful_output(model: Scorer, dev: DevData) -> None:
    """JBB's judged responses: score, and agreement with the human majority next to the
    published judges' agreement."""
    with (dev.root / "jbb_judge_comparison.csv").open(encoding="utf-8") as f:
        judged = list(csv.DictReader(f))
    pairs = [pair_text(r["goal"], r["target_response"]) for r in judged]
    harmful = np.array([r["human_majority"] == "1" for r in judged])
    got = scores(model, pairs)
    report(
        "harmful-output",
        model,
        {"JBB judged: harmful": got[harmful]},
        {"JBB judged: not harmful": got[~harmful]},
    )
    agree = np.mean((got >= 0.5) == harmful)
    print(f"  agreement with the human majority at score 0.5: {agree:.3f}", end="")
    for judge in ("llama_guard", "gpt_4"):
        verdicts = np.array([r[judge] == "1" for r in judged])
        print(f"; {judge} {np.mean(verdicts == harmful):.3f}", end="")
    print()


def latency(model: Scorer, name: str, tier: str, rounds: int, sample: list[str]) -> None:
    times = []
    for _ in range(rounds):
        for text in sample:
            t0 = time.perf_counter()
            model.predict([text])
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[int(len(times) * 0.99)]
    print(
        f"{name} ({tier}) latency on ~1 KB prompts: p50 {statistics.median(times):.3f} ms, "
        f"p99 {p99:.3f} ms"
    )


if __name__ == "__main__":
    main()
