"""Near-duplicate documents at corpus scale: MinHash signatures and banded LSH, in numpy.

A document's shingles are the ``SHINGLE`` bytes (UTF-8) that start at each of its words (about
four words each); its signature holds, for each of ``perms`` hash functions, the least hash of
any of its shingles, so two signatures agree at a position with probability equal to the
documents' Jaccard similarity. Signatures are cut into bands; documents that share a band are
candidates, and a candidate pair is kept when its signatures agree at ``jaccard`` of their
positions or more. Everything per document is array arithmetic over a batch of documents, so
a million documents take a minute rather than the quarter of an hour that hashing every
shingle in Python takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from swisscheese.common.mixing import splitmix64

SHINGLE = 24
"""Bytes per shingle: about four words of English."""
BATCH = 2000
WHITESPACE = np.array([9, 10, 13, 32], dtype=np.uint8)
NOT_WORD = np.array([0, 9, 10, 13, 32], dtype=np.uint8)
_BASE = np.uint64(1_000_003)

Key = tuple[str, int]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


def signatures(texts: list[str], perms: int = 32, seed: int = 1) -> U32:
    """One MinHash signature (``perms`` values) per text."""
    if not texts:
        return np.zeros((0, perms), dtype=np.uint32)
    rng = np.random.default_rng(seed)
    # Multiply-shift hashing: the high 32 bits of an odd multiplier times the mixed shingle
    # hash, one multiplier per hash function.
    multipliers = rng.integers(1, 2**63, size=perms, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    encoded = [t.encode("utf-8") for t in texts]
    pad = b"\0" * SHINGLE  # so no shingle reaches into the next document
    buffer = np.frombuffer(pad.join(encoded) + pad, dtype=np.uint8)
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + SHINGLE)[:-1]))
    positions = len(buffer) - SHINGLE + 1
    after_space = np.isin(buffer[: positions - 1], WHITESPACE)
    word_start = np.zeros(positions, dtype=bool)
    # Padding is zero bytes, never a word: no shingle starts between documents.
    word_start[1:] = after_space & ~np.isin(buffer[1:positions], NOT_WORD)
    word_start[starts] = True  # a document without words still has one shingle
    at = np.flatnonzero(word_start)
    shingle = np.zeros(len(at), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(SHINGLE):
            shingle = shingle * _BASE + buffer[at + j]
        hashed = splitmix64(shingle)
        # (perms, shingles): each hash function's values lie contiguous for the minimum.
        values = ((multipliers[:, None] * hashed[None, :]) >> np.uint64(32)).astype(np.uint32)
    first = np.searchsorted(at, starts)
    return np.minimum.reduceat(values, first, axis=1).T.copy()


def bands_for(jaccard: float, perms: int) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest candidates) that still make a pair at
    ``jaccard`` a candidate with probability 0.98 or more."""
    best = (perms, 1)
    for rows in range(1, perms + 1):
        bands = perms // rows
        if 1 - (1 - jaccard**rows) ** bands >= 0.98:
            best = (bands, rows)
    return best


@dataclass
class NearDuplicates:
    """Collects signatures batch by batch; ``clusters()`` joins the candidates that agree."""

    jaccard: float = 0.8
    perms: int = 32
    keys: list[Key] = field(default_factory=list)
    _blocks: list[U32] = field(default_factory=list)
    _texts: list[str] = field(default_factory=list)

    def add(self, key: Key, text: str) -> None:
        self.keys.append(key)
        self._texts.append(text)
        if len(self._texts) >= BATCH:
            self._flush()

    def extend(self, keys: list[Key], block: U32) -> None:
        """Documents signed elsewhere (a worker process), in order."""
        self._flush()
        self.keys.extend(keys)
        self._blocks.append(block)

    def _flush(self) -> None:
        if self._texts:
            self._blocks.append(signatures(self._texts, self.perms))
            self._texts = []

    def clusters(self) -> list[list[Key]]:
        """Groups of two or more documents, largest first, each sorted."""
        self._flush()
        if not self._blocks:
            return []
        sig = np.concatenate(self._blocks)
        bands, rows = bands_for(self.jaccard, self.perms)
        parent = list(range(len(sig)))

        def find(x: int) -> int:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        weights = np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, rows + 1, dtype=np.uint64)
        for band in range(bands):
            with np.errstate(over="ignore"):
                block = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
                bucket = (block * weights).sum(axis=1, dtype=np.uint64)
            order = np.argsort(bucket, kind="stable")
            ordered = bucket[order]
            same = ordered[1:] == ordered[:-1]
            if not same.any():
                continue
            # Each member of a run of equal buckets against the run's first document.
            first = np.where(np.r_[True, ~same], np.arange(len(order)), 0)
            run_start = np.maximum.accumulate(first)
            members = np.flatnonzero(np.r_[False, same])
            a, b = order[run_start[members]], order[members]
            agree = (sig[a] == sig[b]).mean(axis=1) >= self.jaccard
            for x, y in zip(a[agree].tolist(), b[agree].tolist(), strict=True):
                rx, ry = find(x), find(y)
                if rx != ry:
                    parent[max(rx, ry)] = min(rx, ry)
        groups: dict[int, list[Key]] = {}
        for i in range(len(sig)):
            if parent[i] != i:
                groups.setdefault(find(i), []).append(self.keys[i])
        for root, group in groups.items():
            group.append(self.keys[root])
        found = [sorted(g) for g in groups.values() if len(g) > 1]
        return sorted(found, key=lambda c: (-len(c), c[0]))


def near_duplicate_clusters(
    documents: Iterable[tuple[str, int, str]], jaccard: float = 0.8, perms: int = 32
) -> list[list[Key]]:
    """Clusters of two or more documents whose shingles overlap by about ``jaccard`` or more,
    largest first."""
    index = NearDuplicates(jaccard, perms)
    for name, line, text in documents:
        index.add((name, line), text)
    return index.clusters()
