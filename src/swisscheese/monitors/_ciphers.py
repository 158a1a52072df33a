"""Writing systems and hiding places a model reads fluently and a text detector does not: Braille
cells, the NATO spelling alphabet, Atbash, Caesar shifts, text turned upside down, letters
written twice, and bytes hidden in invisible characters (variation selectors, or two invisible
characters standing for bits). Pure functions for the decoder;
each finds candidate runs and yields where each is and what it reads as (text, or the bytes
it hides for the decoder to test as text)."""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "atbash",
    "braille_runs",
    "caesar",
    "caesar_shifts",
    "hidden_byte_runs",
    "nato_runs",
    "turned_run",
    "undoubled",
    "upside_down",
]

_ATBASH = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA",
)


def atbash(text: str) -> str:
    """The alphabet reversed (a <-> z); its own inverse."""
    return text.translate(_ATBASH)


_LOWER = "abcdefghijklmnopqrstuvwxyz"


def caesar(text: str, shift: int) -> str:
    """Every Latin letter moved ``shift`` places on in the alphabet (ROT13 is 13)."""
    moved = _LOWER[shift % 26 :] + _LOWER[: shift % 26]
    return text.translate(str.maketrans(_LOWER + _LOWER.upper(), moved + moved.upper()))


# Letter frequencies of English text (per cent): a Caesar cipher keeps their shape, shifted.
_ENGLISH_FREQUENCY = (
    8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4,
    6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0, 0.074,
)  # fmt: skip


FEW_LETTERS = 60


def caesar_shifts(text: str, keep: int = 3) -> list[int]:
    """The ``keep`` shifts likeliest to decode ``text`` if it were a Caesar cipher: those under
    which its letter counts fit English best (chi-squared); ROT13 and no shift left out, which
    the decoder reads anyway. Under ``FEW_LETTERS`` letters every shift, best first: so few
    letters fit English by chance ("ujnf cbdl kvtu lopx mjlf bcpvu", shifted by one, fit
    three other shifts better)."""
    head = text[:2000].lower()
    counts = [head.count(c) for c in _LOWER]
    total = sum(counts)
    if total < 20:
        return []
    expected = [f * total / 100 for f in _ENGLISH_FREQUENCY]

    def misfit(shift: int) -> float:
        # Decoding moves each letter ``shift`` on: plain letter i was cipher letter i - shift.
        return sum((counts[(i - shift) % 26] - e) ** 2 / e for i, e in enumerate(expected))

    shifts = sorted((s for s in range(1, 26) if s != 13), key=misfit)
    return shifts if total < FEW_LETTERS else shifts[:keep]


# Letters turned upside down and what they are turned back (lower case, and the capitals with a
# turned form of their own). The rest of the alphabet turns into another letter: "d" into "p".
_TURNED = {
    "ɐ": "a", "q": "b", "ɔ": "c", "p": "d", "ǝ": "e", "ə": "e", "ɟ": "f", "ƃ": "g", "ɥ": "h",
    "ᴉ": "i", "ı": "i", "ɾ": "j", "ʞ": "k", "ɯ": "m", "u": "n", "d": "p", "b": "q", "ɹ": "r",
    "ʇ": "t", "n": "u", "ʌ": "v", "ʍ": "w", "ʎ": "y", "∀": "A", "Ɔ": "C", "Ǝ": "E", "Ⅎ": "F",
    "⅁": "G", "ſ": "J", "˥": "L", "Ԁ": "P", "∩": "U", "Λ": "V", "⅄": "Y", "ꓕ": "T", "ꓤ": "R",
    "˙": ".", "¿": "?", "¡": "!", "'": ",", ",": "'", "„": "\"",
}  # fmt: skip
_TURN = str.maketrans(_TURNED)
# Turned letters that no ordinary letter is: three of them, and a text may be upside down.
_ONLY_TURNED_LETTERS = "ɐǝɟƃɥᴉɾʞɯɹʇʌʍʎ∀ƎℲ⅁˥Ԁ⅄"
_ONLY_TURNED = re.compile(f"[{_ONLY_TURNED_LETTERS}]")


