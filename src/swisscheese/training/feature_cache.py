"""Dense features of training texts, kept from one training command to the next.

Retraining a detector reads every text through the encoder (the embedding tier) and the local
model (the probe tier) once per command: a harmful-request retrain trains the probe head, then
a stacker over it, and each spent most of its hour on the same 19,000 forward passes. Kept per
text under the features' versioned name (the encoder's id, ``smollm2-135m-instruct/layer-28/
last-prompt-token/1``), a later command reads them back in seconds; a new model or layer is a
new name, so an upgrade never reads old vectors. Texts are keyed by their SHA-256: the cache
keeps what the model computed from a text, not the text.

The store is one SQLite file beside the tiers' other slow-to-make entries (``cache_dir()``);
processes training at once share it (SQLite's locks). Training only: nothing on a request's path
reads it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned.cache import cache_dir

__all__ = ["FeatureCache", "default_cache"]

_CHUNK = 500  # digests per lookup: under SQLite's bound-parameter limit
_BATCH = 1024  # texts computed and kept at a time


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _chunks(items: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class FeatureCache:
    """Vectors of texts by features name, computed once per text (``vectors``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60)
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (features TEXT NOT NULL, digest BLOB NOT NULL,"
            " vector BLOB NOT NULL, PRIMARY KEY (features, digest)) WITHOUT ROWID"
        )
        return db

    def vectors(
        self,
        features: str,
        texts: list[str],
        compute: Callable[[list[str]], NDArray[np.float32]],
    ) -> NDArray[np.float32]:
        """One row per text: those kept under ``features``, the others from ``compute`` and kept
        from now on. Missing texts are computed once each, a batch at a time, and each batch is
        kept as it is made: a command stopped part way resumes where it stopped."""
        if not texts:
            return np.asarray(compute([]), dtype=np.float32)
        digests = [_digest(t) for t in texts]
        with closing(self._connect()) as db:
            found = self._found(db, features, list(set(digests)))
            missing = {d: t for d, t in zip(digests, texts, strict=True) if d not in found}
            # Shortest first: a batch of like lengths is what the models batch best.
            todo = sorted(missing, key=lambda d: len(missing[d]))
            for start in range(0, len(todo), _BATCH):
                batch = todo[start : start + _BATCH]
                made = np.asarray(compute([missing[d] for d in batch]), dtype=np.float32)
                with db:
                    db.executemany(
                        "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                        [(features, d, v.tobytes()) for d, v in zip(batch, made, strict=True)],
                    )
                found.update(zip(batch, made, strict=True))
        return np.stack([found[d] for d in digests])

    @staticmethod
    def _found(
        db: sqlite3.Connection, features: str, digests: list[bytes]
    ) -> dict[bytes, NDArray[np.float32]]:
        out: dict[bytes, NDArray[np.float32]] = {}
        for chunk in _chunks(digests):
            marks = ",".join("?" * len(chunk))
            for digest, blob in db.execute(
                f"SELECT digest, vector FROM vectors WHERE features = ? AND digest IN ({marks})",
                [features, *chunk],
            ):
                out[bytes(digest)] = np.frombuffer(blob, dtype=np.float32)
        return out


def default_cache() -> FeatureCache:
    """The user's cache: ``cache_dir()/training-features.sqlite``."""
    return FeatureCache(cache_dir() / "training-features.sqlite")
