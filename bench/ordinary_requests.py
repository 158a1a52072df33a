"""Ordinary requests no model trained on, against harmful requests no model trained on: what a
harmful-request rule costs the users it should leave alone.

    .venv/bin/python bench/ordinary_requests.py [--models DIR] [--tiers fast,embedding,ensemble]
                                       [--policy P] [--each-sentence]

Benign: the 500 user queries of PersistBench (in the inspect-evals package: planning a party,
a toast, heartburn remedies, a project plan), a benchmark of memory use, so never training
data. Harmful: the evaluation's built-in harmful goals (injection and extraction goals left
out), plain and with each of the evaluation's mutators applied once.

Per tier of ``harmful-request``: the share of each side at the model's shipped 1% threshold,
then harmful recall where 1%, 2% and 5% of the ordinary requests are flagged (a ranking figure
that does not depend on where the threshold sits). With ``--each-sentence`` a text's score is
the highest of the whole and each of its sentences alone (an experiment: framings leave the
harmful ask in the text word for word; docs/detectors.md says what it costs). With
``--policy``: the share of ordinary requests the policy's input layer blocks (the default policy
when omitted).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import cast

import numpy as np

from swisscheese import Guard
from swisscheese.core import Action
from swisscheese.evaluation.corpora import builtin_attacks, ordinary_requests
from swisscheese.evaluation.mutators import MUTATORS, compose
from swisscheese.learned.model import model_filename
from swisscheese.learned.sentences import sentence_spans
from swisscheese.monitors.learned import Tier, load_scorer

NOT_HARM = {"injection.direct", "prompt_extraction", "jailbreak"}


def harmful_goals() -> tuple[list[str], list[str]]:
    goals = [i.text for i in builtin_attacks() if i.category not in NOT_HARM]
    mutated = [
        compose((name,), goal, random.Random(k)).text
        for k, goal in enumerate(goals)
        for name in MUTATORS
    ]
    return goals, mutated


def parts(text: str, each_sentence: bool) -> list[str]:
    """What is scored of ``text``: the whole, and with ``each_sentence`` each of its sentences."""
    spans = sentence_spans(text) if each_sentence else []
    return [text, *(text[s:e] for s, e in spans)] if len(spans) > 1 else [text]


def tier_row(
    tier: Tier,
    models: Path | None,
    ordinary: list[str],
    goals: list[str],
    mutated: list[str],
    each_sentence: bool = False,
) -> str:
    path = models / model_filename("harmful-request", tier) if models else None
    scorer = load_scorer("harmful-request", tier, path)

    def scores(texts: list[str]) -> np.ndarray:
        pieces = [parts(t, each_sentence) for t in texts]
        owner = [i for i, of_text in enumerate(pieces) for _ in of_text]
        flat = [p for of_text in pieces for p in of_text]
        best = np.zeros(len(texts))
        np.maximum.at(best, owner, [p.score for p in scorer.predict(flat)])
        return best

    o, g, m = scores(ordinary), scores(goals), scores(mutated)
    t = scorer.thresholds["fpr_1pct"]
    cells = [tier, f"{np.mean(o >= t):.3f}", f"{np.mean(g >= t):.2f}", f"{np.mean(m >= t):.2f}"]
    for share in (0.01, 0.02, 0.05):
        cut = np.quantile(o, 1 - share)
        cells.append(f"{np.mean(g > cut):.2f} / {np.mean(m > cut):.2f}")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=None, help="default: the shipped models")
    parser.add_argument("--tiers", default="fast,embedding,ensemble")
    parser.add_argument("--policy", type=Path, default=None)
    parser.add_argument("--each-sentence", action="store_true")
    args = parser.parse_args()
    ordinary = [text for text, _ in ordinary_requests()]
    goals, mutated = harmful_goals()
    print(f"{len(ordinary)} ordinary requests; {len(goals)} harmful goals, {len(mutated)} mutated")
    print(
        "| tier | ordinary flagged at its 1% threshold | goals caught | mutated caught "
        "| goals / mutated caught where 1% of ordinary flagged | 2% | 5% |\n"
        "|---|---|---|---|---|---|---|"
    )
    for tier in args.tiers.split(","):
        row = tier_row(cast(Tier, tier), args.models, ordinary, goals, mutated, args.each_sentence)
        print(row, flush=True)
    with Guard.from_policy(args.policy) if args.policy else Guard() as guard:
        blocked = sum(guard.check_sync("input", t).action is Action.BLOCK for t in ordinary)
    policy = args.policy or "the default policy"
    print(f"{policy} blocks {blocked} of {len(ordinary)} ordinary requests")


if __name__ == "__main__":
    main()
