"""LLM Guard's offline input scanners on the prompts in a JSON file; prints timings as JSON.

Runs inside `.venv-bench` (see guard_overhead.py). The scanners are configured to do the work
our tier-0 stack does: invisible text, secrets, regular expressions for personal data, and
banned substrings for known injection phrasing.
"""

import json
import logging
import sys
import time

logging.disable(logging.CRITICAL)

from llm_guard.input_scanners import BanSubstrings, InvisibleText, Regex, Secrets  # noqa: E402

PII_PATTERNS = [
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"\b(?:\d[ -]?){12,18}\d\b",
    r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
    r"\b\d{3}-\d{2}-\d{4}\b",
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
    r"\+\d{1,3}[ .-]?\d{1,4}(?:[ .-]?\d{2,4}){1,4}",
]
BANNED = [
    "ignore all previous instructions",
    "ignore previous instructions",
    "disregard previous",
    "forget everything you were told",
    "you are no longer bound",
    "developer mode enabled",
    "do anything now",
    "reveal your system prompt",
    "print your system prompt",
    "repeat the words above",
    "<|im_start|>",
    "[INST]",
    "### system",
    "system override",
    "ignora todas las instrucciones",
    "ignore toutes les instructions",
    "ignoriere alle vorherigen anweisungen",
    "игнорируй все предыдущие инструкции",
    "忽略之前的所有指令",
    "without any restrictions",
    "jailbreak",
]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        prompts = json.load(f)
    repeat = int(sys.argv[2])
    scanners = {
        "InvisibleText": InvisibleText(),
        "Secrets": Secrets(),
        "Regex": Regex(patterns=PII_PATTERNS, is_blocked=True, redact=True),
        "BanSubstrings": BanSubstrings(substrings=BANNED, case_sensitive=False),
    }
    for scanner in scanners.values():  # warm-up: lazy imports, caches
        scanner.scan(prompts[0])
    out = {name: [] for name in scanners}
    out["stack"] = []
    for _ in range(repeat):
        for text in prompts:
            total = 0.0
            for name, scanner in scanners.items():
                t0 = time.perf_counter()
                scanner.scan(text)
                elapsed = (time.perf_counter() - t0) * 1000
                out[name].append(elapsed)
                total += elapsed
            out["stack"].append(total)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
