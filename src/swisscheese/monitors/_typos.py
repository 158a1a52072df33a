"""The words of attack phrasing, misspelt so that an exact filter misses them and a model still
reads them ("Ignore your previous iunstructions", "ignroe all prevoius", "isntructions"): one
letter added, dropped, changed or two swapped, or the inner letters shuffled (typoglycemia:
first and last letter kept). Read back as the words they stand for, for the decoder's
``misspelt`` view, which the layer's other monitors rescan.

Only a short list of words is watched: the ones an instruction override, a prompt extraction or
a persona jailbreak cannot do without. Every misspelling of them within one edit is precomputed
(about 15,000 strings), so a text costs one set look-up per word of five letters or more.
English words one edit from a watched word ("developed", "rulers", "forgot") are real words,
not misspellings, and are left as they are.
"""

from __future__ import annotations

import re
import string
from functools import cache

__all__ = ["WATCHED", "misspelt_view"]

WATCHED = frozenset(
    """
    ignore disregard previous preceding instructions instruction directives guidelines
    restrictions restricted unrestricted unfiltered uncensored override bypass forget
    system prompt reveal confidential password jailbreak jailbroken developer pretend
    policies limitations constraints safeguards filters ethical hidden secret
    """.split()
)
"""Words of attack phrasing that a misspelling hides from the signatures."""

# Words one edit from a watched word that are words of their own: each one met in about 20 MB
# of READMEs, source files, chat and writing tasks (bench/misspellings.py lists them), and
# their like. The watched words' inflections ("prompts", "ignored") are never misspellings.
_REAL_WORDS = frozenset(
    """
    bidden constrains developed ethnical filers fillers filmers fitters forged forger forges
    forgot imitations midden overrode polices precious prepend proceeding receding repeal revel
    ridden signore
    """.split()
)

_LETTERS = string.ascii_lowercase


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, insertion, substitution or swap of neighbours from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deleted = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changed = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserted = {a + c + b for a, b in splits for c in _LETTERS}
    return deleted | swapped | changed | inserted


def _inflected(variant: str, word: str) -> bool:
    """``variant`` is the watched word inflected or cut short ("instruction", "prompts"), which
    the signatures' own stems already read."""
    return variant.startswith(word) or word.startswith(variant)


@cache
def _misspellings() -> dict[str, str]:
    """Each misspelling within one edit of a watched word, with the word it stands for. A
    string one edit from two watched words stands for neither."""
    meant: dict[str, str] = {}
    ambiguous: set[str] = set()
    for word in WATCHED:
        for variant in _one_edit(word):
            if len(variant) < 5 or _inflected(variant, word):
                continue
            if variant in meant and meant[variant] != word:
                ambiguous.add(variant)
            meant[variant] = word
    for variant in ambiguous | WATCHED | _REAL_WORDS:
        meant.pop(variant, None)
    return meant


def _inner_key(word: str) -> tuple[str, str, int, str]:
    return word[0], word[-1], len(word), "".join(sorted(word[1:-1]))


@cache
def _shuffled() -> dict[tuple[str, str, int, str], str]:
    """Watched words of six letters or more by their first and last letter, length and sorted
    inner letters: a word with its inner letters shuffled has the same key."""
    return {_inner_key(w): w for w in WATCHED if len(w) >= 6}


@cache
def _shuffled_ends() -> frozenset[tuple[str, str, int]]:
    return frozenset(k[:3] for k in _shuffled())


_WORD = re.compile(r"[A-Za-z]{5,}")
# How much text around the misspelt words the view reads: a window of the learned heads.
_CONTEXT = 300


def _meant(word: str) -> str | None:
    low = word.lower()
    if low in WATCHED or low in _REAL_WORDS:
        return None
    meant = _misspellings().get(low)
    if meant is None and (low[0], low[-1], len(low)) in _shuffled_ends():
        meant = _shuffled().get(_inner_key(low))
    if meant is None:
        return None
    # Written as the misspelling was: "IGNROE" stands for "IGNORE", "Ignroe" for "Ignore".
    if word.isupper():
        return meant.upper()
    return meant.capitalize() if word[0].isupper() else meant


def misspelt_view(text: str) -> tuple[int, int, str] | None:
    """Where the misspelt watched words of ``text`` are, with the text around them (up to 300
    characters either side, cut at spaces), and that stretch with them spelt right; None if
    there are none."""
    fixed: list[tuple[int, int, str]] = []
    for m in _WORD.finditer(text):
        meant = _meant(m.group())
        if meant is not None:
            fixed.append((m.start(), m.end(), meant))
    if not fixed:
        return None
    start = _cut(text, fixed[0][0] - _CONTEXT, backwards=True)
    end = _cut(text, fixed[-1][1] + _CONTEXT, backwards=False)
    parts: list[str] = []
    at = start
    for s, e, meant in fixed:
        parts += [text[at:s], meant]
        at = e
    parts.append(text[at:end])
    return start, end, "".join(parts)


def _cut(text: str, at: int, *, backwards: bool) -> int:
    """``at``, clamped to the text and moved to a space so no word is cut in two."""
    if at <= 0:
        return 0
    if at >= len(text):
        return len(text)
    space = text.rfind(" ", 0, at) if backwards else text.find(" ", at)
    if space < 0:
        return 0 if backwards else len(text)
    return space + 1 if backwards else space
