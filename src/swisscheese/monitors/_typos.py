"""The words of attack phrasing, misspelt so that an exact filter misses them and a model still
reads them ("Ignore your previous iunstructions", "synhtesise a nerve agnet"): a letter dropped,
doubled or two swapped, the inner letters shuffled (typoglycemia: first and last letter kept),
and for the words of an instruction override also a letter added or changed. Read back as the
words they stand for, for the decoder's ``misspelt`` view, which the layer's other monitors
rescan.

Watched: the English words of five letters or more of the built-in catalogues (signatures,
hazards, crimes; a stem's forms among them: about 3,000), whose misspellings hide a request from
them, and every one-edit misspelling of the few words an override, a prompt extraction or a
persona jailbreak cannot do without. All are precomputed (about 75,000 strings), so a text
costs a set intersection of its distinct words. English words one edit from a watched word
("developed", "forgot") are real words, not misspellings, and are left as they are. A
misspelling of two watched words ("wite": write, white) is read both ways, in two views.
"""

from __future__ import annotations

import re
import string
from functools import cache
from importlib import resources

__all__ = [
    "OVERRIDE_WORDS",
    "REAL_WORDS_FILE",
    "candidate",
    "misspelt_views",
    "real_words",
    "watched_words",
]

OVERRIDE_WORDS = frozenset(
    """
    ignore disregard previous preceding instructions instruction directives guidelines
    restrictions restricted unrestricted unfiltered uncensored override bypass forget
    system prompt reveal confidential password jailbreak jailbroken developer pretend
    policies limitations constraints safeguards filters ethical hidden secret
    """.split()
)
"""Words of attack phrasing read back from any one edit, a letter added or changed too."""

_CATALOGUES = ("data/signatures.yaml", "data/hazards.yaml", "data/crimes.yaml")
REAL_WORDS_FILE = "data/real_words.txt"
"""Where, in this package, the real words that ordinary text uses are listed."""

# Words one edit from an override word that are words of their own (met in READMEs, source
# files, chat and writing tasks), and their like. The other watched words' are listed in
# data/real_words.txt. Inflections ("prompts", "ignored") are never misspellings.
_REAL_WORDS = frozenset(
    """
    bidden constrains developed ethnical filers fillers filmers fitters forger forges
    forgot imitations midden overrode precious prepend receding repeal revel
    ridden signore
    """.split()
)

_LETTERS = string.ascii_lowercase


@cache
def watched_words() -> frozenset[str]:
    """The English words of five letters or more in the built-in catalogues' phrases; a stem
    ("scrap*") with the endings it takes in a request ("scrapes", "scraping")."""
    # Imported here: the catalogues are the signature monitors' data, read once.
    from swisscheese.monitors.signatures import SignaturesConfig, load_catalogue, parse_phrase

    words: set[str] = set()
    for entry in load_catalogue(SignaturesConfig(), _CATALOGUES):
        if entry.get("lang", "en") != "en":
            continue
        for phrase in entry.get("phrases", ()):
            for item in parse_phrase(phrase):
                for alternative, stem in zip(item.alternatives, item.stems, strict=True):
                    forms = [alternative + end for end in _ENDINGS] if stem else [alternative]
                    words.update(w for form in forms for w in form.split() if _watchable(w))
    return frozenset(words | OVERRIDE_WORDS)


_ENDINGS = ("", "s", "es", "ed", "ing", "er", "ers", "ion", "ions")


def _watchable(word: str) -> bool:
    return len(word) >= 5 and word.isascii() and word.isalpha()


def _kept_readable(word: str) -> set[str]:
    """The misspellings that keep a word readable: a letter dropped or doubled, or two
    neighbours swapped."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {a + b[1:] for a, b in splits if b}
    doubled = {a + b[0] + b for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    return dropped | doubled | swapped


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, insertion, substitution or swap of neighbours from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    changed = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserted = {a + c + b for a, b in splits for c in _LETTERS}
    return _kept_readable(word) | changed | inserted


def _inflected(variant: str, word: str) -> bool:
    """``variant`` is the watched word inflected or cut short ("instruction", "prompts"), which
    the catalogues' own stems already read."""
    return variant.startswith(word) or word.startswith(variant)


_Meanings = tuple[str, ...]


@cache
def _edits() -> dict[str, _Meanings]:
    """Each misspelling of a watched word, with the words it stands for (in alphabetical
    order); a watched word stands for none."""
    meant: dict[str, set[str]] = {}
    words = watched_words()
    for word in words:
        variants = _one_edit(word) if word in OVERRIDE_WORDS else _kept_readable(word)
        for variant in variants:
            if len(variant) >= 4 and not _inflected(variant, word):
                meant.setdefault(variant, set()).add(word)
    return {v: tuple(sorted(m)) for v, m in meant.items() if v not in words}


