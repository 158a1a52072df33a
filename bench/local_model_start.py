"""How long the local model takes to load in a fresh process: converting the shipped GGUF file
(what every start did before the converted copy was kept) against loading the copy the first
conversion kept in the cache directory.

Each run is a new Python process timing ``load_causal_lm()`` alone (torch and transformers
imports included, the interpreter's start-up not); the two ways alternate, pair by pair, in a
throwaway cache directory. Prints each way's median and their ratio.

    .venv/bin/python bench/local_model_start.py [--runs 3]

Needs the [local] extra.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TIMED = (
    "import time\n"
    "t = time.perf_counter()\n"
    "from swisscheese.learned.causal_lm import load_causal_lm\n"
    "load_causal_lm()\n"
    "print(time.perf_counter() - t)\n"
)


def load_seconds(cache: Path) -> float:
    env = {**os.environ, "SWISSCHEESE_CACHE_DIR": str(cache), "TQDM_DISABLE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", TIMED], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="swisscheese-bench-"))
    try:
        kept = root / "kept"
        load_seconds(kept)  # the first conversion, which keeps the copy
        converting, from_copy = [], []
        for _ in range(args.runs):
            empty = root / "empty"
            converting.append(load_seconds(empty))
            shutil.rmtree(empty)
            from_copy.append(load_seconds(kept))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"runs: {args.runs} pairs")
    for name, times in (
        ("converting (and keeping)", converting),
        ("loading the kept copy", from_copy),
    ):
        each = ", ".join(f"{t:.1f}" for t in times)
        print(f"{name:26s} median {statistics.median(times):.1f} s  ({each})")
    print(f"ratio: {statistics.median(converting) / statistics.median(from_copy):.1f}x")


if __name__ == "__main__":
    main()
