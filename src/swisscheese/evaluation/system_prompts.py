"""Operators' system prompts that ship inside installed packages: benign text that reads like
orders. The evaluation sends them as system messages (``packages:system-prompts``); the
injection detector trains on the first two as hard negatives, never on PyRIT's.

- ``b3_system_prompts``: inspect-evals' b3 threat snapshots, one prompt per application;
- ``task_system_prompts``: the system prompts evaluation authors wrote for inspect-evals' tasks
  (roles, task framing, output formats), attack and red-team tasks left out;
- ``scorer_system_prompts``: PyRIT's scorers (judges of refusals, harms, Likert scales).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import yaml

from swisscheese.common import package_file
from swisscheese.evaluation.corpora import CorpusError

__all__ = ["b3_system_prompts", "scorer_system_prompts", "task_system_prompts"]


def _package_file(dist: str, relpath: str) -> Path:
    return package_file(dist, relpath, error=CorpusError)


def b3_system_prompts() -> list[str]:
    """Operators' system prompts of b3's threat snapshots (one per application)."""
    folder = _package_file("inspect-evals", "inspect_evals/b3/data/threat_snapshots")
    prompts = set()
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("system_prompt"), str):
            prompts.add(data["system_prompt"])
    return sorted(prompts)


# Tasks whose system prompts are an attacker's, or are in the data already.
_NOT_OPERATOR_TASKS = re.compile(
    r"attack|jailbreak|red_?team|b3|agentic_misalignment|ipi_coding_agent", re.IGNORECASE
)


def task_system_prompts() -> list[str]:
    """System prompts of inspect-evals' tasks: module-level string constants named ``*SYSTEM*``
    of 150 characters or more, as evaluation authors write them for the models they test (roles,
    task framing, output formats). Attack and red-team tasks are left out."""
    root = _package_file("inspect-evals", "inspect_evals")
    prompts: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        if _NOT_OPERATOR_TASKS.search(str(path.relative_to(root))):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
                continue
            named = any(isinstance(t, ast.Name) and "SYSTEM" in t.id.upper() for t in node.targets)
            value = node.value.value
            if named and isinstance(value, str) and len(value) >= 150:
                prompts.add(value.strip())
    return sorted(prompts)


def scorer_system_prompts() -> list[str]:
    """System prompts of PyRIT's scorers (judges of refusals, harms, Likert scales): whole
    prompts of 200 characters or more from its ``datasets/score`` files."""
    root = _package_file("pyrit", "pyrit/datasets/score")
    prompts: set[str] = set()
    for path in sorted(root.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        value = data.get("value") if isinstance(data, dict) else None
        if isinstance(value, str) and len(value) >= 200:
            prompts.add(value.strip())
    return sorted(prompts)
