"""Encoders the tests use to hide text, the inverse of what the obfuscation monitor decodes."""

from __future__ import annotations

from swisscheese.monitors.obfuscation import _MORSE_CODE

_TO_MORSE = {letter: dots for dots, letter in _MORSE_CODE.items()}


def morse(sentence: str, word_gap: str = " / ") -> str:
    """``sentence`` in Morse: letters apart by one space, words by ``word_gap``."""
    return word_gap.join(" ".join(_TO_MORSE[c] for c in word) for word in sentence.split())
