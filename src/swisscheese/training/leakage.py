"""Leakage control: no development item may be trained on.

Every text of the development data sets is reduced to a normalised hash (NFKC, case-folded,
letters and digits only). Training items whose own hash is among them are leakage: training
refuses to start. Near-duplicates (half or more of an item's 8-word shingles appear in one
development text, e.g. a jailbreak template filled with another request) are removed from the
training set before that check, and counted in the data card. Texts under four words are not
compared: "thanks!" in two chat corpora is a coincidence, not leakage.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from swisscheese.core.errors import SwisscheeseError
from swisscheese.core.jsonl import json_lines
from swisscheese.learned.trained import canonical

__all__ = ["DevIndex", "LeakageError", "fingerprint"]

csv.field_size_limit(10**8)
SHINGLE = 8


class LeakageError(SwisscheeseError, RuntimeError):
    """Training data contains development items."""


def fingerprint(text: str) -> str:
    return _digest(canonical(text))


def _digest(form: str) -> str:
    return hashlib.sha256(form.encode()).hexdigest()


def _countable(form: str) -> bool:
    """Items of fewer than four words ("hi", "thanks!") coincide by chance, not by leakage."""
    return len(form.split()) >= 4


def _shingles(form: str) -> set[int]:
    words = form.split()
    return {hash(" ".join(words[i : i + SHINGLE])) for i in range(max(len(words) - SHINGLE + 1, 0))}


def _texts(path: Path) -> Iterator[str]:
    """Every string field of a CSV, JSON or JSONL file."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                yield from (cell for cell in row if len(cell) >= 12)
    elif path.suffix in {".json", ".jsonl"}:
        raw = path.read_text(encoding="utf-8")
        docs = (
            [value for _, value in json_lines(raw.splitlines(), str(path))]
            if path.suffix == ".jsonl"
            else [json.loads(raw)]
        )
        stack: list[object] = list(docs)
        while stack:
            node = stack.pop()
            if isinstance(node, str) and len(node) >= 12:
                yield node
            elif isinstance(node, dict):
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


@dataclass
class DevIndex:
    hashes: set[str]
    shingles: set[int]
    files: int

    @classmethod
    def build(cls, root: Path) -> DevIndex:
        hashes: set[str] = set()
        shingles: set[int] = set()
        files = 0
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.suffix not in {".csv", ".json", ".jsonl"}:
                continue
            files += 1
            for text in _texts(path):
                form = canonical(text)
                if _countable(form):
                    hashes.add(_digest(form))
                    shingles |= _shingles(form)
        return cls(hashes, shingles, files)

    # The ``form`` methods take a text's canonical form (``learned.trained.canonical``), for
    # callers that reduce each text once and ask several questions of it.
    def holds(self, form: str) -> bool:
        """The held-out data has the item whose canonical form is ``form``."""
        return _countable(form) and _digest(form) in self.hashes

    def resembles(self, form: str) -> bool:
        """Half or more of the item's 8-word shingles are in the held-out data."""
        own = _shingles(form)
        return bool(own) and len(own & self.shingles) * 2 >= len(own)

    def leaked(self, texts: Iterable[str]) -> list[str]:
        return [t for t in texts if self.holds(canonical(t))]
