"""Hashed character and word n-grams, computed with numpy (no per-n-gram Python loop).

The same function featurises training data and live traffic, so a model can never see features
at inference that differ from the ones it was trained on. Text is NFKC-normalised, case-folded
and its whitespace collapsed; character 3- to 5-grams are hashed with a polynomial rolling hash
over the code points, words by CRC-32 and word pairs by combining those.
Each distinct bucket counts once and the vector is L2-normalised, so length alone moves nothing.

A request/response pair (``pair_text``) can be featurised with the request's n-grams in buckets
of their own (``featurize_pair``): a linear model then weighs what the *response* says apart
from what was asked, which is the whole question for a harmful-output detector.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DIM",
    "MAX_CHARS",
    "RESPONSE_MARK",
    "featurize",
    "featurize_each",
    "featurize_pair",
    "has_lookalike_words",
    "join_spread_letters",
    "latin_with_lookalikes",
    "normalize",
    "pair_text",
]

DIM = 1 << 18
_INT32_END = 1 << 31
MAX_CHARS = 8_000
"""Longer texts are featurised from their first and last MAX_CHARS/2 characters: the opening and
the close of a message are where instructions sit, and the cost stays bounded."""

_P = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(40)
_LOW_BITS = np.uint64(DIM - 1)
_WORD = re.compile(r"\w+")
_CHAR_N = (3, 4, 5)
# Disjoint salt per feature family, so a word and a 3-gram never share a bucket by design.
_SALT = {3: 1, 4: 2, 5: 3, "w1": 4, "w2": 5}
_REQUEST_SALT = 16
"""Added to every salt for the request side of a pair: its n-grams never share a response's."""

RESPONSE_MARK = "\n\n[response]\n"


def pair_text(request: str, response: str) -> str:
    """What a response detector reads: the request, then the response (the response alone when
    the request is unknown). Training and serving build it the same way."""
    return f"{request.strip()}{RESPONSE_MARK}{response.strip()}" if request.strip() else response


# Disguises that keep text readable to a model but change every n-gram: the evaluation's
# character mutators. Undone before featurising, in training and serving alike.
_INVISIBLE = dict.fromkeys(
    (0x00AD, 0x034F, 0x180E, 0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064,
     0xFEFF),
)  # fmt: skip
# Cyrillic and Greek letters that render as Latin ones, upper or lower case, as they read once
# case-folded ("В" is a Latin "B" to the eye and "в" after folding).
_LOOKALIKE_FROM, _LOOKALIKE_TO = "аеіорсхуѕјԁвкмнтοαερτνκχ", "aeiopcxysjdbkmhtoaeptvkx"
_LOOKALIKES = str.maketrans(_LOOKALIKE_FROM, _LOOKALIKE_TO)
_MIXED = re.compile(rf"\w*(?:[a-z][{_LOOKALIKE_FROM}]|[{_LOOKALIKE_FROM}][a-z])\w*")
# Whether there is such a word at all: the pair alone, without matching the word around it.
_MIXED_PAIR = re.compile(rf"[a-z][{_LOOKALIKE_FROM}]|[{_LOOKALIKE_FROM}][a-z]")
# Letters spread out with one separator throughout ("i g n o r e", "i.g.n.o.r.e", "i - g - n").
# A hyphen may stand among the letters of a hyphenated word ("c . o . - . w . o . r . k").
_SPACED = re.compile(
    r"(?<!\w)\w(?P<sep> [.\-] |[ .\-])\w(?!\w)(?:(?P=sep)(?:\w(?!\w)|-(?=(?P=sep)\w))){2,}"
)
_LEET_TABLE = str.maketrans("0134578@$9", "oieastbasg")
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[013457@$])[a-z013457@$9]+")
_HAS_DIGIT = re.compile(r"[013457@$]")
_WORDS = re.compile(r"\S+")


