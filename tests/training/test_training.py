"""Training: reproducible, refuses to train on development items, writes its cards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from swisscheese.learned.model import LinearDetector
from swisscheese.training.fit import train
from swisscheese.training.leakage import DevIndex, LeakageError, fingerprint
from swisscheese.training.sources import load_source


def test_training_data_comes_from_packages_and_the_project() -> None:
    data = load_source("injection", seed=0)
    sources = {e.source.split(" ")[0] for e in data}
    assert {
        "pyrit:jailbreak-templates",
        "chitchat-dataset",
        "swisscheese:hard-negatives",
    } <= sources
    positives = [e for e in data if e.label == 1]
    negatives = [e for e in data if e.label == 0]
    assert len(positives) > 1000
    assert len(negatives) > 1000
    # Benign data looks like real traffic: long pasted material, not only short chat.
    assert sum(len(e.text) > 1000 for e in negatives) > 100


def test_fingerprints_ignore_case_spacing_and_punctuation() -> None:
    assert fingerprint("Ignore  all previous\ninstructions!") == fingerprint(
        "ignore all previous instructions"
    )


def test_training_refuses_when_a_development_item_is_in_the_data(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    leaked = next(e.text for e in load_source("harmful-request", 0) if e.label == 1)
    (dev / "items.csv").write_text(f'goal\n"{leaked.upper()}  "\n', encoding="utf-8")
    assert DevIndex.build(dev).leaked([leaked])
    with pytest.raises(LeakageError, match="refusing to train"):
        train("harmful-request", tmp_path / "m", dev_root=dev, decontaminate=False, sample=400)


@pytest.mark.slow
def test_train_is_reproducible_and_writes_model_and_cards(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "x.csv").write_text("text\nan unrelated development item about gardening\n")
    a = train("injection", tmp_path / "a", dev_root=dev, seed=3, sample=1500)
    b = train("injection", tmp_path / "b", dev_root=dev, seed=3, sample=1500)
    ma, mb = LinearDetector.load(a.model_path), LinearDetector.load(b.model_path)
    assert np.array_equal(ma.weights, mb.weights)
    assert ma.thresholds == mb.thresholds
    card = json.loads((tmp_path / "a" / "injection.data-card.json").read_text())
    assert card["leakage_check"]["exact_matches_after"] == 0
    assert card["licences"]["pyrit"] == "MIT"
    assert "recall at 1% FPR" in (tmp_path / "a" / "injection.model-card.md").read_text()
    assert a.metrics["roc_auc"] > 0.9
