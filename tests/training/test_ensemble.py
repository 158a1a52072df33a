"""Stacking tiers: the stacker learns how far to trust each tier from scores the tier gave to
text it never trained on, and is measured the same way."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from swisscheese.learned.ensemble import Ensemble
from swisscheese.learned.model import (
    EMBEDDING,
    FAST,
    FEATURE_DIMS,
    MULTILINGUAL,
    TIER_OF,
    LinearDetector,
)
from swisscheese.training import ensemble, fit
from swisscheese.training.ensemble import (
    calibrate,
    cascade_points,
    member_logits,
    prepare_ensemble,
    stack,
    train_ensemble,
)
from tests.helpers.detector_data import harmful_request_dataset, synthetic_dataset


def test_the_calibration_rises_with_the_members_mean_score() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    mean = (y * 2 - 1) * 2.0 + rng.normal(0, 1, len(y))
    a, b = calibrate(mean, y)
    assert a > 0.5
    assert abs(b) < 0.3
    with pytest.raises(ValueError, match="does not rise with attacks"):
        calibrate(-mean, y)


@pytest.fixture
def noise_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 'embedding' member that reads nothing: random vectors, whatever the text."""
    real = fit.Dataset.matrix

    def matrix(self: fit.Dataset) -> Any:
        if self.tier == "embedding":
            return np.random.default_rng(len(self.examples)).normal(size=(len(self.examples), 8))
        return real(self)

    monkeypatch.setattr(fit.Dataset, "matrix", matrix)

    def features(texts: list[str], kind: str) -> Any:
        if TIER_OF[kind] == "embedding":
            return np.random.default_rng(1).normal(size=(len(texts), 8))
        return fit._matrix(texts, kind)

    monkeypatch.setattr(ensemble, "_features", features)


@pytest.mark.usefixtures("noise_embedding")
def test_each_member_alone_and_the_ensemble_are_measured_on_the_same_held_out_sets() -> None:
    ds = synthetic_dataset()
    measured = stack(ds, member_logits(ds, ("fast", "embedding")))
    fast, noise, ensemble = (
        measured.members["fast"],
        measured.members["embedding"],
        measured.ensemble,
    )
    # A member that reads nothing shows as such, and drags the ensemble below the useful one:
    # the report is there so that a user sees which tiers earn their latency.
    assert noise.pooled["auc"] < 0.65
    assert fast.pooled["auc"] > 0.85
    assert noise.pooled["auc"] < ensemble.pooled["auc"] <= fast.pooled["auc"] + 0.02
    assert {g.group for g in ensemble.groups} == {g.group for g in fast.groups}
    # Held out like any tier: the odd set, unlike any other, stays hard.
    odd = {g.group: g for g in ensemble.groups}["attacks:odd"]
    assert odd.auc is not None
    assert odd.auc < 0.8
    assert ensemble.mutators.keys() >= {"spacing", "base64"}
    lines = measured.lines()
    assert lines[0].startswith("score = sigmoid(")
    assert any(line.startswith("embedding alone:") for line in lines)
    assert any(line.startswith("ensemble: pooled ROC AUC") for line in lines)


def test_a_cascade_passes_what_the_fast_member_clears_and_loses_only_what_it_missed() -> None:
    fast = np.array([0.01, 0.02, 0.5, 0.9, 0.03, 0.6, 0.95, 0.99])
    stacked = np.array([0.01, 0.9, 0.4, 0.8, 0.02, 0.3, 0.97, 0.99])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    points = cascade_points(fast, stacked, y == 1, y == 0, {"fpr_1pct": 0.85})
    every_member, *gated = points
    assert every_member.gate == 0.0
    assert every_member.benign_passed == 0.0
    assert every_member.recall == {"fpr_1pct": 0.5}
    at = {p.gate: p for p in gated}
    # Half the benign items stop at the fast member, one the ensemble would flag among them.
    assert at[0.05].benign_passed == 0.5
    # Attacks the ensemble catches all score high on the fast member: no recall lost until
    # the gate rises past them.
    assert at[0.5].recall == {"fpr_1pct": 0.5}
    assert [p.benign_passed for p in gated] == sorted(p.benign_passed for p in gated)


