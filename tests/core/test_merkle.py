from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.core import merkle
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


# The eight-leaf tree used by Certificate Transparency implementations as a shared test vector:
# the root of every prefix of it.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_test_vector_roots() -> None:
    frontier = merkle.Frontier()
    for data, root in zip(CT_LEAVES, CT_ROOTS, strict=True):
        frontier.append(merkle.leaf_hash(data))
        assert frontier.root().hex() == root


def test_known_test_vector_through_the_store(db_url: str) -> None:
    from swisscheese.recorder import Recorder
    from swisscheese.store import LogStore, NewEntry

    with Recorder(LogStore(db_url)) as rec:
        rec.store.append([NewEntry(d, merkle.leaf_hash(d), "raw") for d in CT_LEAVES])
        assert [rec.root(n).hex() for n in range(1, 9)] == CT_ROOTS
        proof = rec.prove_inclusion(2, 8)
        assert merkle.verify_inclusion(
            merkle.leaf_hash(CT_LEAVES[2]), 2, 8, proof.audit_path, bytes.fromhex(CT_ROOTS[7])
        )
