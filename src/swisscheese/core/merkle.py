"""RFC 9162 Merkle tree arithmetic, pure: hashes, ranges, proofs.

A log stores the hash of every complete ("perfect") subtree once it is complete: level ``l``,
index ``i`` covers leaves ``[i * 2**l, (i + 1) * 2**l)``. Everything else is derived from
those: the root of any tree size, and the sibling hashes of inclusion and consistency proofs
are folds of at most O(log n) perfect subtrees, so nothing needs the whole tree in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]  # (level, index)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees whose fold (right to left) is MTH(D[start:end]), left first.

    ``start`` must be aligned as in RFC 9162's recursion: a multiple of the largest power of
    two that fits in ``end - start``.
    """
    keys: list[NodeKey] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1  # largest power of two <= size
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees, left to right (RFC 9162 section 2.1.1)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Sibling ranges of PATH(index, D[0:size]), from the leaf upwards (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """Ranges of PROOF(old, D[0:new]) in proof order (RFC 9162 2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old == new:
        return []
    ranges: list[tuple[int, int]] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            return
        k = largest_power_of_two_below(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    subproof(old, 0, new, True)
    return ranges


def keys_for(ranges: Iterable[tuple[int, int]]) -> list[NodeKey]:
    """Every perfect subtree the given ranges fold from (deduplicated, in order)."""
    return list(dict.fromkeys(k for r in ranges for k in perfect_subtrees(*r)))


def hashes_for(ranges: Sequence[tuple[int, int]], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    return [fold([nodes[k] for k in perfect_subtrees(a, b)]) for a, b in ranges]


def root_from(size: int, get: Callable[[list[NodeKey]], Mapping[NodeKey, bytes]]) -> bytes:
    keys = perfect_subtrees(0, size)
    nodes = get(keys)
    return fold([nodes[k] for k in keys])


class Frontier:
    """The right edge of a growing tree: one perfect-subtree hash per set bit of the size.

    Appending a leaf yields the perfect subtrees it completes, which a store persists; the
    root of the current size is the fold of the frontier. O(log n) memory and work per append.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError("a frontier holds one hash per set bit of the tree size")
        self.size = size
        self.hashes = list(hashes)  # left (largest subtree) to right

    @classmethod
    def keys_for_size(cls, size: int) -> list[NodeKey]:
        return perfect_subtrees(0, size)

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf hash; return every (level, index) → hash completed by it, leaf included."""
        index = self.size
        created: list[tuple[NodeKey, bytes]] = [((0, index), leaf)]
        h = leaf
        level = 0
        while (index >> level) & 1:  # a right child: it completes its parent
            left = self.hashes.pop()
            h = node_hash(left, h)
            level += 1
            created.append(((level, index >> level), h))
        self.hashes.append(h)
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold(self.hashes)


def root_of(leaves: Iterable[bytes]) -> bytes:
    """RFC 9162's tree hash of leaf hashes, in order (the empty tree's for none)."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root() if frontier.size else EMPTY_ROOT


@dataclass(frozen=True, slots=True)
class InclusionStep:
    """One hash of an inclusion proof: the sibling, which side it sits on, and the result."""

    sibling: bytes
    left: bool
    """True when the sibling is the left child (the running hash is the right one)."""
    result: bytes


def inclusion_steps(
    leaf: bytes, index: int, size: int, path: Sequence[bytes]
) -> list[InclusionStep] | None:
    """RFC 9162 section 2.1.3.2, step by step: the hashes from ``leaf`` up to the root the
    path leads to; None when the path does not fit ``index`` and ``size``."""
    if index >= size:
        return None
    fn, sn = index, size - 1
    r = leaf
    steps: list[InclusionStep] = []
    for p in path:
        if sn == 0:
            return None
        left = bool(fn & 1 or fn == sn)
        if left:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        steps.append(InclusionStep(p, left, r))
        fn >>= 1
        sn >>= 1
    return steps if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    steps = inclusion_steps(leaf, index, size, path)
    if steps is None:
        return False
    return (steps[-1].result if steps else leaf) == root


def verify_consistency(
    old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old > new or old == 0:
        return False
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
