"""The `indirect-injection` fast tier against its `sentences` tier on BIPIA's documents, on
README pieces and on chat, and what each costs per document.

    .venv/bin/python bench/off_task.py [--models DIR] [--seeds 3]

`--models DIR` holds `indirect-injection.npz` and `indirect-injection.sentences.json` (default:
the shipped ones). The shipped models trained on BIPIA's train split; for a held-out figure,
train both without the development sets and point `--models` at them:

    swisscheese train indirect-injection --no-dev --out DIR
    swisscheese train indirect-injection --no-dev --tier sentences --out DIR

Each of BIPIA's attacks is planted by BIPIA's procedure in a context of its kind, once per
seed. Recall is read where 1% and 5% of BIPIA's 1,000 clean contexts are flagged (so it does
not depend on where a model's threshold sits); READMEs and chat are the share flagged at that
1% point and at each model's own 1% threshold. Last, the sentences tier as a policy would run it
with `min_score` at its 1% threshold (`config: {tier: sentences, min_score: ...}`): it embeds
only the documents whose likeliest instruction could reach that score, and must flag the same
ones.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from detectors import package_readmes
from swisscheese.evaluation.documents import bipia_items
from swisscheese.monitors.learned import (
    LearnedConfig,
    Scorer,
    SentenceMonitor,
    load_scorer,
    sentence_scorer,
)
from swisscheese.training import sources


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets/dev"))
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    root = args.datasets / "bipia"
    if not root.is_dir():
        sys.exit(f"{root}: no BIPIA copy (the development sets)")
    clean = [it.text for it in bipia_items(root, attack=False)]
    attacked = [
        it for seed in range(args.seeds) for it in bipia_items(root, attack=True, seed=seed)
    ]
    attacks = [it.document.read(it.text) for it in attacked if it.document]
    families = [it.id.split(":")[2] for it in attacked]
    readmes = package_readmes()
    chat = sources._chitchat(random.Random(5), 300)
    print(
        f"BIPIA: {len(attacks)} planted documents, {len(clean)} clean; "
        f"{len(readmes)} README pieces; {len(chat)} chat transcripts"
    )
    path = None
    for tier in ("fast", "sentences"):
        if args.models:
            name = "indirect-injection.npz" if tier == "fast" else f"indirect-injection.{tier}.json"
            path = args.models / name
        scorer = load_scorer("indirect-injection", tier, path)
        flagged = report(tier, scorer, clean, attacks, families, readmes, chat)
    spared(path, scorer.thresholds["fpr_1pct"], flagged, clean + attacks, readmes)


def spared(
    path: Path | None,
    threshold: float,
    flagged: np.ndarray,
    documents: list[str],
    readmes: list[str],
) -> None:
    """The sentences tier with ``min_score`` at its own 1% threshold: what it costs when it
    embeds only documents that could reach it, and whether it flags the same ones."""
    monitor = SentenceMonitor(
        "indirect-injection",
        frozenset(),
        LearnedConfig(tier="sentences", model=path, min_score=threshold),
    )
    scorer = sentence_scorer(monitor)
    per_kb: list[float] = []
    per_kb_readmes: list[float] = []
    now = np.concatenate(
        [_scores(scorer, documents, per_kb), _scores(scorer, readmes, per_kb_readmes)]
    )
    print(
        f"\nsentences, min_score {threshold:.3f} (its 1% threshold): ms per KB p50 "
        f"{statistics.median(per_kb):.2f} on BIPIA's documents, "
        f"{statistics.median(per_kb_readmes):.2f} on READMEs; flags the same documents at that "
        f"threshold: {bool(np.array_equal(now >= threshold, flagged))}"
    )


def _scores(scorer: Scorer, texts: list[str], timings: list[float] | None = None) -> np.ndarray:
    out = []
    for text in texts:
        started = time.perf_counter()
        out.append(scorer.predict([text])[0].score)
        if timings is not None:
            timings.append((time.perf_counter() - started) * 1000 / max(len(text) / 1000, 0.1))
    return np.array(out)


def report(
    tier: str,
    scorer: Scorer,
    clean: list[str],
    attacks: list[str],
    families: list[str],
    readmes: list[str],
    chat: list[str],
) -> np.ndarray:
    per_kb: list[float] = []
    per_kb_readmes: list[float] = []
    b = _scores(scorer, clean, per_kb)
    a = _scores(scorer, attacks, per_kb)
    r = _scores(scorer, readmes, per_kb_readmes)
    c = _scores(scorer, chat)
    at1, at5 = np.quantile(b, 0.99), np.quantile(b, 0.95)
    own = scorer.thresholds.get("fpr_1pct", 1.0)
    print(
        f"\n{tier}: ms per KB p50 {statistics.median(per_kb):.2f} on BIPIA's documents, "
        f"{statistics.median(per_kb_readmes):.2f} on READMEs"
    )
    print(
        f"  BIPIA recall where 1% / 5% of clean contexts are flagged: "
        f"{np.mean(a >= at1):.3f} / {np.mean(a >= at5):.3f}"
    )
    print(
        f"  READMEs flagged at that 1% point {np.mean(r >= at1):.3f}, at the model's own 1% "
        f"threshold ({own:.3f}) {np.mean(r >= own):.3f}; chat {np.mean(c >= at1):.3f} and "
        f"{np.mean(c >= own):.3f}; BIPIA clean at its own 1% {np.mean(b >= own):.3f}"
    )
    by: dict[str, list[bool]] = defaultdict(list)
    for family, score in zip(families, a, strict=True):
        by[family].append(bool(score >= at1))
    print(
        "  by family at the 1% point: "
        + ", ".join(f"{f} {np.mean(v):.2f}" for f, v in sorted(by.items()))
    )
    flagged: np.ndarray = np.concatenate([b, a, r]) >= own
    return flagged


if __name__ == "__main__":
    main()
