"""Stacking tiers: the stacker learns how far to trust each tier from scores the tier gave to
text it never trained on, and is measured the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from swisscheese.learned.ensemble import Ensemble
from swisscheese.learned.model import EMBEDDING
from swisscheese.training import ensemble, fit
from swisscheese.training.ensemble import (
    fit_stacker,
    member_logits,
    prepare_ensemble,
    stack,
    train_ensemble,
)
from tests.helpers.detector_data import synthetic_dataset


def test_the_stacker_trusts_the_informative_member_and_never_weighs_one_negatively() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    informative = (y * 2 - 1) * 2.0 + rng.normal(0, 1, len(y))
    noise = rng.normal(0, 1, len(y))
    misleading = -(y * 2 - 1) * 1.0 + rng.normal(0, 1, len(y))
    z = np.column_stack([informative, noise, misleading])
    w, _ = fit_stacker(z, y, np.ones(len(y)))
    assert w[0] > 1.0
    assert abs(w[1]) < 0.1
    assert w[2] == 0.0


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
        if kind == EMBEDDING:
            return np.random.default_rng(1).normal(size=(len(texts), 8))
        return fit._matrix(texts, kind)

    monkeypatch.setattr(ensemble, "_features", features)


@pytest.mark.usefixtures("noise_embedding")
def test_a_member_that_reads_nothing_neither_helps_nor_hurts() -> None:
    ds = synthetic_dataset()
    measured = stack(ds, member_logits(ds, ("fast", "embedding")))
    fast, noise = measured.weights
    assert fast > 0.2
    assert noise < 0.1 * fast
    alone = measured.members["fast"].pooled["recall"]
    assert measured.ensemble.pooled["recall"] >= alone - 0.05
    assert measured.members["embedding"].pooled["auc"] < 0.65
    # Measured out of fold like any tier: the held-out odd set stays hard.
    odd = {g.group: g for g in measured.ensemble.groups}["attacks:odd"]
    assert odd.auc is not None
    assert odd.auc < 0.8
    assert measured.ensemble.mutators.keys() >= {"spacing", "base64"}
    lines = measured.lines()
    assert lines[0].startswith("stacker weights: fast ")
    assert any(line.startswith("embedding alone:") for line in lines)
    assert any(line.startswith("ensemble: pooled ROC AUC") for line in lines)


@pytest.mark.usefixtures("noise_embedding")
def test_training_pins_the_member_files_it_was_fitted_for(tmp_path: Path) -> None:
    ds = synthetic_dataset()
    with pytest.raises(ValueError, match=r"injection\.npz.* is missing: train those tiers"):
        train_ensemble(ds, tmp_path, ("fast", "embedding"))
    (tmp_path / "injection.npz").write_bytes(b"fast member")
    (tmp_path / "injection.embedding.npz").write_bytes(b"embedding member")
    path, measured = train_ensemble(ds, tmp_path, ("fast", "embedding"))
    model = Ensemble.load(path)
    model.check_members(path)
    assert model.weights == pytest.approx(tuple(measured.weights))
    assert 0.0 < model.thresholds["fpr_1pct"] <= model.thresholds["fpr_0_1pct"] <= 1.0
    assert "unseen_sources_fpr_1pct" in model.thresholds
    card = (tmp_path / "injection.ensemble.model-card.md").read_text()
    assert "fast alone: pooled ROC AUC" in card
    assert "0.1% FPR: score >=" in card


@pytest.mark.parametrize(
    ("detector", "tiers", "message"),
    [
        ("injection", ("fast",), "two or more distinct tiers"),
        ("injection", ("fast", "gpu"), "two or more distinct tiers"),
        ("harmful-output", ("fast", "probe"), "reads prompts, not request/response pairs"),
    ],
)
def test_an_impossible_ensemble_is_refused_before_any_work(
    detector: str, tiers: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prepare_ensemble(detector, tiers)