def test_on_text_one_member_cannot_read_only_the_other_counts() -> None:
    # The odd set stands for text in another language: the fast member's logits there are
    # noise, the multilingual one reads it as it reads the rest.
    ds = synthetic_dataset()
    y = ds.labels
    odd = np.array([ex.source == "attacks:odd" for ex in ds.examples])
    rng = np.random.default_rng(3)

    def logits() -> np.ndarray:
        signal = (y * 2 - 1) * 3.0
        fast = np.where(odd, -3.0 + rng.normal(0, 1, len(y)), signal + rng.normal(0, 1, len(y)))
        return np.column_stack([fast, signal * 0.7 + rng.normal(0, 1, len(y))])

    by_source = logits()
    measured = ensemble.MemberLogits(
        ("fast", "embedding"), by_source, logits(), np.ones(len(y), bool), [], [], ~odd, []
    )
    mean = stack(ds, measured)
    gated = stack(ds, measured, ("embedding",))
    recall = {
        name: {g.group: g.recall or 0.0 for g in report.ensemble.groups}["attacks:odd"]
        for name, report in (("mean", mean), ("gated", gated))
    }
    assert recall["mean"] + 0.15 < recall["gated"], recall
    # Elsewhere both members still count alike.
    common = {g.group: g.recall for g in gated.ensemble.groups}["attacks:common"]
    assert common == {g.group: g.recall for g in mean.ensemble.groups}["attacks:common"]
    assert "on text not taken for English, the mean of embedding" in gated.lines()[0]
    # And a cascade does not pass the odd set on the fast member's low scores.
    cascade = {p.gate: p.recall["fpr_1pct"] for p in gated.cascade}
    assert cascade[0.5] == cascade[0.0]
    assert {p.gate: p.recall["fpr_1pct"] for p in mean.cascade}[0.5] < cascade[0.5]


def test_the_stacker_reads_the_english_sentences_of_text_in_another_language() -> None:
    stacked = ensemble._Stacked(readers=(1,))
    rows = np.array([[-3.0, -1.0], [-3.0, -1.0], [-3.0, 4.0], [2.0, 2.0]])
    english = np.array([False, False, False, True])
    # Row 0: an English order padded with another language (the fast member reads the order
    # in its English sentence); row 1: no English sentence; row 2: a greeting around a
    # foreign order; row 3: English, the plain mean.
    on_part = np.array([[5.0, 9.0], [np.nan, np.nan], [-6.0, 9.0], [np.nan, np.nan]])
    assert stacked(rows, english, on_part).tolist() == [2.0, -1.0, 4.0, 2.0]
    assert stacked(rows, english).tolist() == [-1.0, -1.0, 4.0, 2.0]


@pytest.mark.usefixtures("noise_embedding")
def test_member_logits_read_the_english_sentences_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = synthetic_dataset()
    french = "Le marché ouvre à huit heures sur la place de l'église, avec du pain et du fromage. "
    padded = [replace(ex, text=ex.text + ". " + french * 3) for ex in ds.examples[:40]]
    ds = fit.Dataset(ds.detector, ds.tier, padded + ds.examples[40:], ds.removed, None, None)
    logits = member_logits(ds, ("fast", "embedding"), mutated_attacks=0)
    assert logits.on_part_by_source is not None
    assert logits.on_part_random is not None
    assert not logits.english[:40].any()
    assert logits.english[40:].all()
    for part in (logits.on_part_by_source, logits.on_part_random):
        assert not np.isnan(part[:40]).any()
        assert np.isnan(part[40:]).all()
    # The fast member's reading of the English sentence is its reading of the original text.
    fast = logits.on_part_by_source[:40, 0]
    assert np.corrcoef(fast, logits.by_source[:40, 0])[0, 1] > 0.5


@pytest.mark.usefixtures("noise_embedding")
def test_the_report_measures_the_cascade_at_each_gate() -> None:
    ds = synthetic_dataset()
    measured = stack(ds, member_logits(ds, ("fast", "embedding")))
    gates = [p.gate for p in measured.cascade]
    assert gates == [0.0, *ensemble.CASCADE_GATES]
    full = measured.cascade[0].recall
    assert full["unseen_1pct"] == pytest.approx(measured.ensemble.pooled["recall"])
    for point in measured.cascade[1:]:
        assert all(point.recall[k] <= full[k] for k in full)
    assert measured.cascade[-1].benign_passed > 0.5
    assert any(line.startswith("cascade_below 0.2:") for line in measured.lines())


def _member(features: str) -> LinearDetector:
    dim = FEATURE_DIMS[features]
    return LinearDetector(
        "injection",
        np.zeros(dim, np.float32),
        0.0,
        (1.0, 0.0),
        ["injection"],
        np.zeros((1, dim), np.float32),
        np.zeros(1, np.float32),
        features=features,
    )