def _at_least(n: int, matches: Iterator[re.Match[str]]) -> bool:
    """Whether ``matches`` has ``n`` matches, searched no further than the ``n``-th."""
    return all(next(matches, None) is not None for _ in range(n))


def _has_turned_letters(text: str) -> bool:
    """Three or more letters that only a turned alphabet has, anywhere: a sentence turned
    upside down may stand at the end of a long document."""
    return not text.isascii() and _at_least(3, _ONLY_TURNED.finditer(text))


def upside_down(text: str) -> str | None:
    """``text`` turned right way up (read from its end, each letter turned back), if it has
    three or more letters that only a turned letter is; else None."""
    return text[::-1].translate(_TURN) if _has_turned_letters(text) else None


# From the first turned letter to the last, with the words and punctuation they are part of.
_TURNED_RUN = re.compile(
    rf"\S*[{_ONLY_TURNED_LETTERS}](?:.*[{_ONLY_TURNED_LETTERS}]\S*)?", re.DOTALL
)


def turned_run(text: str) -> tuple[int, int, str] | None:
    """Where the upside-down stretch of ``text`` is, and it turned right way up, if a fifth of
    its letters or more are ones only a turned alphabet has (an IPA transcription has a few);
    else None. Plain words around it (a request to read it, noise) are left out."""
    if not _has_turned_letters(text):
        return None
    m = _TURNED_RUN.search(text)
    if m is None:
        return None
    run = m.group()
    if len(_ONLY_TURNED.findall(run)) < 0.2 * sum(c.isalpha() for c in run):
        return None
    return m.start(), m.end(), run[::-1].translate(_TURN)


# A word written with every letter twice ("IIggnnoorree"): four letters or more to count, any
# length once counted ("aa" is "a").
_DOUBLED_WORD = re.compile(r"\b(?:([A-Za-z])\1){2,}\b")
_DOUBLED_ANY = re.compile(r"\b(?:([A-Za-z])\1)+\b")


def undoubled(text: str) -> str | None:
    """``text`` with each word whose every letter is written twice written once, if three or
    more of four letters or more are ("IIggnnoorree aallll"); else None. Noise around them
    stays as it is."""
    if not _at_least(3, _DOUBLED_WORD.finditer(text)):
        return None
    return _DOUBLED_ANY.sub(lambda m: m.group()[::2], text)


# -- Braille (grade 1, English) ------------------------------------------------------------

_BRAILLE_LETTERS = dict(
    zip("⠁⠃⠉⠙⠑⠋⠛⠓⠊⠚⠅⠇⠍⠝⠕⠏⠟⠗⠎⠞⠥⠧⠺⠭⠽⠵", "abcdefghijklmnopqrstuvwxyz", strict=True)
)
_BRAILLE_MARKS = {"⠲": ".", "⠂": ",", "⠦": "?", "⠖": "!", "⠄": "'", "⠤": "-", "⠌": "/", "⠆": ";"}
_BRAILLE_CAPITAL = "⠠"
_BRAILLE_NUMBER = "⠼"
_DIGITS = dict(zip("abcdefghij", "1234567890", strict=True))
# Eight cells at least, spaces (or the blank cell) between words allowed.
_BRAILLE_CELL = re.compile("[\u2800-\u28ff]")
_BRAILLE_RUN = re.compile("[⠁-⠿](?:[⠀-⠿ ]*[⠁-⠿]){7,}")


def _braille_text(cells: str) -> str:
    out: list[str] = []
    capital = number = False
    for cell in cells:
        if cell == _BRAILLE_CAPITAL:
            capital = True
            continue
        if cell == _BRAILLE_NUMBER:
            number = True
            continue
        if cell in " ⠀":
            out.append(" ")
            number = False
            continue
        letter = _BRAILLE_LETTERS.get(cell)
        if letter is None:
            out.append(_BRAILLE_MARKS.get(cell, "?"))
        elif number and letter in _DIGITS:
            out.append(_DIGITS[letter])
        else:
            out.append(letter.upper() if capital else letter)
        capital = False
    return "".join(out)


