"""What a shipped model was trained on, by fingerprint: so an evaluation can say when a corpus
it measures is (partly) training data, and its figures are not figures on unseen data.

Beside each model ``NAME.npz``, ``NAME.trained.npy`` holds the sorted 64-bit fingerprints of
its training texts. A fingerprint is the first eight bytes of the SHA-256 of the text reduced to
letters and digits (after the features' normalisation), so case, spacing and punctuation do not
hide a copy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from swisscheese.learned.features import normalize

__all__ = ["TrainedTexts", "canonical", "fingerprint64", "trained_path"]

_ALNUM = re.compile(r"[^\w]+")


def canonical(text: str) -> str:
    # Whitespace is made single spaces first: the normaliser joins letters spread out with one
    # separator, so "a a a" and "a\n a\n a" must reach it alike.
    return _ALNUM.sub(" ", normalize(" ".join(text.split()))).strip()


def _digest64(canonical_text: str) -> int:
    return int.from_bytes(hashlib.sha256(canonical_text.encode()).digest()[:8], "big")


def fingerprint64(text: str) -> int:
    return _digest64(canonical(text))


def _fingerprint64_before_1202(text: str) -> int:
    """The fingerprint as models trained before 2026-12-02 stored it (whitespace not yet made
    single spaces): it differs for about one training text in a thousand, spread-out letters."""
    return _digest64(_ALNUM.sub(" ", normalize(text)).strip())


def trained_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name.removesuffix(".npz") + ".trained.npy")


class TrainedTexts:
    def __init__(self, fingerprints: np.ndarray) -> None:
        self._sorted = np.unique(fingerprints.astype(np.uint64))

    @classmethod
    def of(cls, texts: Iterable[str]) -> TrainedTexts:
        return cls(np.fromiter((fingerprint64(t) for t in texts), dtype=np.uint64))

    @classmethod
    def load(cls, path: Path) -> TrainedTexts:
        return cls(np.load(path, allow_pickle=False))

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            np.save(f, self._sorted, allow_pickle=False)

    def __len__(self) -> int:
        return len(self._sorted)

    def contains(self, texts: Iterable[str]) -> np.ndarray:
        """For each text, whether it (or a copy differing in case, spacing or punctuation) was
        trained on."""
        texts = list(texts)
        found = self._has([fingerprint64(t) for t in texts])
        np.logical_or(found, self._has([_fingerprint64_before_1202(t) for t in texts]), out=found)
        return found

    def _has(self, fingerprints: list[int]) -> np.ndarray:
        probe = np.array(fingerprints, dtype=np.uint64)
        if not len(self._sorted) or not len(probe):
            return np.zeros(len(probe), dtype=bool)
        at = np.minimum(np.searchsorted(self._sorted, probe), len(self._sorted) - 1)
        found: np.ndarray = self._sorted[at] == probe
        return found
