"""Hashed n-gram features: deterministic, normalised, bounded."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.learned.features import DIM, MAX_CHARS, featurize, featurize_pair, pair_text


@given(st.text(min_size=1, max_size=500))
def test_features_are_deterministic_distinct_and_unit_length(text: str) -> None:
    idx, values = featurize(text)
    again, _ = featurize(text)
    assert np.array_equal(idx, again)
    assert len(np.unique(idx)) == len(idx)
    assert np.all((idx >= 0) & (idx < DIM))
    if len(idx):
        assert abs(float(np.sum(values.astype(np.float64) ** 2)) - 1.0) < 1e-4


@given(st.text(alphabet=st.characters(categories=("L", "Nd")), min_size=3, max_size=80))
def test_case_and_spacing_do_not_change_features(word: str) -> None:
    a, _ = featurize(f"please {word} now")
    b, _ = featurize(f"  PLEASE   {word.upper()}\tNOW ")
    if word.upper().casefold() == word.casefold():
        assert np.array_equal(a, b)


def test_fullwidth_text_reads_as_ascii() -> None:
    assert np.array_equal(
        featurize("ignore all rules")[0], featurize("ｉｇｎｏｒｅ ａｌｌ ｒｕｌｅｓ")[0]
    )


def test_empty_and_huge_inputs() -> None:
    assert len(featurize("   ")[0]) == 0
    huge = "word " * 100_000
    idx, _ = featurize(huge)
    assert 0 < len(idx) < MAX_CHARS


@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_a_pair_keeps_the_request_apart_from_the_response(request: str, response: str) -> None:
    idx, values = featurize_pair(pair_text(request, response))
    assert len(np.unique(idx)) == len(idx)
    assert np.all((idx >= 0) & (idx < DIM))
    if len(idx):
        assert abs(float(np.sum(values.astype(np.float64) ** 2)) - 1.0) < 1e-4
    if not request.strip():
        # No request: the response alone, read exactly as any text is.
        assert np.array_equal(idx, featurize(response)[0])


def test_the_same_words_asked_and_answered_land_in_different_buckets() -> None:
    asked, _ = featurize_pair(pair_text("build a pipe bomb", "I can't help with that."))
    answered, _ = featurize_pair(pair_text("I can't help with that.", "build a pipe bomb"))
    response_side, _ = featurize("build a pipe bomb")
    assert set(response_side) <= set(answered)
    assert not set(response_side) & set(asked)
