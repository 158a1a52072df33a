"""Latency of the default policy's input stack (tier 0 and the learned injection detector): per
monitor, whole stack and orchestration overhead, on 1,000 mixed ~1 KB prompts, single thread;
and, in the same run, LLM Guard's offline scanners (InvisibleText, Secrets, Regex, BanSubstrings)
on the same prompts, printed as a ratio.

    .venv/bin/python bench/guard_overhead.py [--n 1000] [--repeat 3]

LLM Guard pins versions that clash with ours (regex, its own detect-secrets fork, torch), so it
runs in its own virtual environment: `make bench-setup` creates `.venv-bench`. Without it the
comparison is skipped and says so.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from prompts import make_prompts
from swisscheese import Guard, Stage

ROOT = Path(__file__).resolve().parents[1]
LLM_GUARD_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values_ms: list[float]) -> str:
    return (
        f"{name:<26} p50 {pct(values_ms, 0.5):8.4f} ms   p99 {pct(values_ms, 0.99):8.4f} ms"
        f"   mean {statistics.fmean(values_ms):8.4f} ms"
    )


def measure_swisscheese(prompts: list[str], repeat: int) -> dict[str, list[float]]:
    """Per monitor as the Guard runs it (normalising, decoding and rescans included, as each
    verdict records), the whole stack, and what the Guard adds on top of its monitors."""
    guard = Guard()
    guard.check_sync(Stage.INPUT, prompts[0])  # warm the per-character caches
    per_monitor: dict[str, list[float]] = {}
    stack: list[float] = []
    overhead: list[float] = []
    for _ in range(repeat):
        for text in prompts:
            t0 = time.perf_counter()
            verdict = guard.check_sync(Stage.INPUT, text)
            elapsed = (time.perf_counter() - t0) * 1000
            stack.append(elapsed)
            for run in verdict.runs:
                per_monitor.setdefault(f"monitor {run.monitor}", []).append(run.duration_ms)
            overhead.append(max(0.0, elapsed - sum(r.duration_ms for r in verdict.runs)))
    return {**per_monitor, "default stack (Guard)": stack, "orchestration overhead": overhead}


def measure_llm_guard(prompts: list[str], repeat: int) -> dict[str, list[float]] | None:
    if not LLM_GUARD_PYTHON.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(prompts, f)
        path = f.name
    side = Path(__file__).parent / "llm_guard_side.py"
    done = subprocess.run(
        [str(LLM_GUARD_PYTHON), str(side), path, str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    Path(path).unlink()
    if done.returncode != 0:
        print(f"LLM Guard side failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    data: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    prompts = make_prompts(args.n)
    mean_len = statistics.fmean(len(p) for p in prompts)
    print(
        f"{len(prompts)} prompts, mean {mean_len:.0f} characters, "
        f"{args.repeat} passes, single thread\n"
    )
    ours = measure_swisscheese(prompts, args.repeat)
    for name, values in ours.items():
        print(row(name, values))
    theirs = measure_llm_guard(prompts, args.repeat)
    if theirs is None:
        print("\nLLM Guard: not measured (run `make bench-setup` to create .venv-bench)")
        return
    print()
    for name, values in theirs.items():
        print(row(f"llm-guard {name}", values))
    ours_p50 = pct(ours["default stack (Guard)"], 0.5)
    theirs_p50 = pct(theirs["stack"], 0.5)
    ours_p99 = pct(ours["default stack (Guard)"], 0.99)
    theirs_p99 = pct(theirs["stack"], 0.99)
    print(
        f"\nratio LLM Guard / swisscheese stack: p50 {theirs_p50 / ours_p50:.1f}x, "
        f"p99 {theirs_p99 / ours_p99:.1f}x"
    )


if __name__ == "__main__":
    main()
