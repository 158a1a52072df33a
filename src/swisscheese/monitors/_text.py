"""Text views with offset maps: normalise or fold text and still report spans in the original.

Printable ASCII never changes length under our transforms, so the common case (an ASCII
prompt) costs one ``str.translate`` and no map at all. Only characters outside printable ASCII
are visited one by one, and each is looked up in a cached per-character table.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from swisscheese.core.roles import View as View

# Characters that can change under any of our transforms: everything but printable ASCII,
# tab, newline and carriage return.
_IRREGULAR = re.compile(r"[^\t\n\r\x20-\x7e]+")
# Stretches of them, taking in short runs of printable ASCII between (spaces between Cyrillic
# words, say): each stretch then costs two C-level translates instead of one per word.
_STRETCH = re.compile(r"[^\t\n\r\x20-\x7e]+(?:[\t\n\r\x20-\x7e]{1,16}[^\t\n\r\x20-\x7e]+)*")


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Maps offsets in a derived view back to the source text.

    Stored as the non-identity segments only: view ``[vs[i], ve[i])`` came from source
    ``[ss[i], se[i])``. Between segments the two texts advance together.
    """

    vs: tuple[int, ...]
    ve: tuple[int, ...]
    ss: tuple[int, ...]
    se: tuple[int, ...]

    def start(self, v: int) -> int:
        i = bisect_right(self.vs, v) - 1
        if i < 0:
            return v
        if v < self.ve[i]:
            return self.ss[i]
        return self.se[i] + (v - self.ve[i])

    def end(self, v: int) -> int:
        """Source offset just after view character ``v - 1``."""
        if v <= 0:
            return 0
        p = v - 1
        i = bisect_right(self.vs, p) - 1
        if i < 0:
            return v
        if p < self.ve[i]:
            return self.se[i]
        return self.se[i] + (p - self.ve[i]) + 1

    def span(self, start: int, end: int) -> tuple[int, int]:
        s = self.start(start)
        e = max(self.end(end), s)
        return s, e


# Stands for "this character does not map to exactly one character" in CharTable.one_to_one.
_SHIFTS = "\uffff"


class CharTable(dict[int, str]):
    """A lazily filled code point → replacement table, usable by ``str.translate``.

    Shared and append-only, so safe across threads. ``one_to_one`` is its companion: the same
    replacements where they are one character long and ``_SHIFTS`` where they are not, so one
    translate tells whether a stretch of text keeps its offsets.
    """

    def __init__(self, fn: Callable[[str], str]) -> None:
        super().__init__()
        self._fn = fn
        self.one_to_one = _OneToOne(self)

    def __missing__(self, key: int) -> str:
        value = self._fn(chr(key))
        self[key] = value
        return value


class _OneToOne(dict[int, str]):
    def __init__(self, table: CharTable) -> None:
        super().__init__()
        self._table = table

    def __missing__(self, key: int) -> str:
        rep = self._table[key]
        value = rep if len(rep) == 1 else _SHIFTS
        self[key] = value
        return value


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def has_irregular(text: str) -> bool:
    """True when the text holds anything but printable ASCII, tab, newline and return."""
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _PRINTABLE_ASCII))
    return True


def transform(text: str, table: CharTable, ascii_table: bytes | None = None) -> View:
    """Apply ``table`` to every irregular character and ``ascii_table`` (1:1) to the result."""
    if not has_irregular(text):
        out = text if ascii_table is None else _ascii_translate(text, ascii_table)
        return View(out, len(text), None)
    pieces: list[str] = []
    vs: list[int] = []
    ve: list[int] = []
    ss: list[int] = []
    se: list[int] = []
    pos = 0
    vpos = 0
    for match in _STRETCH.finditer(text):
        start = match.start()
        if start > pos:
            pieces.append(text[pos:start])
            vpos += start - pos
        run = match.group()
        same = run.translate(table.one_to_one)
        if _SHIFTS not in same:
            # Every character maps to exactly one: offsets are unchanged, no segments.
            pieces.append(same)
            vpos += len(run)
            pos = match.end()
            continue
        for i, ch in enumerate(run, start):
            rep = table[ord(ch)]
            if rep != ch:
                vs.append(vpos)
                ve.append(vpos + len(rep))
                ss.append(i)
                se.append(i + 1)
            pieces.append(rep)
            vpos += len(rep)
        pos = match.end()
    pieces.append(text[pos:])
    out = "".join(pieces)
    offsets = OffsetMap(tuple(vs), tuple(ve), tuple(ss), tuple(se)) if vs else None
    if ascii_table is not None:
        out = _ascii_translate(out, ascii_table)
    return View(out, len(text), offsets)


