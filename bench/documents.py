"""Ordinary documents and source code through the default policy: how often a user who pastes
them, or an agent that reads them, is stopped.

    .venv/bin/python bench/documents.py [--files N] [--policy FILE] [--form json|repr|html|yaml]

Two sets that no shipped model trained on, both read from the installed Python distributions
(the red-teaming tools, which quote attacks on purpose, left out):

- READMEs: each distribution's long description, in 3,000-character pieces (at most four a
  package);
- source code: the first 6,000 characters of N ``.py`` files under site-packages (the first
  in the order of a hash of their paths, so that installing a package moves the sample only
  by its own files).

Each text goes through the default policy's input layer as a ``user`` message and through its
retrieved layer as a tool result; the share blocked is printed per layer with what blocked
(the monitor, and for ``signatures`` the signature), with the p50 milliseconds per KB. With
``--form`` the retrieved layer reads each text as a tool would return it.
``bench/detectors.py`` gives the ``indirect-injection`` detector's own false positives on the
READMEs, alone at its own thresholds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from detectors import ATTACK_TOOLS, package_readmes
from swisscheese import Guard
from swisscheese.common.packages import source_files_by_hash
from swisscheese.config import default_policy, load_policy
from swisscheese.core import Action, Content, Role, Stage
from swisscheese.evaluation.items import FORMS


def source_files(n: int) -> list[str]:
    """The first ``n`` installed source files of 200 characters or more (their first 6,000), in
    the order of a hash of their paths: installing a package moves the sample only by its own
    files."""
    out = []
    skip = {name.replace("-", "_") for name in ATTACK_TOOLS}
    for _, path in source_files_by_hash(skip):
        text = path.read_text(encoding="utf-8", errors="replace")[:6_000]
        if len(text) >= 200:
            out.append(text)
        if len(out) >= n:
            break
    return out


def screen(
    guard: Guard, texts: list[str], stage: Stage, role: Role
) -> tuple[float, Counter[str], float]:
    """The share of ``texts`` blocked, by what, and the p50 milliseconds per KB."""
    stopped = 0
    by: Counter[str] = Counter()
    per_kb: list[float] = []
    for text in texts:
        started = time.perf_counter()
        verdict = guard.check_sync(stage, Content(text, role, stage))
        per_kb.append((time.perf_counter() - started) * 1000 / max(len(text) / 1000, 0.001))
        if verdict.action >= Action.BLOCK:
            stopped += 1
            blocking = {d.monitor for d in verdict.decisions if d.action >= Action.BLOCK}
            by.update(
                f"{f.monitor}:{f.detail['signature']}" if "signature" in f.detail else f.monitor
                for f in verdict.findings
                if f.monitor in blocking
            )
    return stopped / max(len(texts), 1), by, statistics.median(per_kb) if per_kb else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3_000)
    parser.add_argument("--policy", type=Path, help="a policy file (default: the embedded one)")
    parser.add_argument(
        "--form", choices=list(FORMS), default="text",
        help="how the tool returns each text to the retrieved layer (a JSON search result, a "
        "Python repr, a web page)",
    )  # fmt: skip
    args = parser.parse_args()
    guard = Guard(load_policy(args.policy) if args.policy else default_policy())
    sets = {"READMEs": package_readmes(), "source code": source_files(args.files)}
    print(
        f"{args.policy or 'default policy'}; tool results as {args.form}; share blocked, p50 ms "
        "per KB (monitors that blocked)"
    )
    for name, texts in sets.items():
        reads: tuple[tuple[Stage, Role], ...] = ((Stage.INPUT, "user"), (Stage.RETRIEVED, "tool"))
        for stage, role in reads:
            read = texts if stage is Stage.INPUT else [FORMS[args.form](t) for t in texts]
            share, by, ms = screen(guard, read, stage, role)
            print(
                f"  {name:12s} ({len(texts):5d}) {stage.value:9s} {share:.4f} {ms:6.2f} ms/KB  "
                f"{dict(by)}"
            )
    guard.close()


if __name__ == "__main__":
    main()
