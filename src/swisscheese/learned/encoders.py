"""The embedding tier's encoders, picked by the features a head was trained on: the English
all-MiniLM-L6-v2 (``embedding``) or the multilingual Universal Sentence Encoder
(``multilingual``). Each is loaded once per process, on first use."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned.embedding import Encoder
from swisscheese.learned.model import EMBEDDING, MULTILINGUAL
from swisscheese.learned.multilingual import MultilingualEncoder

__all__ = ["TextEncoder", "encoder_for"]


class TextEncoder(Protocol):
    def encode_windows(
        self, texts: list[str], *, batch: int = ..., limit: int = ..., workers: int = ...
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Embeddings of every text's windows, and which text each window belongs to."""
        ...

    def encode(self, texts: list[str], *, workers: int = ...) -> NDArray[np.float32]:
        """One embedding per text, of its first window (how training data is read)."""
        ...


def encoder_for(features: str) -> TextEncoder:
    """The process's encoder of ``features`` (raises ``EmbeddingError`` where it cannot run)."""
    if features == EMBEDDING:
        return Encoder.shared()
    if features == MULTILINGUAL:
        return MultilingualEncoder.shared()
    raise ValueError(f"no encoder makes {features!r} features")
