"""Zero-shot AI-text detection (Fast-DetectGPT's criterion on the embedded model): ROC by source,
length, generator and paraphrase, and the calibration the detector ships.

Machine text: SmolLM2-135M-Instruct (the scorer itself) answering --answers prompts, sampled
at temperature 0.7 and at 1.0; the JailbreakBench judge set's 100 responses from other, larger
chat models (``../shared/datasets/dev``, skipped without it); and the model's own answers
paraphrased by the model ("Rewrite this in your own words", temperature 1.0).

Human text: chitchat conversations, BIPIA's e-mails (dev data), in-the-wild prompts written
for jailbreaks (dev data) and WritingBench requests (written with LLM help by its authors, so
reported apart and not used for the calibration).

Every text is cut to a given number of tokens (32, 64, 128, 200) before scoring. The human and
the model's answers at temperature 0.7 are split in two by a seeded shuffle: one half fits the
calibration (two normals), the other gives the figures; --calibrate prints the constants for
``swisscheese.learned.ai_text.CALIBRATION``.

    .venv/bin/python bench/ai_text.py [--answers 96] [--tokens 210] [--batch 16]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from _generation import generate, package_file, prompts
from swisscheese.learned.ai_text import AITextDetector, Calibration, LengthFit
from swisscheese.learned.causal_lm import load_causal_lm

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "dev"
LENGTHS = (32, 64, 128, 200)


def human_sources(rng: random.Random, per_source: int) -> dict[str, list[str]]:
    chat = json.loads(package_file("chitchat-dataset", "chitchat_dataset/dataset.json").read_text())
    sources: dict[str, list[str]] = {
        "chitchat": [
            " ".join(" ".join(m["text"] for m in group) for group in convo["messages"])
            for convo in chat.values()
        ]
    }
    bench = package_file("inspect-evals", "inspect_evals/writingbench/benchmark_all.jsonl")
    sources["writingbench*"] = [
        json.loads(line)["query"] for line in bench.read_text().splitlines() if line
    ]
    if DEV.is_dir():
        emails = DEV / "bipia" / "email" / "train.jsonl"
        sources["bipia-email"] = [
            json.loads(line)["context"] for line in emails.read_text().splitlines() if line
        ]
        with (DEV / "jailbreak_prompts_2023_05_07.csv").open(newline="") as f:
            sources["wild-prompts"] = [row["prompt"] for row in csv.DictReader(f)]
    out = {}
    for name, texts in sources.items():
        texts = list(dict.fromkeys(t for t in texts if len(t.split()) >= 40))
        rng.shuffle(texts)
        out[name] = texts[:per_source]
    return out


def other_models() -> list[str]:
    path = DEV / "jbb_judge_comparison.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [r["target_response"] for r in csv.DictReader(f) if len(r["target_response"]) > 200]


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    if not positive or not negative:
        return float("nan")
    labels = [1] * len(positive) + [0] * len(negative)
    return float(roc_auc_score(labels, [*positive, *negative]))


def tpr_at(positive: Sequence[float], negative: Sequence[float], fpr: float) -> float:
    threshold = float(np.quantile(np.asarray(negative), 1 - fpr, method="higher"))
    return float(np.mean(np.asarray(positive) > threshold))


def truncate(detector: AITextDetector, texts: list[str], tokens: int) -> list[str]:
    tok = detector._lm.tokenizer
    out = []
    for t in texts:
        ids = detector.tokens(t)
        if len(ids) >= tokens:
            out.append(tok.decode(ids[:tokens]))
    return out


def criteria(detector: AITextDetector, texts: list[str], batch: int) -> list[float]:
    return [s.criterion for s in detector.score_batch(texts, batch=batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=96)
    parser.add_argument("--tokens", type=int, default=210)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--human", type=int, default=300, help="texts per human source")
    parser.add_argument("--calibrate", action="store_true", help="print CALIBRATION constants")
    parser.add_argument("--cache", type=Path, help="keep the generated texts here, and reuse them")
    args = parser.parse_args()

    rng = random.Random(0)
    lm = load_causal_lm()
    detector = AITextDetector(lm)
    asks = prompts(args.answers, rng)
    started = time.perf_counter()
    if args.cache is not None and args.cache.exists():
        machine = json.loads(args.cache.read_text())
    else:
        machine = {
            "smollm2 t=0.7": generate(lm, asks, args.tokens, args.batch, None),
            "smollm2 t=1.0": generate(lm, asks, args.tokens, args.batch, None, temperature=1.0),
        }
        rewrite = [f"Rewrite this text in your own words:\n\n{t}" for t in machine["smollm2 t=0.7"]]
        machine["smollm2 paraphrased"] = generate(
            lm, rewrite, args.tokens, args.batch, None, temperature=1.0
        )
        if args.cache is not None:
            args.cache.write_text(json.dumps(machine))
    machine["other models (JBB)"] = other_models()
    print(f"generated in {time.perf_counter() - started:.0f} s")
    human = human_sources(rng, args.human)

    # Calibration half and evaluation half, for the human sources and the model's own answers.
    def halves(texts: list[str]) -> tuple[list[str], list[str]]:
        shuffled = texts[:]
        random.Random(1).shuffle(shuffled)
        return shuffled[::2], shuffled[1::2]

    calib_human = [t for name, ts in human.items() if "*" not in name for t in halves(ts)[0]]
    calib_machine = halves(machine["smollm2 t=0.7"])[0]
    held_human = {name: halves(ts)[1] for name, ts in human.items()}
    held_machine = {
        name: (halves(ts)[1] if name == "smollm2 t=0.7" else ts) for name, ts in machine.items()
    }

    started = time.perf_counter()
    scored = 0
    print("\nAUC and TPR at 1% FPR (against all held-out human text, WritingBench* apart)")
    print(f"{'machine text':22} {'tokens':>6} {'n':>4} {'AUC':>6} {'TPR@1%':>7} {'AUC vs WB*':>10}")
    results: dict[int, dict[str, list[float]]] = {}
    for length in LENGTHS:
        human_scores = {
            name: criteria(detector, truncate(detector, ts, length), args.batch)
            for name, ts in held_human.items()
        }
        pooled = [c for name, cs in human_scores.items() if "*" not in name for c in cs]
        scored += sum(len(c) for c in human_scores.values())
        results[length] = {"human": pooled}
        for name, texts in held_machine.items():
            m = criteria(detector, truncate(detector, texts, length), args.batch)
            scored += len(m)
            results[length][name] = m
            if not m:
                continue
            print(
                f"{name:22} {length:6d} {len(m):4d} {auc(m, pooled):6.3f} "
                f"{tpr_at(m, pooled, 0.01):7.3f} {auc(m, human_scores['writingbench*']):10.3f}"
            )
        for name, cs in human_scores.items():
            if cs:
                print(
                    f"  human {name:16} {length:6d} {len(cs):4d} "
                    f"median D {statistics.median(cs):6.2f}"
                )
    took = time.perf_counter() - started
    print(f"\nscored {scored} texts in {took:.0f} s ({scored / took:.1f}/s, batch {args.batch})")

    # Calibration: normals on the calibration half, per length; rates on the held-out half.
    fits = []
    for length in LENGTHS:
        h = criteria(detector, truncate(detector, calib_human, length), args.batch)
        m = criteria(detector, truncate(detector, calib_machine, length), args.batch)
        if min(len(h), len(m)) < 2:
            continue
        fits.append(
            LengthFit(
                length,
                round(statistics.mean(h), 3),
                round(statistics.stdev(h), 3),
                round(statistics.mean(m), 3),
                round(statistics.stdev(m), 3),
            )
        )
        print(f"fit at {length} tokens on {len(h)} human and {len(m)} machine texts: {fits[-1]}")
    fitted = Calibration(tuple(fits), "this run's calibration half")
    if args.calibrate:
        print("CALIBRATION fits = (" + ", ".join(repr(f) for f in fits) + ")")
    print("\nflagged at P(machine) > 0.5, held-out half, this run's calibration:")
    for length in (f.tokens for f in fits):
        rate = {
            k: np.mean([fitted.probability(c, length) > 0.5 for c in v])
            for k, v in results[length].items()
            if v
        }
        print(f"  {length:3d} tokens: " + ", ".join(f"{k} {v:.3f}" for k, v in rate.items()))


if __name__ == "__main__":
    main()
