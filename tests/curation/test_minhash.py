"""Near-duplicate clustering: copies with small edits cluster, distinct documents do not,
signatures estimate the Jaccard similarity of the documents' shingles, and the result does not
depend on how documents fall into batches."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.curation import minhash
from swisscheese.curation.minhash import bands_for, near_duplicate_clusters, signatures

WORDS = [f"{w}{i}" for i, w in enumerate(["river", "stone", "lamp", "cloud", "field"] * 400)]


def shingles(text: str) -> set[bytes]:
    raw = text.encode()
    starts = [0] + [i for i in range(1, len(raw)) if raw[i - 1 : i] == b" " and raw[i] != 32]
    return {(raw + b"\0" * minhash.SHINGLE)[i : i + minhash.SHINGLE] for i in starts}


def test_copies_with_small_edits_cluster_and_distinct_documents_do_not() -> None:
    rng = random.Random(3)
    base = " ".join(rng.choice(WORDS) for _ in range(150))
    docs = [("s", i, " ".join(rng.choice(WORDS) for _ in range(150))) for i in range(3000)]
    docs += [("s", 10_000 + i, f"{base} copy {i}") for i in range(5)]
    docs += [("t", i, f"Posted by user {i}. " + docs[i][2]) for i in range(3)]
    clusters = near_duplicate_clusters(docs, jaccard=0.8)
    assert clusters == [[("s", 10_000 + i) for i in range(5)]] + [
        [("s", i), ("t", i)] for i in range(3)
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 120), st.integers(0, 2**32 - 1))
def test_signature_agreement_estimates_jaccard(changed: int, seed: int) -> None:
    rng = random.Random(seed)
    a = [rng.choice(WORDS) for _ in range(200)]
    b = list(a)
    for i in rng.sample(range(200), changed):
        b[i] = rng.choice(WORDS)
    x, y = " ".join(a), " ".join(b)
    true = len(shingles(x) & shingles(y)) / len(shingles(x) | shingles(y))
    sig = signatures([x, y], perms=512)
    # 512 hash functions: the estimate's standard error is at most 0.022.
    assert abs((sig[0] == sig[1]).mean() - true) < 0.1


def test_signatures_do_not_depend_on_the_batch() -> None:
    rng = random.Random(5)
    texts = ["", "one", "два слова", *(" ".join(rng.choices(WORDS, k=40)) for _ in range(50))]
    together = signatures(texts)
    apart = np.concatenate([signatures([t]) for t in texts])
    assert (together == apart).all()
    assert (signatures(texts[:1]) == signatures([""])).all()


def test_bands_make_a_pair_at_the_threshold_a_candidate() -> None:
    for jaccard in (0.5, 0.7, 0.8, 0.9):
        bands, rows = bands_for(jaccard, 32)
        assert bands * rows <= 32
        assert 1 - (1 - jaccard**rows) ** bands >= 0.98