def _inner_key(word: str) -> tuple[str, str, int, str]:
    return word[0], word[-1], len(word), "".join(sorted(word[1:-1]))


@cache
def _shuffled() -> dict[tuple[str, str, int, str], _Meanings]:
    """Watched words by their first and last letter, length and sorted inner letters: a word
    with its inner letters shuffled has the same key."""
    keys: dict[tuple[str, str, int, str], set[str]] = {}
    for w in watched_words():
        keys.setdefault(_inner_key(w), set()).add(w)
    return {key: tuple(sorted(words)) for key, words in keys.items()}


def _letter_sum(word: str) -> tuple[str, str, int, int]:
    """A cheap test before the sort: first and last letter, length and the sum of the letters'
    codes, which shuffling keeps."""
    return word[0], word[-1], len(word), sum(word.encode())


@cache
def _shuffled_sums() -> frozenset[tuple[str, str, int, int]]:
    return frozenset(_letter_sum(w) for w in watched_words())


def candidate(word: str) -> str | None:
    """The first watched word that lower-case ``word`` is a misspelling of by its letters,
    whether or not it is a word of its own."""
    meant = _edits().get(word)
    if meant is None and _letter_sum(word) in _shuffled_sums() and word not in watched_words():
        meant = _shuffled().get(_inner_key(word))
    return meant[0] if meant else None


@cache
def real_words() -> frozenset[str]:
    """Candidate misspellings that are words: those ordinary text uses
    (``data/real_words.txt``, written by ``swisscheese real-words``) and those of the
    override words, listed here."""
    listed = resources.files("swisscheese.monitors").joinpath(REAL_WORDS_FILE)
    lines = listed.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w and not w.startswith("#")) | _REAL_WORDS


@cache
def _misspellings() -> dict[str, _Meanings]:
    real = real_words()
    return {w: meant for w, meant in _edits().items() if w not in real}


# Words already found to be no shuffle of a watched word: text is mostly the same few thousand
# words, and a set difference removes them from a text's words at C speed. Bounded, since
# anyone may send words; past the bound, new words are tested each time.
_NO_SHUFFLE: set[str] = set()
_NO_SHUFFLE_LIMIT = 200_000

_WORD = re.compile(r"[A-Za-z]{4,}")
_LOWER_WORD = re.compile(r"[a-z]{4,}")
# How much text around the misspelt words the view reads: a window of the learned heads.
_CONTEXT = 300


def _misspelt_words(text: str) -> dict[str, _Meanings]:
    """The misspelt watched words of ``text``, lower-cased, with the words they stand for. Set
    operations on the text's distinct words: nearly every text has none."""
    words = set(_LOWER_WORD.findall(text.lower()))
    misspellings = _misspellings()
    meant = {w: misspellings[w] for w in words & misspellings.keys()}
    sums, shuffled = _shuffled_sums(), _shuffled()
    # A word one edit from a watched word is read as that one, not as a shuffle of another.
    for w in words - meant.keys() - watched_words() - real_words() - _NO_SHUFFLE:
        # _letter_sum, written out: this loop runs over every new word of every text.
        shuffled_from = None
        if (w[0], w[-1], len(w), sum(w.encode())) in sums:
            shuffled_from = shuffled.get(_inner_key(w))
        if shuffled_from is not None:
            meant[w] = shuffled_from
        elif len(_NO_SHUFFLE) < _NO_SHUFFLE_LIMIT:
            _NO_SHUFFLE.add(w)
    return meant


def _as_written(meant: str, written: str) -> str:
    """Written as the misspelling was: "IGNROE" stands for "IGNORE", "Ignroe" for "Ignore"."""
    if written.isupper():
        return meant.upper()
    return meant.capitalize() if written[0].isupper() else meant


# A misspelling of three or more watched words is read as its first three.
_MAX_READINGS = 3


def misspelt_views(text: str) -> list[tuple[int, int, str]]:
    """Where the misspelt watched words of ``text`` are, with the text around them (up to 300
    characters either side, cut at spaces), and that stretch with them spelt right: one view,
    or one for each word a misspelling of several stands for (the i-th view reads each such
    misspelling as its i-th word, or its last); none if there are none."""
    meant = _misspelt_words(text)
    if not meant:
        return []
    found = [
        (m, meant[m.group().lower()]) for m in _WORD.finditer(text) if m.group().lower() in meant
    ]
    if not found:
        return []
    start = _cut(text, found[0][0].start() - _CONTEXT, backwards=True)
    end = _cut(text, found[-1][0].end() + _CONTEXT, backwards=False)
    readings = min(_MAX_READINGS, max(len(words) for _, words in found))
    views = []
    for i in range(readings):
        parts: list[str] = []
        at = start
        for m, words in found:
            parts += [text[at : m.start()], _as_written(words[min(i, len(words) - 1)], m.group())]
            at = m.end()
        parts.append(text[at:end])
        views.append((start, end, "".join(parts)))
    return views


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
