from __future__ import annotations

from swisscheese.monitors._typos import OVERRIDE_WORDS, candidate
from swisscheese.training.real_words import derive


def test_a_candidate_misspelling_ordinary_text_uses_twice_is_a_word() -> None:
    texts = iter(
        [
            "There was an error.",  # "three", "terror" by their letters
            "there it is; the error again",
            "a single raise",  # once only
            "promt promt promt",  # a misspelling of an override word, however common
            "quantum quantum",  # no watched word's misspelling
        ]
    )
    assert derive(texts, candidate, OVERRIDE_WORDS, min_count=2) == ["error", "there"]
