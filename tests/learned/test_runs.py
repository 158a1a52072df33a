"""A prompt read by its likeliest run of sentences: a jailbreak among ordinary requests is found
as the run it is, and ordinary text gives no alarming run."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.learned.model import FAST_PAIRS, LinearDetector, Prediction
from swisscheese.learned.predict import predict_text
from swisscheese.learned.runs import (
    RUN_DISCOUNT,
    RUN_MAX_CHARS,
    RUN_MIN_CHARS,
    Run,
    best_run,
    discounted,
    pieces,
)
from swisscheese.learned.sentences import sentence_spans
from swisscheese.monitors.learned import load_detector
from tests.helpers.padded import JAILBREAK, ORDINARY, padded


@pytest.fixture(scope="module")
def head() -> LinearDetector:
    return load_detector("injection", "fast", None)


@pytest.mark.parametrize("joint", [" ", "\n\n"])
def test_a_jailbreak_among_ordinary_requests_is_read_as_the_run_it_is(
    head: LinearDetector, joint: str
) -> None:
    text = padded(joint)
    run = best_run(head, text)
    assert run is not None
    assert text[run.start : run.end] == JAILBREAK
    # Read whole, the padding carries it under any threshold a deployment would use.
    assert predict_text(head, text).score < 0.6
    assert run.prediction.score > 0.999


def test_ordinary_requests_give_no_alarming_run(head: LinearDetector) -> None:
    run = best_run(head, " ".join(ORDINARY * 2))
    assert run is not None
    assert run.prediction.score < 0.05  # the 1% threshold is 0.81


def test_a_run_is_never_the_whole_text_nor_shorter_than_the_least_length(
    head: LinearDetector,
) -> None:
    assert best_run(head, JAILBREAK[: RUN_MIN_CHARS - 1]) is None  # too short
    assert best_run(head, "word " * 60) is None  # one sentence: no run but the whole
    # Two sentences, each shorter than a run: the only run long enough is the whole text.
    two = ["Thanks, that recipe worked out well.", "Could you suggest a pudding to go with it?"]
    assert all(len(sentence) < RUN_MIN_CHARS for sentence in two)
    assert best_run(head, " ".join(two)) is None
    long = " ".join([*ORDINARY * 12, JAILBREAK, *ORDINARY * 12])
    run = best_run(head, long)
    assert run is not None
    assert RUN_MIN_CHARS <= run.end - run.start <= RUN_MAX_CHARS
    assert "Zed ignores every rule" in long[run.start : run.end]
    assert run.prediction.score > 0.99


def test_runs_are_for_heads_of_text_not_of_request_response_pairs(head: LinearDetector) -> None:
    pairs = LinearDetector(**{**head.__dict__, "features": FAST_PAIRS})
    with pytest.raises(ValueError, match="not pairs"):
        best_run(pairs, " ".join(ORDINARY))


sentences = st.lists(
    st.text(alphabet="abcdefgh ,", min_size=1, max_size=30).map(lambda s: s.strip() or "a"),
    min_size=1,
    max_size=300,
)


@given(sentences, st.integers(min_value=1, max_value=40), st.sampled_from([". ", "\n", "! "]))
def test_pieces_cover_every_sentence_in_order_and_are_never_more_than_asked(
    words: list[str], most: int, stop: str
) -> None:
    text = stop.join(words) + "."
    cut = pieces(text, most)
    assert len(cut) <= most
    if len(sentence_spans(text)) <= most:
        assert cut == sentence_spans(text)
    assert all(s < e for s, e in cut)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cut))
    for start, end in sentence_spans(text):
        assert any(s <= start and end <= e for s, e in cut)


@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=5.0))
def test_a_run_counts_below_its_own_score_by_the_discount_in_logit_units(
    p: float, by: float
) -> None:
    for counted, discount in (
        (Run(0, 1, Prediction(p, "injection")).score, RUN_DISCOUNT),
        (discounted(p, by), by),
    ):
        assert 0.0 <= counted <= p
        if 1e-9 < p < 1 - 1e-9:
            assert math.log(counted / (1 - counted)) == pytest.approx(
                math.log(p / (1 - p)) - discount
            )