@pytest.mark.usefixtures("noise_embedding")
def test_training_pins_the_member_files_it_was_fitted_for(tmp_path: Path) -> None:
    ds = synthetic_dataset()
    with pytest.raises(ValueError, match=r"injection\.npz.* is missing: train those tiers"):
        train_ensemble(ds, tmp_path, ("fast", "embedding"))
    (tmp_path / "injection.npz").write_bytes(b"fast member")
    (tmp_path / "injection.embedding.npz").write_bytes(b"embedding member")
    with pytest.raises(ValueError, match="not a fast model the ensemble can pin"):
        train_ensemble(ds, tmp_path, ("fast", "embedding"))
    _member(FAST).save(tmp_path / "injection.npz")
    # An injection head on the English encoder's features, where the stacker re-fits its
    # embedding member on the multilingual encoder's: it would be served uncalibrated.
    _member(EMBEDDING).save(tmp_path / "injection.embedding.npz")
    with pytest.raises(ValueError, match="re-fits its embedding member on use-multilingual"):
        train_ensemble(ds, tmp_path, ("fast", "embedding"))
    _member(MULTILINGUAL).save(tmp_path / "injection.embedding.npz")
    path, measured = train_ensemble(ds, tmp_path, ("fast", "embedding"))
    model = Ensemble.load(path)
    model.check_members(path)
    a, b = measured.calibration
    assert model.weights == pytest.approx((a / 2, a / 2))
    assert model.bias == pytest.approx(b)
    assert 0.0 < model.thresholds["fpr_1pct"] <= model.thresholds["fpr_0_1pct"] <= 1.0
    assert "unseen_sources_fpr_1pct" in model.thresholds
    card = (tmp_path / "injection.ensemble.model-card.md").read_text()
    assert "fast alone: pooled ROC AUC" in card
    assert "0.1% FPR: score >=" in card
    # The multilingual member reads what the fast one cannot: the stacker says so.
    assert model.other_languages == ("embedding",)
    assert "On text not taken for English only embedding counts" in card


@pytest.mark.usefixtures("noise_embedding")
def test_an_ensemble_follows_the_encoder_its_embedding_member_was_trained_on(
    tmp_path: Path,
) -> None:
    _member(FAST).save(tmp_path / "injection.npz")
    _member(EMBEDDING).save(tmp_path / "injection.embedding.npz")
    tiers = ("fast", "embedding")
    assert ensemble.member_encoder(tmp_path, "injection", tiers) == "english"
    assert ensemble.member_encoder(tmp_path, "injection", ("fast", "probe")) is None
    ds = synthetic_dataset()
    english = fit.Dataset(
        ds.detector, "embedding", ds.examples, ds.removed, None, None, encoder="english"
    )
    with pytest.raises(ValueError, match="--encoder english"):
        train_ensemble(ds, tmp_path, tiers)  # the detector's default is the other encoder
    path, _ = train_ensemble(english, tmp_path, tiers)
    # Two English readers: no member's word counts alone on any text.
    assert Ensemble.load(path).other_languages == ()
    with pytest.raises(ValueError, match="unknown encoder 'klingon'"):
        prepare_ensemble("injection", tiers, encoder="klingon")
    with pytest.raises(ValueError, match="has none"):
        prepare_ensemble("harmful-request", ("fast", "probe"), encoder="english")


@pytest.mark.parametrize(
    ("detector", "tiers", "message"),
    [
        ("injection", ("fast",), "two or more distinct tiers"),
        ("injection", ("fast", "gpu"), "two or more distinct tiers"),
        ("harmful-output", ("fast", "probe"), "reads prompts, not request/response pairs"),
        # Its fast tier reads 300-character windows and its embedding tier 1,000: a stacker
        # fitted on one tier's windows would calibrate the other on items it never serves.
        ("indirect-injection", ("fast", "embedding"), "windows of different sizes"),
    ],
)
def test_an_impossible_ensemble_is_refused_before_any_work(
    detector: str, tiers: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prepare_ensemble(detector, tiers)


@pytest.mark.usefixtures("noise_embedding")
def test_the_safe_but_alarming_curve_is_read_per_member_and_for_the_ensemble() -> None:
    ds = harmful_request_dataset()
    measured = stack(ds, member_logits(ds, ("fast", "embedding")))
    at_5pct = {
        name: dict(cv.safe_but_alarming_curve)[0.05]
        for name, cv in [*measured.members.items(), ("ensemble", measured.ensemble)]
    }
    # The n-gram member reads the harmful cue; the noise member guesses.
    assert at_5pct["fast"] > 0.9
    assert at_5pct["embedding"] < 0.3
    assert at_5pct["fast"] >= at_5pct["ensemble"] >= at_5pct["embedding"]
