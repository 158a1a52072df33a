"""What the learned tiers read of text in another script: a detector's training texts with
more than ten Cyrillic letters (its Russian attacks and benign texts, and Cyrillic lookalike
copies of English attacks), scored as written and on the `unicode` normaliser's view that a
policy's later rules read, and screened by the default policy.

    .venv/bin/python bench/other_scripts.py [--detector injection] [--tiers fast,embedding]

The two scores should agree: the tiers were trained on the text as written, and a normaliser
that rewrote Russian words half in Latin letters once dropped the fast head's mean on these
attacks from 0.98 to 0.68.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics

from swisscheese import Guard
from swisscheese.monitors.learned import load_scorer
from swisscheese.monitors.unicode import UnicodeConfig, UnicodeMonitor
from swisscheese.training.sources import load_source

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", default="injection")
    parser.add_argument("--tiers", default="fast,embedding")
    args = parser.parse_args()
    normalizer = UnicodeMonitor(UnicodeConfig())
    examples = [e for e in load_source(args.detector, 0) if len(_CYRILLIC.findall(e.text)) > 10]
    sides = {
        "attacks": [e.text for e in examples if e.label == 1],
        "benign": [e.text for e in examples if e.label == 0],
    }
    for side, texts in sides.items():
        changed = sum(normalizer.normalize(t).text != t for t in texts)
        print(f"{side}: {len(texts)} texts, {changed} changed by the normaliser")
    for tier in args.tiers.split(","):
        scorer = load_scorer(args.detector, tier)
        for side, texts in sides.items():
            if not texts:
                continue
            written = [p.score for p in scorer.predict(texts)]
            served = [
                p.score for p in scorer.predict([normalizer.normalize(t).text for t in texts])
            ]
            flagged = ", ".join(
                f"at {name} ({t:.4g}) {_share(written, t):.1%} / {_share(served, t):.1%}"
                for name, t in sorted(scorer.thresholds.items())
            )
            print(
                f"{tier:9} {side:7} mean {statistics.mean(written):.3f} as written / "
                f"{statistics.mean(served):.3f} served; {flagged}"
            )
    guard = Guard()
    for side, texts in sides.items():
        verdicts = asyncio.run(guard.check_many("input", texts))
        blocked = sum(not v.allowed for v in verdicts)
        print(f"default policy blocks {blocked} of {len(texts)} {side}")


def _share(scores: list[float], threshold: float) -> float:
    return sum(s >= threshold for s in scores) / len(scores)


if __name__ == "__main__":
    main()