def _ascii_translate(text: str, table: bytes) -> str:
    """Translate the ASCII characters of ``text`` by a 128-byte table (1:1, so offsets hold)."""
    if text.isascii():
        return text.encode("ascii").translate(table + bytes(range(128, 256))).decode("ascii")
    return text.translate(_table_dict(table))


@lru_cache(maxsize=8)
def _table_dict(table: bytes) -> dict[int, int]:
    return dict(enumerate(table))


# --- character classes -------------------------------------------------------------------

TAG_BASE = 0xE0000
BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e")
BIDI_ISOLATES = frozenset("\u2066\u2067\u2068\u2069")
BIDI_MARKS = frozenset("\u200e\u200f\u061c")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e\u034f\u00ad")
VARIATION_SELECTORS = frozenset(chr(c) for c in range(0xFE00, 0xFE10))
FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_tag(ch: str) -> bool:
    return 0xE0000 <= ord(ch) <= 0xE007F


def is_invisible(ch: str) -> bool:
    """Characters that render as nothing (or nothing readable) but reach the model."""
    if ch in ZERO_WIDTH or ch in VARIATION_SELECTORS or ch in FILLERS:
        return True
    cp = ord(ch)
    if 0xE0100 <= cp <= 0xE01EF or 0x2061 <= cp <= 0x2064:
        return True
    if ch in "\t\n\r":
        return False
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cf") and not is_tag(ch) and ch not in BIDI_OVERRIDES | BIDI_ISOLATES


def is_bidi_control(ch: str) -> bool:
    return ch in BIDI_OVERRIDES or ch in BIDI_ISOLATES or ch in BIDI_MARKS


# Confusables folded to Latin: only letters whose upper and lower case both look like the same
# Latin letter, so that folding commutes with case folding (a property the tests check).
_CONFUSABLE_PAIRS = (
    # Cyrillic
    ("А", "а", "A", "a"),
    ("Е", "е", "E", "e"),
    ("О", "о", "O", "o"),
    ("Р", "р", "P", "p"),
    ("С", "с", "C", "c"),
    ("Х", "х", "X", "x"),
    ("У", "у", "Y", "y"),
    ("І", "і", "I", "i"),
    ("Ј", "ј", "J", "j"),
    ("Ѕ", "ѕ", "S", "s"),
    ("Һ", "һ", "H", "h"),
    ("Ԛ", "ԛ", "Q", "q"),
    ("Ԝ", "ԝ", "W", "w"),
    ("Ԁ", "ԁ", "D", "d"),
    ("Ү", "ү", "Y", "y"),
    # Greek
    ("Α", "α", "A", "a"),
    ("Ο", "ο", "O", "o"),
    ("Ι", "ι", "I", "i"),
    ("Κ", "κ", "K", "k"),
    ("Ρ", "ρ", "P", "p"),
    ("Χ", "χ", "X", "x"),
    # Armenian and others that have a single case
    ("", "օ", "", "o"),
    ("", "ս", "", "u"),
    ("", "ց", "", "g"),
    ("", "ı", "", "i"),
    ("", "ɑ", "", "a"),
    ("", "ɡ", "", "g"),
    ("", "ɩ", "", "i"),
)

SMALL_CAPITALS = "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡʏᴢ"
"""The Latin small capitals folded to their letters (NFKC leaves them as they are)."""

# Capitals whose small letter looks like no Latin one (Cyrillic "н" is not "h", "Н" is "H").
_CAPITAL_LOOKALIKES = {
    "В": "B", "Н": "H", "К": "K", "М": "M", "Т": "T",
    "Β": "B", "Ε": "E", "Η": "H", "Μ": "M", "Ν": "N", "Τ": "T", "Ζ": "Z", "Υ": "Y",
}  # fmt: skip
CONFUSABLES: dict[str, str] = dict(_CAPITAL_LOOKALIKES)
CONFUSABLES.update(zip(SMALL_CAPITALS, "abcdefghijklmnopqrstuvwyz", strict=True))
for _up, _lo, _lat_up, _lat_lo in _CONFUSABLE_PAIRS:
    if _up:
        CONFUSABLES[_up] = _lat_up
    CONFUSABLES[_lo] = _lat_lo

_LATIN_SCRIPTS = ("LATIN",)


