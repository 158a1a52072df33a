from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from swisscheese.training.feature_cache import FeatureCache


class Model:
    """A stand-in encoder whose vectors depend on the text alone, counting what it reads."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def __call__(self, texts: list[str]) -> NDArray[np.float32]:
        self.read += texts
        return np.array(
            [[len(t), sum(map(ord, t)) % 997, t.count(" ")] for t in texts], dtype=np.float32
        ).reshape(len(texts), 3)


def test_a_second_command_reads_the_kept_vectors_instead_of_running_the_model(
    tmp_path: Path,
) -> None:
    texts = ["how do I kill a Python process", "what did the Nazis do", "hello"]
    first = Model()
    kept = FeatureCache(tmp_path / "f.sqlite").vectors("enc/1", texts, first)
    assert sorted(first.read) == sorted(texts)

    again = Model()  # a new process: a new connection to the same file
    read_back = FeatureCache(tmp_path / "f.sqlite").vectors("enc/1", texts[::-1], again)
    assert again.read == []
    np.testing.assert_array_equal(read_back, kept[::-1])


def test_only_the_texts_not_kept_are_computed_each_once(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "f.sqlite")
    cache.vectors("enc/1", ["a", "b"], Model())
    model = Model()
    out = cache.vectors("enc/1", ["c", "a", "c", "d", "b"], model)
    assert sorted(model.read) == ["c", "d"]
    np.testing.assert_array_equal(out, Model()(["c", "a", "c", "d", "b"]))


def test_other_features_of_the_same_text_are_not_mistaken_for_kept_ones(tmp_path: Path) -> None:
    """A new model or layer has a new name: its vectors are computed, not read from the old."""
    cache = FeatureCache(tmp_path / "f.sqlite")
    cache.vectors("probe/layer-28/1", ["same text"], Model())
    model = Model()
    cache.vectors("probe/layer-20/1", ["same text"], model)
    assert model.read == ["same text"]


def test_no_texts_asks_the_model_for_its_empty_matrix(tmp_path: Path) -> None:
    out = FeatureCache(tmp_path / "f.sqlite").vectors("enc/1", [], Model())
    assert out.shape == (0, 3)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=12), st.lists(st.text(max_size=30), max_size=12))
def test_kept_or_computed_a_text_gets_its_own_vector(
    tmp_path_factory: pytest.TempPathFactory, first: list[str], second: list[str]
) -> None:
    path = tmp_path_factory.mktemp("cache") / "f.sqlite"
    cache = FeatureCache(path)
    cache.vectors("enc/1", first, Model())
    np.testing.assert_array_equal(cache.vectors("enc/1", second, Model()), Model()(second))


def test_what_was_computed_before_a_command_stopped_is_kept(tmp_path: Path) -> None:
    """Training reads 19,000 texts through the local model for most of an hour: stopped half
    way, the next command computes only what the first had not."""
    texts = [f"request number {i}" for i in range(3000)]

    def dies_after_two_batches(todo: list[str]) -> NDArray[np.float32]:
        if len(model.read) >= 2048:
            raise KeyboardInterrupt
        return model(todo)

    model = Model()
    with pytest.raises(KeyboardInterrupt):
        FeatureCache(tmp_path / "f.sqlite").vectors("enc/1", texts, dies_after_two_batches)
    again = Model()
    out = FeatureCache(tmp_path / "f.sqlite").vectors("enc/1", texts, again)
    assert len(again.read) == len(texts) - len(model.read)
    np.testing.assert_array_equal(out, Model()(texts))