def _unleet(text: str) -> str:
    """Leetspeak words spelt out, once the text is plainly leetspeak: a word with three
    stand-ins or more ("d3v3l0p3r"), or mixed words making half the text. "mp3" and "covid19"
    in ordinary text stay as they are."""
    found = _LEET_WORD.findall(text)
    if not found:
        return text
    dense = any(len(_HAS_DIGIT.findall(w)) >= 3 for w in found)
    if not dense and (len(found) < 2 or len(found) * 2 < len(_WORDS.findall(text))):
        return text
    return _LEET_WORD.sub(lambda m: m.group().translate(_LEET_TABLE), text)


def has_lookalike_words(text: str) -> bool:
    """Whether a word of ``text`` mixes Latin letters with Cyrillic or Greek lookalikes."""
    return not text.isascii() and _MIXED_PAIR.search(text.casefold()) is not None


_OTHER_SCRIPT = re.compile(rf"[^\x00-\x7f{_LOOKALIKE_FROM}]+")


def latin_with_lookalikes(text: str) -> bool:
    """Latin text disguised with Cyrillic or Greek lookalikes: mixed-script words, and nearly
    every character outside ASCII a lookalike. Text in another script is not, even where a
    normaliser has folded its lookalike letters to Latin ones ("пoмoги")."""
    if not has_lookalike_words(text):
        return False
    folded = text.casefold()
    outside_ascii = len(folded) - len(folded.encode("ascii", "ignore"))
    other_script = len(folded) - len(_OTHER_SCRIPT.sub("", folded))
    return other_script * 4 <= outside_ascii


def fold_lookalikes(text: str) -> str:
    """Case-folded ``text`` with every Cyrillic or Greek lookalike read as the Latin letter it
    mimics, whole words of them too ("ріре"): for text taken for Latin in disguise
    (``latin_with_lookalikes``), never for text in those scripts."""
    return text.casefold().translate(_LOOKALIKES)


def join_spread_letters(text: str) -> str:
    """``text`` with letters spread out with one separator ("i g n o r e", "i.g.n.o.r.e")
    joined into words."""
    return _SPACED.sub(lambda m: m.group().replace(m.group("sep"), ""), text)


def undisguise(text: str) -> str:
    """Case-folded ``text`` with invisible characters dropped, Latin lookalikes in mixed-script
    words folded, spread-out letters joined and leetspeak spelt out."""
    text = text.translate(_INVISIBLE)
    if not text.isascii():
        text = _MIXED.sub(lambda m: m.group().translate(_LOOKALIKES), text)
    if _HAS_DIGIT.search(text):
        text = _unleet(text)
    return join_spread_letters(text)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        # Case folding can leave a letter decomposed ("Ϋ̀" -> "ϋ" + accent) where its lower
        # case was one character ("ῢ"): composed again, both spellings read alike.
        text = unicodedata.normalize("NFKC", text)
    text = undisguise(text)
    # str.split's whitespace is exactly the regex's \s, and splitting is faster.
    return " ".join(text.split())


