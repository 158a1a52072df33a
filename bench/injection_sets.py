"""The shipped detectors alone on injection sets written by others (bastioncorpus and
agent-injection-bench, which no detector trains on): ROC AUC, and the share of attacks caught
and of benign rows flagged at each of the model's own thresholds.

    .venv/bin/python bench/injection_sets.py [--tiers fast,ensemble]

Typed rows (what a user sends) are scored by `injection`, English and the other languages
apart; rows that arrive in a tool result, a page or the agent's memory by `indirect-injection`
and `injection`. Rows are scored as sent: an encoded row is the layer decoder's to read, so it
counts as a miss here (`swisscheese eval --attacks bastioncorpus` measures the whole stack).
"""

from __future__ import annotations

import argparse
import json
from functools import cache

import numpy as np

from swisscheese.common import package_file
from swisscheese.config import default_policy
from swisscheese.evaluation.corpora import load_corpus
from swisscheese.evaluation.injection_sets import BASTION_CANARY
from swisscheese.evaluation.items import Item
from swisscheese.evaluation.metrics import roc_auc
from swisscheese.monitors.learned import load_scorer

SETS = ("bastioncorpus", "agent-injection-bench")


@cache
def _languages() -> dict[str, str]:
    """bastioncorpus's rows' languages, by text as the corpus reads it."""
    path = package_file("bastioncorpus", "bastioncorpus/corpus/injections.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {r["text"].replace("{canary}", BASTION_CANARY): r["lang"] for r in rows}


def _texts(items: list[Item], *, fetched: bool, english: bool | None = None) -> list[str]:
    lang = _languages() if english is not None else {}
    return [
        i.text
        for i in items
        if (i.document is not None) == fetched
        and (english is None or (lang.get(i.text, "en") == "en") == english)
    ]


def _default_threshold() -> float:
    """The default policy's input-layer threshold for the fast `injection` rule."""
    (rule,) = [r for r in default_policy().policy.layers["input"].rules if r.monitor == "injection"]
    assert isinstance(rule.threshold, float)
    return rule.threshold


def _report(label: str, detector: str, tier: str, attacks: list[str], benign: list[str]) -> None:
    scorer = load_scorer(detector, tier)  # type: ignore[arg-type]
    a = np.array([p.score for p in scorer.predict(attacks)])
    b = np.array([p.score for p in scorer.predict(benign)])
    thresholds = {k: v for k, v in scorer.thresholds.items() if not k.startswith("unseen")}
    if (detector, tier) == ("injection", "fast"):
        thresholds["default policy"] = _default_threshold()
    at = "; ".join(
        f"{name} ({t:.4g}) {np.mean(a >= t):.3f} caught, {int(np.sum(b >= t))} flagged"
        for name, t in sorted(thresholds.items())
    )
    print(f"{label:28} {detector:18} {tier:9} {len(a):3}/{len(b):2}  AUC {roc_auc(a, b):.3f}  {at}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiers", default="fast,ensemble", help="of the injection detector")
    args = parser.parse_args()
    attacks = [i for name in SETS for i in load_corpus(name, attack=True)]
    benign = [i for name in SETS for i in load_corpus(name, attack=False)]
    print("rows                         detector           tier      att/ben")
    for tier in args.tiers.split(","):
        for label, english in (("typed", None), ("typed, English", True), ("typed, other", False)):
            typed = (
                _texts(attacks, fetched=False, english=english),
                _texts(benign, fetched=False, english=english),
            )
            _report(label, "injection", tier, *typed)
    fetched = _texts(attacks, fetched=True), _texts(benign, fetched=True)
    for detector, tier in (
        ("indirect-injection", "fast"),
        ("indirect-injection", "sentences"),
        ("injection", "fast"),
    ):
        _report("tool results, pages, memory", detector, tier, *fetched)


if __name__ == "__main__":
    main()
