"""Two roles a monitor can play in a layer besides finding things, and the values they trade.

A normaliser rewrites the text the layer's other monitors read (a ``View`` that maps back to
the caller's offsets); a decoder finds encoded segments whose plain text they rescan
(``Decoded``), and sums up what the rescan found in one finding of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from swisscheese.core._types import Finding, Span


class SpanMap(Protocol):
    def span(self, start: int, end: int) -> tuple[int, int]:
        """The source offsets of a view's ``[start, end)``."""
        ...


@dataclass(frozen=True, slots=True)
class View:
    """A derived text and the way back to the source offsets."""

    text: str
    source_len: int
    offsets: SpanMap | None = None

    def to_source(self, start: int, end: int) -> tuple[int, int]:
        if self.offsets is None:
            return start, end
        s, e = self.offsets.span(start, end)
        return min(s, self.source_len), min(e, self.source_len)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded view: the plain text, how it was hidden, and where in the source it sits."""

    text: str
    chain: tuple[str, ...]
    span: Span


@runtime_checkable
class Normalizer(Protocol):
    """Rewrites the text the layer's other monitors read, keeping a map back to the source."""

    def normalize(self, text: str) -> View: ...


@runtime_checkable
class Decoder(Protocol):
    """Finds encoded segments whose plain text the layer's other monitors should rescan."""

    def decode(self, text: str) -> list[Decoded]: ...

    def summarize(self, decoded: Decoded, inner: Sequence[Finding]) -> Finding | None:
        """The decoder's own finding for a view, given what the rescan found in it; None when
        the view is the text as its reader sees it, not a disguise (a JSON result's strings)."""
        ...
