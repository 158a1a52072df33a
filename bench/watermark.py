"""Text watermark on the embedded model: detection rates, robustness and quality cost.

For each scheme (kgw, synthid) and, as the baseline, no watermark: SmolLM2-135M-Instruct
answers --prompts prompts (chat openers and WritingBench requests) with --tokens new tokens,
sampled at temperature 0.7. Then:

- TPR at p < 1e-3 (the detector's alpha) on the answers as a user receives them (decoded and
  re-tokenised), after 20% of their tokens are replaced at random, and after insertion into
  three times as much human text (windowed detection);
- FPR at the same alpha on --human human texts (chitchat conversations and WritingBench
  requests), whole-text and windowed;
- quality: perplexity of the unwatermarked model on the watermarked answers vs the plain ones.

    .venv/bin/python bench/watermark.py [--prompts 500] [--tokens 200] [--batch 8] [--human 10000]
        [--scheme kgw --scheme synthid --scheme kgw:context=1,delta=3 ...]

A --scheme is a scheme name with optional WatermarkConfig fields, to compare settings in one run.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from typing import Any

import numpy as np

from _generation import generate, human_texts, prompts
from swisscheese.learned.causal_lm import load_causal_lm
from swisscheese.provenance.watermark import DEFAULT_ALPHA, Watermark, WatermarkConfig


def perplexity(lm: Any, texts: list[str]) -> float:
    tok, model, torch = lm.tokenizer, lm.model, lm.torch
    nll, count = 0.0, 0
    for text in texts:
        ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        if ids.shape[1] < 2:
            continue
        with torch.inference_mode():
            loss = model(ids, labels=ids).loss
        nll += float(loss) * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    return math.exp(nll / count)


def scheme_config(spec: str) -> WatermarkConfig:
    """``kgw`` or ``kgw:context=1,delta=3`` as a WatermarkConfig."""
    name, _, fields = spec.partition(":")
    values: dict[str, Any] = {}
    for field in filter(None, fields.split(",")):
        key, _, value = field.partition("=")
        values[key] = float(value) if key in ("gamma", "delta") else int(value)
    return WatermarkConfig(scheme=name, **values)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--human", type=int, default=10_000)
    parser.add_argument("--scheme", action="append", help="default: kgw and synthid")
    args = parser.parse_args()
    from transformers import LogitsProcessorList

    from swisscheese.provenance.watermark_processor import WatermarkLogitsProcessor

    rng = random.Random(0)
    lm = load_causal_lm()
    tok = lm.tokenizer
    asks = prompts(args.prompts, rng)
    human = human_texts(args.human, rng)
    human_ids = [list(tok(t, add_special_tokens=False)["input_ids"]) for t in human]
    pool = [i for ids in human_ids for i in ids]
    key = os.urandom(32)
    started = time.perf_counter()
    plain = generate(lm, asks, args.tokens, args.batch, None)
    print(f"plain: {len(plain)} answers in {time.perf_counter() - started:.0f} s")
    base_ppl = perplexity(lm, plain)
    print(f"{'scheme':8} {'TPR':>6} {'TPR 20% sub':>11} {'TPR in 3x':>9} {'FPR':>7} "
          f"{'FPR win':>7} {'ppl':>6} (plain ppl {base_ppl:.2f})")  # fmt: skip
    vocab = len(tok)
    for scheme in args.scheme or ["kgw", "synthid"]:
        wm = Watermark(key, scheme_config(scheme))
        started = time.perf_counter()
        marked = generate(
            lm, asks, args.tokens, args.batch, LogitsProcessorList([WatermarkLogitsProcessor(wm)])
        )
        took = time.perf_counter() - started
        ids = [list(tok(t, add_special_tokens=False)["input_ids"]) for t in marked]
        clean = [wm.detect(i).p_value < DEFAULT_ALPHA for i in ids]
        substituted = []
        for i in ids:
            arr = np.array(i)
            edit = np.random.default_rng(len(arr)).choice(len(arr), len(arr) // 5, replace=False)
            arr[edit] = np.random.default_rng(1).integers(0, vocab, len(edit))
            substituted.append(wm.detect(arr).p_value < DEFAULT_ALPHA)
        inserted = []
        for n, i in enumerate(ids):
            at = (n * 7919) % max(1, len(pool) - 3 * len(i))
            before, after = (
                pool[at : at + 3 * len(i) // 2],
                pool[at + 3 * len(i) // 2 : at + 3 * len(i)],
            )
            inserted.append(wm.detect_windows([*before, *i, *after]).p_value < DEFAULT_ALPHA)
        fpr = statistics.mean(wm.detect(i).p_value < DEFAULT_ALPHA for i in human_ids)
        fpr_win = statistics.mean(wm.detect_windows(i).p_value < DEFAULT_ALPHA for i in human_ids)
        ppl = perplexity(lm, marked)
        print(
            f"{scheme:8} {statistics.mean(clean):6.3f} {statistics.mean(substituted):11.3f} "
            f"{statistics.mean(inserted):9.3f} {fpr:7.4f} {fpr_win:7.4f} {ppl:6.2f}   "
            f"({len(marked)} answers, {took:.0f} s; FPR on {len(human_ids)} human texts)"
        )


if __name__ == "__main__":
    main()
