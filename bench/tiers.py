"""Latency of one learned detector's tiers as a policy rule runs them: each tier alone, the
ensemble (its members concurrently) and the ensemble with its cascade (`cascade_below: 0.2`:
the slower members only on what the fast one finds suspect), and where the detector ships one,
the ensemble with the probe as a third member (`ensemble3`, `cascade3`; with `-cuts`, the probe
also reading the message cut after each sentence), through the Guard, on the same ~1 KB prompts
(mostly ordinary traffic, a minority of attacks), one run, side by side.

    .venv/bin/python bench/tiers.py [--detector harmful-request] [--n 200]

Needs the extras of the tiers measured ([ml] for embedding, [local] for probe); a tier whose
model or extra is missing is reported as skipped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from prompts import make_prompts
from swisscheese import Guard
from swisscheese.config import parse_policy
from swisscheese.learned.specs import DETECTOR_SPECS

POLICY = """\
version: 1
deployment: bench
layers:
  {layer}:
    rules:
      - monitor: {detector}
        config: {config}
        action: flag
        threshold: {{target_fpr: 0.01}}
        timeout_ms: 60000
"""


# The ensemble also with its cascade: the slower members only on what the fast one finds suspect.
CONFIGS = {
    "fast": "{tier: fast}",
    # Reading a user's message whole only, as before session 48 (no run of sentences).
    "fast-whole": "{tier: fast, sentence_runs: false}",
    "embedding": "{tier: embedding}",
    "probe": "{tier: probe}",
    "ensemble": "{tier: ensemble}",
    "ensemble-whole": "{tier: ensemble, sentence_runs: false}",
    "cascade": "{tier: ensemble, cascade_below: 0.2}",
    "cascade-whole": "{tier: ensemble, cascade_below: 0.2, sentence_runs: false}",
    # harmful-request only: the stacker with the probe as a third member.
    "ensemble3": "{tier: ensemble, members: [fast, embedding, probe]}",
    "cascade3": "{tier: ensemble, members: [fast, embedding, probe], cascade_below: 0.2}",
    # The probe also reading the message cut after each sentence, from its pass's cache.
    "ensemble3-cuts": "{tier: ensemble, members: [fast, embedding, probe], prefix_discount: 2}",
    "cascade3-cuts": (
        "{tier: ensemble, members: [fast, embedding, probe], cascade_below: 0.2, "
        "prefix_discount: 2}"
    ),
}


def measure(detector: str, tier: str, prompts: list[str]) -> list[float] | str:
    stage = DETECTOR_SPECS[detector].stages[0]
    text = POLICY.format(layer=stage.value, detector=detector, config=CONFIGS[tier])
    try:
        guard = Guard(parse_policy(text, f"{tier}.yaml"))
    except Exception as exc:  # a missing model or extra: reported, not fatal
        return f"skipped ({exc})"
    guard.check_sync(stage, prompts[0])  # load, export and warm up outside the timing
    times = []
    for prompt in prompts:
        started = time.perf_counter()
        guard.check_sync(stage, prompt)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detector", default="harmful-request", choices=sorted(DETECTOR_SPECS))
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    prompts = make_prompts(args.n)
    print(f"{args.detector}: {len(prompts)} prompts of ~1 KB, one Guard.check_sync each")
    for tier in CONFIGS:
        times = measure(args.detector, tier, prompts)
        if isinstance(times, str):
            print(f"  {tier:<14} {times}")
            continue
        ordered = sorted(times)
        print(
            f"  {tier:<14} p50 {statistics.median(times):8.2f} ms   "
            f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:8.2f} ms   "
            f"mean {statistics.fmean(times):8.2f} ms"
        )


if __name__ == "__main__":
    main()
