"""Watermark false positives across keys: each scheme's rate at p < 1e-3 on the human texts,
under --keys fresh keys (a detector's nominal rate should hold for every key, not on average).

    .venv/bin/python bench/watermark_fpr.py [--keys 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics

from _generation import human_texts
from swisscheese.learned.causal_lm import load_tokenizer
from swisscheese.provenance.watermark import DEFAULT_ALPHA, Watermark, WatermarkConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args()
    tok = load_tokenizer()
    human = human_texts(10_000, random.Random(0))
    ids = [list(tok(t, add_special_tokens=False)["input_ids"]) for t in human]
    for scheme in ("kgw", "synthid"):
        rates = []
        for _ in range(args.keys):
            wm = Watermark(os.urandom(32), WatermarkConfig(scheme=scheme))
            rates.append(statistics.mean(wm.detect(i).p_value < DEFAULT_ALPHA for i in ids))
        print(
            f"{scheme}: FPR at p < {DEFAULT_ALPHA} on {len(ids)} human texts, {args.keys} keys: "
            f"mean {statistics.mean(rates):.4f}, median {statistics.median(rates):.4f}, "
            f"min {min(rates):.4f}, max {max(rates):.4f}"
        )


if __name__ == "__main__":
    main()
