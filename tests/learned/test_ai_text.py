"""Zero-shot AI-text detection: the criterion, its calibration, and the local model scoring its
own writing above a person's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from swisscheese.learned.ai_text import (
    MIN_TOKENS,
    AITextDetector,
    Calibration,
    LengthFit,
    discrepancy,
    sampling_discrepancy,
)
from tests.helpers.local_model import greedy_answer, require_local_model

HUMAN = (
    "ok so the bus was late AGAIN, third time this week. i ended up walking the last bit in the "
    "rain and my shoes are still soaked. anyway the meeting got moved to thursday so whatever, "
    "at least i didn't miss anything. my sister says i should just buy a bike but have you seen "
    "the hills round here? no chance."
)


def test_the_criterion_matches_a_hand_computed_two_token_example() -> None:
    # Two positions over a three-token vocabulary; the text took token 0 then token 2.
    probs = np.array([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]])
    lp = np.log(probs)
    mean = (probs * lp).sum(-1)
    var = (probs * lp**2).sum(-1) - mean**2
    expected = (lp[0, 0] + lp[1, 2] - mean.sum()) / math.sqrt(var.sum())
    assert sampling_discrepancy(lp, np.array([0, 2])) == pytest.approx(expected)


@given(
    arrays(np.float64, (6, 5), elements=st.floats(-8, 8)),
    st.lists(st.integers(0, 4), min_size=6, max_size=6),
)
def test_picking_each_positions_likeliest_token_never_scores_below_the_least_likely(
    logits: np.ndarray, labels: list[int]
) -> None:
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    likeliest = sampling_discrepancy(lp, lp.argmax(-1))
    least = sampling_discrepancy(lp, lp.argmin(-1))
    chosen = sampling_discrepancy(lp, np.array(labels))
    assert least <= chosen + 1e-9 <= likeliest + 2e-9


def test_malformed_input_is_an_error_not_a_number() -> None:
    with pytest.raises(ValueError, match="one label a position"):
        sampling_discrepancy(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="one label a position"):
        sampling_discrepancy(np.zeros((0, 4)), np.array([], dtype=np.int64))
    assert discrepancy(np.zeros(3), np.zeros(3), np.zeros(3)) == 0.0


CAL = Calibration((LengthFit(32, -1.0, 1.0, 2.0, 1.5), LengthFit(128, -2.0, 1.2, 4.0, 2.0)), "test")


@given(st.floats(-20, 20), st.floats(0.01, 5), st.integers(24, 2000))
def test_the_probability_rises_with_the_criterion(a: float, step: float, tokens: int) -> None:
    low, high = CAL.probability(a, tokens), CAL.probability(a + step, tokens)
    assert 0.0 <= low <= high <= 1.0


def test_each_length_uses_the_longest_fit_not_longer_than_it() -> None:
    assert CAL.fit_for(24).tokens == 32
    assert CAL.fit_for(100).tokens == 32
    assert CAL.fit_for(128).tokens == 128
    assert CAL.fit_for(5000).tokens == 128


@pytest.fixture(scope="module")
def detector() -> AITextDetector:
    return AITextDetector(require_local_model())


def test_the_model_scores_its_own_writing_above_a_persons(detector: AITextDetector) -> None:
    own = greedy_answer(detector._lm, "Describe a rainy day in a city.", 80)
    machine, human = detector.score_batch([own, HUMAN])
    assert machine.criterion > human.criterion + 1.0
    assert machine.probability is not None
    assert human.probability is not None
    assert machine.probability > 0.5 > human.probability


def test_batched_scores_equal_one_at_a_time_and_short_texts_get_no_probability(
    detector: AITextDetector,
) -> None:
    texts = [HUMAN, "Hello there.", "", HUMAN[:150]]
    batched = detector.score_batch(texts)
    single = [detector.score(t) for t in texts]
    for b, s in zip(batched, single, strict=True):
        assert b.tokens == s.tokens
        assert b.criterion == pytest.approx(s.criterion, abs=1e-4)
    assert batched[1].tokens < MIN_TOKENS
    assert batched[1].probability is None
    assert batched[2].tokens == 0
    assert batched[2].probability is None


def test_the_batched_torch_path_matches_the_numpy_reference(detector: AITextDetector) -> None:
    lm = detector._lm
    ids = detector.tokens(HUMAN)
    with lm.torch.inference_mode():
        logits = lm.model(input_ids=lm.torch.tensor([ids])).logits[0, :-1]
    lp = lm.torch.log_softmax(logits.double(), dim=-1).numpy()
    assert detector.score(HUMAN).criterion == pytest.approx(
        sampling_discrepancy(lp, np.array(ids[1:])), rel=1e-3
    )