def script_of(ch: str) -> str:
    """A coarse script name from the character's Unicode name (LATIN, CYRILLIC, GREEK, …)."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else "COMMON"
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "UNKNOWN"
    return name.split(" ", 1)[0]


_REGIONAL_A = 0x1F1E6  # REGIONAL INDICATOR SYMBOL LETTER A


def _normal_char(ch: str) -> str:
    if is_tag(ch):
        cp = ord(ch) - TAG_BASE
        # Tag characters mirror ASCII: the hidden text is what the model reads.
        return chr(cp) if 0x20 <= cp <= 0x7E else ""
    if is_invisible(ch) or is_bidi_control(ch):
        return ""
    if ch in CONFUSABLES:
        return ch
    if _REGIONAL_A <= ord(ch) <= _REGIONAL_A + 25:
        # Regional indicators, which pair into flags, spell words letter by letter to a model.
        return chr(ord("A") + ord(ch) - _REGIONAL_A)
    return unicodedata.normalize("NFKC", ch)


NORMAL_TABLE = CharTable(_normal_char)

_LOOKALIKE_LETTERS = "".join(CONFUSABLES)
_LOOKALIKE = re.compile(f"[{_LOOKALIKE_LETTERS}]")
# A word (no word character either side) that could be a Latin one: Latin letters, digits and
# lookalikes only ("ехес"), or any word with a Latin letter in it ("equіvalεnt": no script's
# own word mixes in Latin letters). A word of another script without one ("себя") never
# matches, so Russian or Greek text costs one C-level scan.
_LATIN = r"0-9A-Za-z_\u00c0-\u024f\u1e00-\u1eff"
_LATIN_LOOKING = rf"[{_LATIN}]*[{_LOOKALIKE_LETTERS}][{_LATIN}{_LOOKALIKE_LETTERS}]*|\w*[A-Za-z]\w*"
_OTHER_SCRIPT_LETTER = re.compile(rf"[^\W{_LATIN}{_LOOKALIKE_LETTERS}]")


def _word_runs(min_len: int) -> re.Pattern[str]:
    # Runs of such words, with what separates them: one translate for a disguised sentence.
    word = rf"(?<!\w)(?=\w{{{min_len}}})(?:{_LATIN_LOOKING})(?!\w)"
    return re.compile(rf"{word}(?:\W+{word})*")


_DISGUISED_WORDS = _word_runs(1)
# Where the text has words of another script, a one-letter lookalike word is one of them
# (Russian "с", "а", "о", "у").
_DISGUISED_WORDS_AMONG_OTHERS = _word_runs(2)
_FOLD_LOOKALIKES = str.maketrans(CONFUSABLES)


def fold_lookalike_words(text: str) -> str:
    """``text`` with the lookalike letters folded to Latin in words that could be Latin ones.
    A word with a letter of its own script ("себя", "ассистент") is that script's word and keeps
    its letters. One character for one, so offsets hold."""
    if text.isascii() or not _LOOKALIKE.search(text):
        return text
    words = _DISGUISED_WORDS_AMONG_OTHERS if _OTHER_SCRIPT_LETTER.search(text) else _DISGUISED_WORDS
    return words.sub(lambda m: m.group().translate(_FOLD_LOOKALIKES), text)


def normalize(text: str) -> View:
    """NFKC, invisible and control characters removed, tags revealed, lookalikes in disguised
    Latin words folded.

    Case is kept: this is the view that later monitors (secrets, PII, classifiers) read, and
    they were trained on Russian or Greek as it is written, so words of those scripts stay so.
    """
    view = transform(text, NORMAL_TABLE)
    folded = fold_lookalike_words(view.text)
    return view if folded == view.text else View(folded, view.source_len, view.offsets)


def _fold_char(ch: str) -> str:
    # Lookalikes are folded before case: a capital's small letter ("в" of "В") may look like
    # no Latin one.
    ch = CONFUSABLES.get(ch, ch)
    lowered = ch if is_tag(ch) else ch.casefold()
    base = "".join(_normal_char(c) for c in lowered).casefold()
    out: list[str] = []
    for c in unicodedata.normalize("NFKD", base):
        if unicodedata.category(c) == "Mn":
            continue
        c = CONFUSABLES.get(c, c)
        if c.isalnum() or c == " ":
            out.append(c.casefold())
        elif c.isascii():
            out.append(c.casefold() if c.isalpha() else " ")
        else:
            out.append(" ")
    return "".join(out)


FOLD_TABLE = CharTable(_fold_char)
_ASCII_FOLD = bytes(c + 32 if 65 <= c <= 90 else c if chr(c).isalnum() else 32 for c in range(128))


def fold(text: str) -> View:
    """The matching view: case-folded, accents dropped, confusables folded, punctuation to spaces.

    Every transform is per character, so the same function applied to a pattern's literal words
    and to an input agrees, in every script.
    """
    return transform(text, FOLD_TABLE, _ASCII_FOLD)


def claim(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    """Record ``[start, end)`` unless it overlaps a span already taken; True if recorded."""
    if any(s < end and start < e for s, e in taken):
        return False
    taken.append((start, end))
    return True
