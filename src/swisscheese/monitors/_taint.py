"""Taint by value: does a tool call's argument carry a value (or text) seen earlier in a trace?

No guessing about what a model "meant": a match is a substring, exact or after folding
(NFKC, case, and everything but letters and digits dropped, so ``DE89 3704 0044`` and
``de8937040044`` are the same value). Two directions:

- a short *value* (a secret, an e-mail address, an IBAN) is carried when it appears inside an
  argument, as it is or base64-, hex- or URL-encoded;
- a *region* of text (a tool result, a passage a detector flagged) is the origin of an argument
  when the argument (at least ``min_chars`` folded characters) appears inside it, or when a long
  argument shares a stretch of at least ``span`` folded characters with it (an e-mail body that
  copies an injected paragraph).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

_NOT_ALNUM = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """The text reduced to what identifies a value: NFKC, casefolded, letters and digits."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _NOT_ALNUM.sub("", text.casefold())


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every string and integer in a JSON value; numbers as written."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        yield path, str(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}.{i}" if path else str(i))


_IDENTIFIER = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail address
    r"|(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"')\]]+"  # URL
    r"|\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|ai|dev|app|co|info|biz|xyz|me|ru|cn|de|uk|ch)"
    r"(?:/[^\s<>\"')\]]*)?"  # bare domain with a common top-level domain
    r"|\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",  # IBAN
    re.IGNORECASE,
)


def identifiers(text: str) -> list[str]:
    """Addresses inside a text: e-mail addresses, URLs, domain names, IBANs (where data or money
    would go), each as written, trailing punctuation dropped."""
    return [m.group(0).rstrip(".,;:!?") for m in _IDENTIFIER.finditer(text)]


def encodings(value: str) -> tuple[str, ...]:
    """The spellings an agent could send a value in without changing it."""
    raw = value.encode("utf-8")
    return (
        value,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        binascii.hexlify(raw).decode(),
        quote(value, safe=""),
    )


@dataclass(frozen=True, slots=True)
class Region:
    """Text a call's arguments may come from, kept raw and folded."""

    raw: str
    folded: str

    @classmethod
    def of(cls, text: str) -> Region:
        return cls(text, fold(text))


@dataclass(frozen=True, slots=True)
class Value:
    """A tainted value (a secret, an address), folded and in every spelling, computed once."""

    folded: str
    forms: tuple[str, ...]
    """Casefolded: as written, base64 (both alphabets), hex, URL-encoded."""

    @classmethod
    def of(cls, text: str) -> Value:
        return cls(fold(text), tuple(dict.fromkeys(f.casefold() for f in encodings(text) if f)))


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument value of a call, casefolded and folded once for every comparison."""

    raw: str
    lowered: str
    folded: str

    @classmethod
    def of(cls, text: str) -> Argument:
        return cls(text, text.casefold(), fold(text))


@dataclass(frozen=True, slots=True)
class Matcher:
    min_chars: int = 6
    """Folded characters an argument needs before it can be said to come from a region."""
    span: int = 32
    """Folded characters a long argument must share with a region to be said to copy it."""

    def carries_value(self, argument: Argument, value: Value) -> bool:
        """True when ``value`` (a secret, an address) appears in ``argument`` in any spelling."""
        if len(value.folded) < 4:  # too short to be a value of its own
            return False
        if any(form in argument.lowered for form in value.forms):
            return True
        return value.folded in argument.folded

    def comes_from(self, argument: Argument, region: Region) -> bool:
        """True when ``argument`` appears in the region, or copies a long stretch of it."""
        if len(argument.folded) < self.min_chars:
            return False
        if argument.raw in region.raw or argument.folded in region.folded:
            return True
        return self.shares_span(argument.folded, region.folded)

    def shares_span(self, folded: str, region: str) -> bool:
        """True when the two folded texts share at least ``span`` consecutive characters.

        Windows of half the span, taken every half span, cover any common stretch of ``span``
        characters at least once; each window is a substring search (no index to keep).
        """
        if len(folded) < self.span or len(region) < self.span:
            return False
        width = self.span // 2
        for start in range(0, len(folded) - width + 1, width):
            window = folded[start : start + width]
            at = region.find(window)
            for _ in range(64):  # bounded: a window repeated all over a region is noise
                if at == -1:
                    break
                if self._extends(folded, start, region, at, width):
                    return True
                at = region.find(window, at + 1)
        return False

    def _extends(self, folded: str, start: int, region: str, at: int, width: int) -> bool:
        """Whether the window match at (start, at) grows into a common stretch of ``span``."""
        left = 0
        while (
            start - left - 1 >= 0
            and at - left - 1 >= 0
            and folded[start - left - 1] == region[at - left - 1]
        ):
            left += 1
            if left + width >= self.span:
                return True
        right = 0
        end, region_end = start + width, at + width
        while (
            end + right < len(folded)
            and region_end + right < len(region)
            and folded[end + right] == region[region_end + right]
        ):
            right += 1
            if left + width + right >= self.span:
                return True
        return left + width + right >= self.span
