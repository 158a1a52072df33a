"""Prefills: a prompt's cache from the probe's reading, handed to the generation of that prompt
and of no other."""

from __future__ import annotations

import contextvars

from hypothesis import given
from hypothesis import strategies as st

from swisscheese.learned.causal_lm import PREFILL_SCOPE, Prefills

prompts = st.lists(st.integers(0, 3), min_size=1, max_size=6)


@given(kept=st.lists(prompts, max_size=4, unique_by=tuple), asked=prompts)
def test_a_generation_takes_the_longest_kept_prompt_it_begins_with(
    kept: list[list[int]], asked: list[int]
) -> None:
    prefills = Prefills()
    for ids in kept:
        prefills.put(ids, tuple(ids))
    begun = [tuple(k) for k in kept if tuple(asked[: len(k)]) == tuple(k)]
    taken = prefills.take(asked)
    assert taken == max(begun, key=len, default=None)
    # A cache is extended in place by the generation that takes it: it serves once.
    assert len(prefills) == len(kept) - (taken is not None)
    if taken is not None:
        assert prefills.take(list(taken)) != taken


def test_only_the_latest_prompts_are_kept() -> None:
    prefills = Prefills(keep=2)
    for n in range(1, 4):
        prefills.put([n, n], f"cache {n}")
    assert len(prefills) == 2
    assert prefills.take([1, 1]) is None
    assert prefills.take([3, 3, 9]) == "cache 3"


def test_a_prompt_kept_in_one_request_is_not_taken_by_another() -> None:
    prefills = Prefills()
    prefills.put([1, 2, 3], "unscoped")

    def another_request() -> object:
        PREFILL_SCOPE.set(object())
        return prefills.take([1, 2, 3, 4])

    def a_request_screened_then_generated() -> object:
        PREFILL_SCOPE.set(object())
        prefills.put([1, 2, 3], "its own")
        return prefills.take([1, 2, 3, 4])

    assert contextvars.copy_context().run(another_request) is None
    assert contextvars.copy_context().run(a_request_screened_then_generated) == "its own"
    assert prefills.take([1, 2, 3]) == "unscoped"
