"""The adaptive attacker: up to k attempts per goal, each chosen after seeing what stopped the last.

The first attempt is the goal as written. After a refusal the attacker reads which barrier
stopped it (a rule such as ``input/signatures``, or only ``input``/``output`` when the target is
a remote endpoint) and picks an untried plan of mutators: it favours the mutation families that
get past that kind of barrier, avoids the mutators of plans that were already stopped, and, when
an attempt got through the input but was stopped at the output, keeps the input plan and asks
for an encoded answer instead. Its random choices come from a generator seeded by the run's seed
and the goal's id, so a goal's attempts are the same in any worker, process or Ray task.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from swisscheese.evaluation.mutators import MUTATORS, Mutated, compose

__all__ = ["PLANS", "AdaptiveAttacker", "Attempt", "Plan"]

Plan = tuple[str, ...]

# Order in which families are applied inside a plan: the inner request first, outer wrappers
# last, so that an encoding hides the framing too and noise trails everything.
_FAMILY_ORDER = ("output", "framing", "context", "splitting", "characters", "encoding", "noise")

# For each kind of barrier, how much the attacker favours each family next (1 is neutral).
_PREFERENCES: dict[str, dict[str, float]] = {
    "signatures": {"splitting": 3.0, "characters": 2.0, "encoding": 2.0, "framing": 0.7},
    "unicode": {"characters": 0.3, "splitting": 2.0, "framing": 2.0, "encoding": 1.5},
    "obfuscation": {"encoding": 0.3, "characters": 1.5, "splitting": 2.5, "framing": 2.0},
    "output": {"output": 6.0},
    "learned": {"framing": 2.5, "context": 2.0, "splitting": 1.5, "encoding": 1.5},
    "unknown": {},
}
_OUTPUT_MONITORS = {"canary", "secrets", "pii"}


def _barrier_kind(barrier: str) -> str:
    stage, _, monitor = barrier.partition("/")
    monitor = monitor.split("#", 1)[0]
    if stage in {"output", "reasoning", "tool_call"}:
        return "output"
    if not monitor:
        return "unknown"
    if monitor in _PREFERENCES:
        return monitor
    return "output" if monitor in _OUTPUT_MONITORS else "learned"


def _ordered(names: Sequence[str]) -> Plan:
    return tuple(sorted(names, key=lambda n: _FAMILY_ORDER.index(MUTATORS[n].family)))


def _all_plans(max_len: int) -> list[Plan]:
    names = sorted(MUTATORS)
    plans: list[Plan] = []
    for size in range(1, max_len + 1):
        for combo in itertools.combinations(names, size):
            families = [MUTATORS[n].family for n in combo]
            if len(set(families)) == len(families):  # one mutator per family
                plans.append(_ordered(combo))
    return plans


PLANS = _all_plans(2)
"""Every plan of one or two mutators (one per family) the attacker draws from."""


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    plan: Plan
    text: str
    reply_encoding: str | None


class AdaptiveAttacker:
    """Attempts for one goal: ``next_attempt()``, then ``refused(barriers)`` after a refusal."""

    def __init__(self, goal: str, goal_id: str, *, k: int, seed: int) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.goal = goal
        self.k = k
        self._rng = random.Random(f"{seed}:{goal_id}")
        self._tried: set[Plan] = set()
        self._stopped: dict[str, int] = {}
        self._last: Plan | None = None
        self._last_barriers: tuple[str, ...] = ()
        self.attempts = 0

    def next_attempt(self) -> Attempt | None:
        if self.attempts >= self.k:
            return None
        plan = () if self._last is None else self._choose()
        self._tried.add(plan)
        self._last = plan
        self.attempts += 1
        mutated = compose(plan, self.goal, self._rng) if plan else Mutated(self.goal)
        return Attempt(self.attempts, plan, mutated.text, mutated.reply_encoding)

    def refused(self, barriers: Sequence[str]) -> None:
        """What stopped the last attempt: barrier names, or stage names from a remote target."""
        self._last_barriers = tuple(barriers) or ("unknown",)
        for name in self._last or ():
            self._stopped[name] = self._stopped.get(name, 0) + 1

    def _choose(self) -> Plan:
        kinds = {_barrier_kind(b) for b in self._last_barriers}
        last = self._last or ()
        if kinds == {"output"}:
            # The input plan worked; keep it and hide the answer from the output filters.
            keep = [n for n in last if MUTATORS[n].family != "output"]
            options = [
                _ordered([*keep, n])
                for n in sorted(MUTATORS)
                if MUTATORS[n].family == "output" and _ordered([*keep, n]) not in self._tried
            ]
            if options:
                return options[self._rng.randrange(len(options))]
        weights: list[float] = []
        candidates: list[Plan] = []
        for plan in PLANS:
            if plan in self._tried:
                continue
            w = 1.0
            for name in plan:
                family = MUTATORS[name].family
                for kind in kinds:
                    w *= _PREFERENCES.get(kind, {}).get(family, 1.0)
                w *= 0.4 ** self._stopped.get(name, 0)
            candidates.append(plan)
            weights.append(w)
        if not candidates:
            return last
        return self._rng.choices(candidates, weights=weights, k=1)[0]
