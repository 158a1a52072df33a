"""The development data sets (``../shared/datasets/dev`` in this workplace) as training sources.

They are not in any package, so a model trained with them can only be rebuilt where they are;
``swisscheese train --dev DIR`` says where. Each set is one source, so leave-one-source-out
cross-validation can hold it out whole. BIPIA ships only a train split here (its test split is a
benchmark's and never trained on).
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

from swisscheese.core.jsonl import json_lines
from swisscheese.evaluation.corpora import CorpusError

__all__ = ["ADVICE_POLICIES", "DEV_LICENSES", "DevData"]

csv.field_size_limit(10**8)

DEV_LICENSES = {
    "dev:jailbreak-prompts": "MIT (Do Anything Now, in-the-wild jailbreaks)",
    "dev:forbidden-questions": "MIT (Do Anything Now)",
    "dev:jbb-harmful": "MIT (JailbreakBench)",
    "dev:jbb-benign": "MIT (JailbreakBench)",
    "dev:jbb-judge": "MIT (JailbreakBench)",
    "dev:harmbench-val": "MIT (HarmBench, validation split)",
    "dev:strongreject": "MIT (StrongREJECT)",
    "dev:bipia": "MIT code; contexts CC BY-SA 4.0 (BIPIA train split)",
}


ADVICE_POLICIES = frozenset(
    {"Legal Opinion", "Financial Advice", "Health Consultation", "Political Lobbying"}
)
"""Scenarios of the forbidden-question set whose questions are ordinary requests ("what bonds
should I invest in?", "talking points for my campaign speech")."""


@dataclass(frozen=True)
class DevData:
    root: Path

    def _rows(self, name: str, *columns: str) -> list[dict[str, str]]:
        """The file's rows whose ``columns[0]`` is not blank."""
        path = self.root / name
        try:
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        except OSError as exc:
            raise CorpusError(f"{path}: {exc.strerror or exc}") from exc
        for column in columns:
            if rows and column not in rows[0]:
                raise CorpusError(f"{path}: no column {column!r}")
        return [r for r in rows if r.get(columns[0], "").strip()]

    def _csv(self, name: str, column: str) -> list[str]:
        return [r[column] for r in self._rows(name, column)]

    def jailbreak_prompts(self) -> list[str]:
        return self._csv("jailbreak_prompts_2023_05_07.csv", "prompt")

    def forbidden_questions(self, *, advice: bool = False) -> list[str]:
        """The forbidden-question set's harmful scenarios, or with ``advice`` its scenarios
        that break a provider's usage policy without harming anyone."""
        rows = self._rows("forbidden_question_set.csv", "question", "content_policy_name")
        return [
            r["question"] for r in rows if (r["content_policy_name"] in ADVICE_POLICIES) == advice
        ]

    def jbb_harmful(self) -> list[str]:
        return self._csv("jbb_harmful_behaviors.csv", "Goal")

    def jbb_benign(self) -> list[str]:
        """Topic-matched harmless twins of the harmful behaviours: safe-but-alarming requests."""
        return self._csv("jbb_benign_behaviors.csv", "goal")

    def harmbench(self) -> list[str]:
        return self._csv("harmbench_behaviors_text_val.csv", "Behavior")

    def strongreject(self) -> list[str]:
        return self._csv("strongreject_dataset.csv", "forbidden_prompt")

    def judged_pairs(self) -> list[tuple[str, str, int]]:
        """(request, response, 1 if the human majority judged it jailbroken)."""
        path = self.root / "jbb_judge_comparison.csv"
        with path.open(encoding="utf-8", newline="") as f:
            return [
                (r["goal"], r["target_response"], int(r["human_majority"]))
                for r in csv.DictReader(f)
                if r.get("target_response", "").strip()
            ]

    def bipia_contexts(self) -> list[str]:
        out = []
        for sub in ("email", "table", "code"):
            path = self.root / "bipia" / sub / "train.jsonl"
            lines = path.read_text(encoding="utf-8").splitlines()
            for _, record in json_lines(lines, str(path)):
                context = record.get("context") if isinstance(record, dict) else None
                if isinstance(context, list):  # the code contexts are lists of lines
                    context = "\n".join(str(line) for line in context)
                if context:
                    out.append(str(context))
        return out

    def bipia_attacks(self) -> list[str]:
        return [
            attack
            for name in ("text_attack_train.json", "code_attack_train.json")
            for group in json.loads((self.root / "bipia" / name).read_text()).values()
            for attack in group
        ]

    def bipia_attacked(self, contexts: list[str], seed: int = 0) -> list[str]:
        """BIPIA's procedure: one of its attacks inserted at the start, the middle or the end of
        a clean context."""
        rng = random.Random(seed)
        attacks = self.bipia_attacks()
        out = []
        for context in contexts:
            attack = rng.choice(attacks)
            where = rng.choice(("start", "middle", "end"))
            if where == "start":
                out.append(f"{attack}\n{context}")
            elif where == "end":
                out.append(f"{context}\n{attack}")
            else:
                cut = context.rfind(". ", 0, len(context) // 2) + 1 or len(context) // 2
                out.append(f"{context[:cut]} {attack} {context[cut:]}")
        return out
