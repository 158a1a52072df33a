from __future__ import annotations

from swisscheese.monitors._typos import OVERRIDE_WORDS, candidate
from swisscheese.training.real_words import derive, english_words


def test_real_words_are_english_words_or_code_and_typos_are_neither() -> None:
    dictionary = {"there": 5_000_000, "error": 900_000, "raise": 80_000, "fiend": 500}
    words = derive(
        candidate,
        prose=iter(
            [
                "There was an error.",  # "three", "terror" by their letters
                "I think somone took it",  # a typo people make, twice: "someone"
                "did somone see it?",
                "promt promt promt",  # a misspelling of an override word, however common
                "quantum quantum",  # no watched word's misspelling
            ]
        ),
        code=iter(["cout << x;", "cout << y;  // there"]),  # a name code uses, twice
        dictionary=dictionary,
        never=OVERRIDE_WORDS,
    )
    assert candidate("somone") == "someone"
    # "raise" is common English though used once here; "fiend" is in the list but neither
    # common nor used.
    assert words == ["cout", "error", "raise", "there"]


def test_the_english_word_list_has_words_and_not_typos() -> None:
    words = english_words()
    assert {"there", "error", "heir", "pint"} <= words.keys()
    assert not {"somone", "thier", "peple", "woudl"} & words.keys()
