"""Two extra roles a monitor can play in a layer besides finding things."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from swisscheese.core import Finding
from swisscheese.monitors._text import View
from swisscheese.monitors.obfuscation import Decoded


@runtime_checkable
class Normalizer(Protocol):
    """Rewrites the text the layer's other monitors read, keeping a map back to the source."""

    def normalize(self, text: str) -> View: ...


@runtime_checkable
class Decoder(Protocol):
    """Finds encoded segments whose plain text the layer's other monitors should rescan."""

    def decode(self, text: str) -> list[Decoded]: ...

    def summarize(self, decoded: Decoded, inner: Sequence[Finding]) -> Finding: ...