def braille_runs(text: str) -> Iterator[tuple[int, int, str]]:
    if _BRAILLE_CELL.search(text) is None:
        return
    for m in _BRAILLE_RUN.finditer(text):
        yield m.start(), m.end(), _braille_text(m.group())


# -- NATO spelling alphabet ---------------------------------------------------------------------

_NATO = {
    "alfa": "a", "alpha": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e",
    "foxtrot": "f", "golf": "g", "hotel": "h", "india": "i", "juliett": "j", "juliet": "j",
    "kilo": "k", "lima": "l", "mike": "m", "november": "n", "oscar": "o", "papa": "p",
    "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "whisky": "w", "xray": "x", "x-ray": "x", "yankee": "y", "zulu": "z",
}  # fmt: skip
_NATO_WORD = "(?:" + "|".join(sorted(map(re.escape, _NATO), key=len, reverse=True)) + ")"
# Six code words at least; a slash, a bar or two spaces between them mark a word break.
_NATO_RUN = re.compile(
    rf"(?i)(?<![\w-]){_NATO_WORD}(?:(?:[ ,]+|\s*[/|]\s*|\s{{2,}}){_NATO_WORD}){{5,}}(?![\w-])"
)
_NATO_GAP = re.compile(r"(?i)\s*[/|]\s*|\s{2,}|[ ,]+")
# Code words for letters any sentence uses; a run of six code words holds two of them at least.
_NATO_HINTS = ("echo", "alfa", "alpha", "oscar", "india", "sierra", "tango", "romeo")


def nato_runs(text: str) -> Iterator[tuple[int, int, str]]:
    lowered = text.lower()
    if sum(lowered.count(hint) for hint in _NATO_HINTS) < 2:
        return
    for m in _NATO_RUN.finditer(text):
        out: list[str] = []
        pos = 0
        run = m.group()
        for gap in _NATO_GAP.finditer(run):
            out.append(_NATO[run[pos : gap.start()].lower()])
            if any(mark in gap.group() for mark in ("/", "|", "  ", "\n")):
                out.append(" ")
            pos = gap.end()
        out.append(_NATO[run[pos:].lower()])
        yield m.start(), m.end(), "".join(out)


# -- bytes in invisible characters --------------------------------------------------------------

# Variation selectors 1-16 and 17-256 each stand for one byte (0-15, 16-255); or two invisible
# characters stand for 0 and 1. One scan finds runs of either.
_SELECTOR_CHARS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_BIT_CHARS = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
_HIDDEN_RUN = re.compile(f"[{_SELECTOR_CHARS}{_BIT_CHARS}]{{6,}}")
_SELECTOR_RUN = re.compile(f"[{_SELECTOR_CHARS}]{{6,}}")
_BIT_RUN = re.compile(f"[{_BIT_CHARS}]{{48,}}")


def hidden_byte_runs(text: str) -> Iterator[tuple[int, int, str, bytes]]:
    """(start, end, kind, bytes) for each run of variation selectors, and for each run of
    exactly two invisible characters a multiple of eight long: both readings of its bits
    (either character as 0; the caller keeps the one that is text)."""
    # One scan for any hidden run (a single character class is fast); each is then split.
    for hidden in _HIDDEN_RUN.finditer(text):
        at = hidden.start()
        for m in _SELECTOR_RUN.finditer(hidden.group()):
            raw = bytes(
                ord(c) - 0xFE00 if ord(c) <= 0xFE0F else ord(c) - 0xE0100 + 16 for c in m.group()
            )
            yield at + m.start(), at + m.end(), "variation-selectors", raw
        for m in _BIT_RUN.finditer(hidden.group()):
            run = m.group()
            symbols = sorted(set(run))
            if len(symbols) != 2 or len(run) % 8:
                continue
            for zero, one in (symbols, symbols[::-1]):
                bits = run.replace(zero, "0").replace(one, "1")
                raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
                yield at + m.start(), at + m.end(), "invisible-bits", raw