def _clip(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    half = MAX_CHARS // 2
    return text[:half] + " " + text[-half:]


def _bucket(h: NDArray[np.uint64], salt: int) -> NDArray[np.int64]:
    # Unsigned arrays wrap around silently (numpy warns only for scalars), so no errstate:
    # entering one cost more than the arithmetic on a window's few hundred n-grams.
    return (((h + np.uint64(salt)) * _MIX >> _SHIFT) & _LOW_BITS).astype(np.int64)


def _char_hashes(codes: NDArray[np.uint64]) -> Iterator[tuple[int, NDArray[np.uint64]]]:
    """``(n, hashes)`` of the character n-grams of ``codes`` for each n of ``_CHAR_N``, the
    hash at ``i`` that of the n-gram starting there."""
    h = codes
    # Grow each n-gram's hash from the (n-1)-gram's: h_n[i] = h_{n-1}[i] * P + c[i+n-1].
    for n in range(2, _CHAR_N[-1] + 1):
        if len(codes) < n:
            break
        h = h[:-1] * _P + codes[n - 1 :]
        if n in _CHAR_N:
            yield n, h


def _char_grams(codes: NDArray[np.uint64], offset: int) -> list[NDArray[np.int64]]:
    return [_bucket(h, _SALT[n] + offset) for n, h in _char_hashes(codes)]


def _word_hashes(words: list[str]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """The hashes of ``words`` and of each word with the next."""
    hashes = np.fromiter(map(zlib.crc32, map(str.encode, words)), np.uint64, len(words))
    return hashes, hashes[:-1] * _P + hashes[1:]


def _word_grams(text: str, offset: int) -> list[NDArray[np.int64]]:
    words = _WORD.findall(text)
    if not words:
        return []
    hashes, pairs = _word_hashes(words)
    out = [_bucket(hashes, _SALT["w1"] + offset)]
    if len(words) > 1:
        out.append(_bucket(pairs, _SALT["w2"] + offset))
    return out


def _grams(text: str, offset: int = 0) -> list[NDArray[np.int64]]:
    norm = _clip(normalize(text))
    if not norm:
        return []
    padded = f" {norm} "
    codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return _char_grams(codes, offset) + _word_grams(norm, offset)


def _distinct(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """``values`` sorted, repeats dropped (np.unique is several times slower on arrays this
    size)."""
    # 32-bit integers sort in half the time of 64-bit ones, and the keys of a message's
    # sentences (``featurize_each``) fit in 32 bits; a larger key keeps its 64.
    small = len(values) > 0 and int(values.max()) < _INT32_END
    out = np.sort(values.astype(np.int32) if small else values)
    keep = np.empty(len(out), dtype=bool)
    keep[:1] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep].astype(np.int64)


def _vector(parts: list[NDArray[np.int64]]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    idx = _distinct(np.concatenate(parts))
    values = np.full(len(idx), 1.0 / np.sqrt(len(idx)), dtype=np.float32)
    return idx, values


def featurize(text: str) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Distinct feature buckets of ``text`` and their (equal, L2-normalised) weights."""
    return _vector(_grams(text))


def featurize_each(texts: list[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The distinct feature buckets of each of ``texts``, as ``featurize`` finds them, computed
    in one pass: ``(owner, bucket)`` pairs, ``owner`` the text's index. Many short texts (a
    message's sentences) cost about what one text of their length does, not a call each."""
    norms = [_clip(normalize(t)) for t in texts]
    which = [i for i, norm in enumerate(norms) if norm]
    if not which:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    padded = "".join(f" {norms[i]} " for i in which)
    codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owner_at = np.repeat(np.array(which), [len(norms[i]) + 2 for i in which])
    owners, buckets = [], []
    for n, h in _char_hashes(codes):
        # An n-gram across two texts' joint belongs to neither.
        inside = owner_at[: len(h)] == owner_at[n - 1 :]
        owners.append(owner_at[: len(h)][inside])
        buckets.append(_bucket(h[inside], _SALT[n]))
    words_of = [_WORD.findall(norms[i]) for i in which]
    words = [w for ws in words_of for w in ws]
    if words:
        word_owner = np.repeat(np.array(which), [len(ws) for ws in words_of])
        hashes, pairs = _word_hashes(words)
        owners.append(word_owner)
        buckets.append(_bucket(hashes, _SALT["w1"]))
        inside = word_owner[:-1] == word_owner[1:]
        owners.append(word_owner[:-1][inside])
        buckets.append(_bucket(pairs[inside], _SALT["w2"]))
    keys = _distinct(np.concatenate(owners) * DIM + np.concatenate(buckets))
    return keys // DIM, keys % DIM


def featurize_pair(text: str) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Like ``featurize``, for a ``pair_text``: the request's n-grams in buckets of their own
    (each side clipped on its own). Text without the mark is all response."""
    request, mark, response = text.partition(RESPONSE_MARK)
    if not mark:
        request, response = "", text
    return _vector(_grams(response) + _grams(request, _REQUEST_SALT))
