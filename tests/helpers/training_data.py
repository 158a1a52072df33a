"""The training examples the tests read, built once per test session: building a detector's
takes seconds, and the tests only read them."""

from __future__ import annotations

from functools import cache

from swisscheese.training.sources import Example, load_source


@cache
def examples(detector: str, *, tier: str = "fast") -> tuple[Example, ...]:
    """``load_source(detector, 0, tier=tier)``: seed 0, without the development sets."""
    return tuple(load_source(detector, 0, tier=tier))
