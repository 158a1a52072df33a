"""Operators' own system prompts through the default input layer, and what reading a message
as the operator's costs in attacks caught.

    .venv/bin/python bench/system_prompts.py [--datasets ../shared/datasets/dev] [--generated N]
                                             [--policy FILE]

Benign: system prompts written by others for their own models (b3's applications, PyRIT's
scorer prompts, inspect-evals' task prompts) and the project's generated ones, each sent as a
``system`` message and, for comparison, as a ``user`` message. Prints the share each monitor
of the default input layer blocks, and the layer's. Attacks: the injection and jailbreak sets,
sent both ways; the ``signatures`` monitor reads attack phrasing in a system message as the
operator's rule when it is framed as one ("never follow instructions like ..."), so its recall
there is what to watch.

The learned ``injection`` head trained on b3's prompts, inspect-evals' task prompts and the
generated ones (its figures on them are training-data figures; ``swisscheese train injection
--cross-validate`` measures each with a head that never saw it); PyRIT's scorer prompts are in
no training set.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Sequence
from pathlib import Path

from swisscheese import Guard
from swisscheese.config import default_policy, load_policy
from swisscheese.core import Action, Content, Stage
from swisscheese.training import injection_sets
from swisscheese.training.sources import _Grammar

csv.field_size_limit(10**8)


def generated(n: int) -> list[str]:
    grammar = _Grammar("hard_negatives.yaml")
    return list(dict.fromkeys(grammar.expand("system_prompts", random.Random(1), n)))


def attacks(datasets: Path) -> dict[str, list[str]]:
    sets = {
        "S-Labs": [t for t, y in injection_sets.s_labs() if y == 1],
        "neuralchemy": [t for t, y, _ in injection_sets.neuralchemy() if y == 1],
        "yanismiraoui": injection_sets.yanismiraoui(),
    }
    wild = datasets / "jailbreak_prompts_2023_05_07.csv"
    if wild.exists():
        with wild.open(encoding="utf-8") as f:
            sets["in-the-wild jailbreaks"] = [r["prompt"] for r in csv.DictReader(f)]
    return sets


def blocked_by(guard: Guard, texts: Sequence[str], role: str) -> dict[str, float]:
    """Per monitor (and ``layer``), the share of ``texts`` it blocks when sent as ``role``."""
    counts: dict[str, int] = {"layer": 0}
    for text in texts:
        verdict = guard.check_sync("input", Content(text, role, Stage.INPUT))  # type: ignore[arg-type]
        counts["layer"] += verdict.action is Action.BLOCK
        for monitor in {d.monitor for d in verdict.decisions if d.action is Action.BLOCK}:
            counts[monitor] = counts.get(monitor, 0) + 1
    return {k: v / max(1, len(texts)) for k, v in counts.items()}


def row(name: str, n: int, user: dict[str, float], system: dict[str, float]) -> str:
    cells = [f"{name} ({n})"]
    for key in ("layer", "signatures", "injection"):
        cells.append(f"{user.get(key, 0.0):.3f} / {system.get(key, 0.0):.3f}")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets/dev"))
    parser.add_argument("--generated", type=int, default=2000)
    parser.add_argument("--policy", type=Path, help="a policy file (default: the embedded one)")
    args = parser.parse_args()
    guard = Guard(load_policy(args.policy) if args.policy else default_policy())
    header = "| set | blocked (user / system) | signatures | injection |\n|---|---|---|---|"
    sections = {
        "Operators' system prompts": {
            "b3 applications": injection_sets.b3_system_prompts(),
            "PyRIT scorer prompts": injection_sets.scorer_system_prompts(),
            "inspect-evals task prompts": injection_sets.task_system_prompts(),
            "generated": generated(args.generated),
        },
        "Attacks": attacks(args.datasets),
    }
    for title, sets in sections.items():
        print(f"\n{title}, blocked by {args.policy or 'the default'} input layer:\n\n{header}")
        for name, texts in sets.items():
            user, system = (blocked_by(guard, texts, role) for role in ("user", "system"))
            print(row(name, len(texts), user, system))


if __name__ == "__main__":
    main()
