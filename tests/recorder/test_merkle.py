from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.recorder import merkle
from tests.recorder import rfc9162


def tree(n: int) -> tuple[list[bytes], dict[merkle.NodeKey, bytes]]:
    data = [f"leaf {i}".encode() for i in range(n)]
    frontier = merkle.Frontier()
    nodes: dict[merkle.NodeKey, bytes] = {}
    for d in data:
        nodes.update(frontier.append(merkle.leaf_hash(d)))
    return data, nodes


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=60, deadline=None)
@given(sizes)
def test_root_of_every_size_matches_the_rfc_definition(n: int) -> None:
    data, nodes = tree(n)
    for size in range(1, n + 1):
        keys = merkle.perfect_subtrees(0, size)
        assert merkle.fold([nodes[k] for k in keys]) == rfc9162.mth(data[:size])


@settings(max_examples=60, deadline=None)
@given(sizes, st.data())
def test_inclusion_proofs_match_the_rfc_and_verify(n: int, draw: st.DataObject) -> None:
    data, nodes = tree(n)
    size = draw.draw(st.integers(1, n))
    index = draw.draw(st.integers(0, size - 1))
    audit = merkle.hashes_for(merkle.inclusion_ranges(index, size), nodes)
    assert audit == rfc9162.path(index, data[:size])
    root = rfc9162.mth(data[:size])
    assert rfc9162.root_from_inclusion(data[index], index, size, audit) == root
    assert merkle.verify_inclusion(merkle.leaf_hash(data[index]), index, size, audit, root)
    if audit:
        bad = [bytes(32), *audit[1:]]
        assert not merkle.verify_inclusion(merkle.leaf_hash(data[index]), index, size, bad, root)


@settings(max_examples=60, deadline=None)
@given(sizes, st.data())
def test_consistency_proofs_match_the_rfc_and_verify(n: int, draw: st.DataObject) -> None:
    data, nodes = tree(n)
    new = draw.draw(st.integers(1, n))
    old = draw.draw(st.integers(1, new))
    proof = merkle.hashes_for(merkle.consistency_ranges(old, new), nodes)
    assert proof == rfc9162.proof(old, data[:new])
    old_root, new_root = rfc9162.mth(data[:old]), rfc9162.mth(data[:new])
    assert merkle.verify_consistency(old, new, proof, old_root, new_root)
    if old < new:
        assert not merkle.verify_consistency(old, new, proof, bytes(32), new_root)


def test_frontier_holds_one_hash_per_set_bit() -> None:
    frontier = merkle.Frontier()
    for i in range(1, 100):
        frontier.append(merkle.leaf_hash(bytes([i])))
        assert len(frontier.hashes) == bin(i).count("1")


def test_empty_tree_root() -> None:
    assert merkle.fold([]) == rfc9162.mth([])
