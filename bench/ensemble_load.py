"""The injection ensemble rule on a busy machine: many requests at once, as a gateway under load
sends them, with and without ``member_timeout_ms``. The rule keeps a 1,000 ms ``timeout_ms``
and ``on_error: block``, so without a member timeout a text whose embedding member is queued
too long is refused for it; with one, the fast member decides alone (``degraded``).

    .venv/bin/python bench/ensemble_load.py [--concurrency 48] [--n 480] [--member-timeout 250]

Prompts: ``bench/prompts.py``'s ~1 KB mix (mostly ordinary requests, a minority of attacks).
Printed per setting: the share refused, how many of those for the rule's failure (a timeout),
how many decisions were degraded, latency p50 / p99 and throughput. Needs the [ml] extra.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from prompts import make_prompts
from swisscheese import Guard
from swisscheese.config import parse_policy
from swisscheese.core import Verdict

POLICY = """\
version: 1
deployment: bench
layers:
  input:
    rules:
      - monitor: injection
        config: {config}
        action: block
        threshold: {{target_fpr: 0.001}}
        timeout_ms: 1000
        on_error: block
"""


async def run(
    guard: Guard, prompts: list[str], concurrency: int
) -> tuple[list[Verdict], list[float]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(text: str) -> Verdict:
        async with gate:
            started = time.perf_counter()
            verdict = await guard.check("input", text)
            latencies.append((time.perf_counter() - started) * 1000)
            return verdict

    verdicts = await asyncio.gather(*(one(p) for p in prompts))
    return verdicts, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--n", type=int, default=480)
    parser.add_argument("--member-timeout", type=int, default=250, help="ms")
    args = parser.parse_args()
    prompts = make_prompts(args.n)
    print(f"{len(prompts)} prompts of ~1 KB, {args.concurrency} at a time")
    settings = {
        "every member awaited": "{tier: ensemble}",
        f"member_timeout_ms: {args.member_timeout}": (
            f"{{tier: ensemble, member_timeout_ms: {args.member_timeout}}}"
        ),
    }
    for name, config in settings.items():
        guard = Guard(parse_policy(POLICY.format(config=config), "load.yaml"))
        guard.check_sync("input", prompts[0])  # load and warm up outside the timing
        started = time.perf_counter()
        verdicts, latencies = asyncio.run(run(guard, prompts, args.concurrency))
        took = time.perf_counter() - started
        refused = [v for v in verdicts if not v.allowed]
        failed = [v for v in refused if any(r.status.value != "ok" for r in v.runs)]
        degraded = sum(any("degraded" in f.detail for f in v.findings) for v in verdicts)
        ordered = sorted(latencies)
        print(
            f"  {name:<24} refused {len(refused) / len(verdicts):6.1%} "
            f"({len(failed)} for the rule's failure), degraded {degraded}, "
            f"p50 {statistics.median(latencies):7.1f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99) - 1]:7.1f} ms, "
            f"{len(verdicts) / took:5.1f} texts/s"
        )


if __name__ == "__main__":
    main()
