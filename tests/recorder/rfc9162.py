"""A minimal, independent RFC 9162 reference: the definitions of section 2.1, written as
directly as the RFC states them (recursion over lists), for checking the production code."""

from __future__ import annotations

import hashlib


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return subproof(m, leaves, True)


def subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], b), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def root_from_inclusion(leaf_data: bytes, m: int, n: int, audit: list[bytes]) -> bytes:
    """Recompute the root from a leaf and its audit path (RFC 9162 2.1.3.2, restated)."""
    fn, sn = m, n - 1
    r = h(b"\x00" + leaf_data)
    for p in audit:
        assert sn != 0
        if fn % 2 == 1 or fn == sn:
            r = h(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            r = h(b"\x01" + r + p)
        fn //= 2
        sn //= 2
    assert sn == 0
    return r
