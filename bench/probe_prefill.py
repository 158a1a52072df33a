"""What the probe tier costs when the gateway serves the local model: the probe's forward pass
over a prompt is the prefill the model needs, and generation starts from its cache.

Per prompt, side by side in one process, the input layer's probe rule (flag) and then the
model's answer, three ways: the model alone (no screening), probe and model each reading the
prompt (the cache not kept), and the prompt read once (the default). Prints medians of the
whole exchange and of its extra cost over the model alone, prompt by prompt.

    .venv/bin/python bench/probe_prefill.py [--n 30] [--size 1000] [--tokens 8]

Needs the [local] extra.
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
from swisscheese.gateway._local import LocalUpstream

POLICY = """\
version: 1
deployment: bench
layers:
  input:
    rules:
      - monitor: harmful-request
        config: {tier: probe}
        action: flag
        threshold: {target_fpr: 0.01}
        timeout_ms: 60000
"""
MODES = ("model alone", "prompt read twice", "prompt read once")


async def exchange(
    guard: Guard, model: LocalUpstream, prompt: str, mode: str, tokens: int
) -> float:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": tokens}
    model.prefills.enabled = mode == "prompt read once"
    started = time.perf_counter()
    if mode != "model alone":
        await guard.check("input", prompt)
    await model.chat(body)
    return (time.perf_counter() - started) * 1000


async def run(n: int, size: int, tokens: int) -> None:
    guard, model = Guard(parse_policy(POLICY, "probe.yaml")), LocalUpstream()
    prompts = make_prompts(n, size)
    for mode in MODES:  # warm up outside the timing
        await exchange(guard, model, prompts[0], mode, tokens)
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for i, prompt in enumerate(prompts):
        # Each prompt through every mode, the order turning, so drift hits all alike.
        for mode in MODES[i % 3 :] + MODES[: i % 3]:
            times[mode].append(await exchange(guard, model, prompt, mode, tokens))
    guard.close()
    alone = times["model alone"]
    print(f"{n} prompts of ~{size} characters, {tokens} tokens generated, one exchange each")
    for mode in MODES:
        extra = [t - a for t, a in zip(times[mode], alone, strict=True)]
        print(
            f"  {mode:<18} p50 {statistics.median(times[mode]):8.1f} ms   "
            f"extra over the model alone, p50 {statistics.median(extra):7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.size, args.tokens))


if __name__ == "__main__":
    main()
