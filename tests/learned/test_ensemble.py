"""The ensemble tier's stacker: one calibrated score from its members', pinned to the member
files it was fitted for."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.learned.ensemble import Ensemble, digest, logit, on_scale_of
from swisscheese.learned.model import model_filename

_SCORE = st.floats(min_value=0.0, max_value=1.0)


def _ensemble(tmp_path: Path, weights: tuple[float, ...] = (1.5, 0.5)) -> tuple[Ensemble, Path]:
    for tier, body in (("fast", b"fast weights"), ("embedding", b"embedding weights")):
        (tmp_path / model_filename("injection", tier)).write_bytes(body)
    model = Ensemble(
        detector="injection",
        members=("fast", "embedding"),
        weights=weights,
        bias=-0.5,
        member_digests={
            t: digest(tmp_path / model_filename("injection", t)) for t in ("fast", "embedding")
        },
        thresholds={"fpr_1pct": 0.9, "fpr_0_1pct": 0.99},
    )
    path = tmp_path / model_filename("injection", "ensemble")
    model.save(path)
    return model, path


@given(_SCORE, _SCORE, _SCORE, st.floats(min_value=0.0, max_value=1.0))
def test_raising_any_members_score_never_lowers_the_ensembles(
    fast: float, embedding: float, w_fast: float, step: float
) -> None:
    model = Ensemble("injection", ("fast", "embedding"), (w_fast, 1.0), 0.0, {})
    before = model.score({"fast": fast, "embedding": embedding})
    after = model.score({"fast": min(1.0, fast + step), "embedding": embedding})
    assert 0.0 <= before <= after <= 1.0


def test_agreeing_members_score_higher_than_either_alone() -> None:
    model = Ensemble("injection", ("fast", "embedding"), (1.0, 1.0), 0.0, {})
    assert model.score({"fast": 0.8, "embedding": 0.8}) > 0.9
    assert model.score({"fast": 0.8, "embedding": 0.2}) == pytest.approx(0.5)


def test_certain_scores_do_not_overflow() -> None:
    model = Ensemble("injection", ("fast", "embedding"), (800.0, 800.0), 0.0, {})
    assert model.score({"fast": 0.0, "embedding": 0.0}) == 0.0
    assert model.score({"fast": 1.0, "embedding": 1.0}) == 1.0
    assert logit(1.0) == pytest.approx(-logit(0.0))
    assert logit(1.0) > 15


def test_it_round_trips_and_accepts_the_members_it_was_fitted_for(tmp_path: Path) -> None:
    model, path = _ensemble(tmp_path)
    loaded = Ensemble.load(path)
    assert loaded == model
    loaded.check_members(path)


def test_a_member_retrained_after_the_stacker_is_refused(tmp_path: Path) -> None:
    model, path = _ensemble(tmp_path)
    (tmp_path / model_filename("injection", "embedding")).write_bytes(b"retrained")
    with pytest.raises(ValueError, match=r"embedding member injection\.embedding\.npz changed"):
        model.check_members(path)
    (tmp_path / model_filename("injection", "fast")).unlink()
    with pytest.raises(ValueError, match=r"fast member .* is missing"):
        model.check_members(path)


@pytest.mark.parametrize(
    ("members", "weights", "message"),
    [
        (("fast",), (1.0,), "two or more distinct tiers"),
        (("fast", "fast"), (1.0, 1.0), "two or more distinct tiers"),
        (("fast", "gpu"), (1.0, 1.0), "two or more distinct tiers"),
        (("fast", "embedding"), (1.0,), "1 weights for 2 members"),
        (("fast", "embedding"), (1.0, -0.1), "non-negative"),
        (("fast", "embedding"), (1.0, float("nan")), "non-negative"),
    ],
)
def test_a_malformed_ensemble_is_refused(
    members: tuple[str, ...], weights: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Ensemble("injection", members, weights, 0.0, {})


def test_on_text_in_another_language_only_the_members_that_read_it_count() -> None:
    model = Ensemble(
        "injection", ("fast", "embedding"), (1.0, 1.0), -0.5, {}, other_languages=("embedding",)
    )
    blind_fast = {"fast": 0.02, "embedding": 0.97}
    assert model.score(blind_fast) < 0.6
    # The fast member's weight goes to the reader: the score keeps the scale the one
    # threshold was measured on (2 x logit(0.97) - 0.5).
    assert model.score(blind_fast, english=False) == pytest.approx(
        1 / (1 + math.exp(0.5 - 2 * logit(0.97)))
    )
    assert model.score({"fast": 0.99, "embedding": 0.03}, english=False) < 0.01
    plain = Ensemble("injection", ("fast", "embedding"), (1.0, 1.0), -0.5, {})
    assert plain.score(blind_fast, english=False) == plain.score(blind_fast)


def test_what_the_blind_members_read_in_english_sentences_still_counts() -> None:
    # An English order padded with a page of French: the text is not taken for English, the
    # reader finds little, and the fast member's reading of the English sentences decides.
    model = Ensemble(
        "injection", ("fast", "embedding"), (1.0, 1.0), -0.5, {}, other_languages=("embedding",)
    )
    whole = {"fast": 0.3, "embedding": 0.4}
    alone = model.score(whole, english=False)
    on_order = model.score(whole, english=False, on_english_part={"fast": 0.99})
    assert on_order == pytest.approx(model.score({"fast": 0.99, "embedding": 0.4}))
    assert on_order > 0.8 > alone
    # It can only add: an English greeting around a foreign order does not halve it.
    order = {"fast": 0.02, "embedding": 0.97}
    greeting = model.score(order, english=False, on_english_part={"fast": 0.01})
    assert greeting == model.score(order, english=False)
    assert model.blind_members() == ("fast",)
    assert Ensemble("injection", ("fast", "embedding"), (1.0, 1.0), 0.0, {}).blind_members() == ()


def test_the_members_that_read_other_languages_round_trip(tmp_path: Path) -> None:
    model, path = _ensemble(tmp_path)
    gated = Ensemble(**{**model.__dict__, "other_languages": ("embedding",)})
    gated.save(path)
    assert Ensemble.load(path).other_languages == ("embedding",)
    for readers, message in ((("probe",), "not members"), (("embedding",), "no weight")):
        with pytest.raises(ValueError, match=message):
            Ensemble("injection", ("fast", "embedding"), (1.0, 0.0), 0.0, {}, {}, {}, readers)


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"schema": "something/1"}')
    with pytest.raises(ValueError, match=r"not a swisscheese\.ensemble/1 file"):
        Ensemble.load(path)


FAST = {"fpr_1pct": 0.86, "fpr_0_1pct": 0.9989}
STACKED = {"fpr_1pct": 0.84, "fpr_0_1pct": 0.9956}


def test_a_members_thresholds_land_on_the_ensembles() -> None:
    # A rule at the ensemble's 1% or 0.1% point flags a lone member's text at that member's.
    for key in FAST:
        assert on_scale_of(FAST[key], FAST, STACKED) == pytest.approx(STACKED[key])
    assert on_scale_of(0.3, FAST, {"other": 0.5}) == 0.3  # nothing in common: unchanged


@given(_SCORE, st.floats(min_value=0.0, max_value=1.0))
def test_moving_onto_another_scale_keeps_the_order(score: float, step: float) -> None:
    higher = min(1.0, score + step)
    assert 0.0 <= on_scale_of(score, FAST, STACKED) <= on_scale_of(higher, FAST, STACKED) <= 1.0
