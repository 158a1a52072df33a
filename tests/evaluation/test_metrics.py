"""The statistics against their definitions, computed the slow, obvious way."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.evaluation.metrics import (
    bootstrap,
    clopper_pearson,
    last_line,
    pairwise_overlap,
    percentiles,
    rate_ci,
    recall_at_fpr,
    roc_auc,
    roc_curve,
    with_ci,
)

scores = st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]), min_size=1, max_size=40)


def brute_auc(pos: list[float], neg: list[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def brute_recall(pos: list[float], neg: list[float], max_fpr: float) -> float:
    best = 0.0
    for t in [*pos, *neg, float("inf")]:
        fpr = sum(n >= t for n in neg) / len(neg)
        if fpr <= max_fpr:
            best = max(best, sum(p >= t for p in pos) / len(pos))
    return best


@settings(max_examples=200)
@given(scores, scores)
def test_roc_auc_is_the_probability_an_attack_outscores_a_benign_item(
    pos: list[float], neg: list[float]
) -> None:
    assert abs(roc_auc(pos, neg) - brute_auc(pos, neg)) < 1e-9


@settings(max_examples=200)
@given(scores, scores, st.sampled_from([0.0, 0.01, 0.05, 0.2, 0.5]))
def test_recall_at_fpr_is_the_best_recall_whose_benign_flag_rate_fits(
    pos: list[float], neg: list[float], max_fpr: float
) -> None:
    assert recall_at_fpr(pos, neg, max_fpr) == brute_recall(pos, neg, max_fpr)


@given(scores, scores)
def test_roc_curve_runs_from_flag_nothing_to_flag_everything(
    pos: list[float], neg: list[float]
) -> None:
    fpr, tpr = roc_curve(pos, neg)
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0)
    assert np.all(np.diff(tpr) >= 0)


def test_a_perfect_detector_and_a_useless_one() -> None:
    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert recall_at_fpr([0.9, 0.8], [0.1, 0.2], 0.0) == 1.0
    assert roc_auc([1.0, 1.0], [1.0, 1.0]) == 0.5
    assert recall_at_fpr([1.0, 1.0], [1.0, 1.0], 0.01) == 0.0
    assert np.isnan(roc_auc([], [0.1]))


def test_rate_intervals_cover_the_estimate_and_shrink_with_more_data() -> None:
    rng = np.random.default_rng(1)
    small = rng.random(50) < 0.3
    large = rng.random(5000) < 0.3
    lo_s, hi_s = rate_ci(small)
    lo_l, hi_l = rate_ci(large)
    assert lo_s <= small.mean() <= hi_s
    assert lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    pos, neg = rng.normal(1, 1, 300), rng.normal(0, 1, 300)
    lo, hi = bootstrap(roc_auc, pos, neg, seed=0, replicates=200)
    assert lo < roc_auc(pos, neg) < hi
    assert bootstrap(roc_auc, pos, neg, seed=3, replicates=50) == bootstrap(
        roc_auc, pos, neg, seed=3, replicates=50
    )


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # Exact values: 1 - 0.025 ** (1 / n) at 0 successes, and published tables.
        (0, 5, (0.0, 0.5218)),
        (5, 5, (0.4782, 1.0)),
        (3, 10, (0.0667, 0.6525)),
        (0, 1000, (0.0, 0.00368)),
    ],
)
def test_rate_intervals_are_exact_binomial_and_never_collapse_at_zero(
    successes: int, n: int, expected: tuple[float, float]
) -> None:
    lo, hi = clopper_pearson(successes, n)
    assert lo == pytest.approx(expected[0], abs=1e-4)
    assert hi == pytest.approx(expected[1], abs=1e-4)


@given(st.integers(min_value=1, max_value=400), st.data())
def test_a_rate_interval_always_holds_the_observed_rate(n: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = clopper_pearson(successes, n)
    assert 0.0 <= lo <= successes / n <= hi <= 1.0
    assert hi - lo > 0


def test_estimates_serialise_nan_as_null() -> None:
    assert with_ci(float("nan"), (float("nan"), 0.5)) == {"value": None, "ci95": [None, 0.5]}


def test_pairwise_overlap_and_last_line() -> None:
    # Four attacks; True = the barrier missed it.
    misses = {
        "a": np.array([True, True, False, False]),
        "b": np.array([True, False, True, False]),
        "c": np.array([True, True, True, False]),
    }
    pairs = {(p["a"], p["b"]): p for p in pairwise_overlap(misses)}
    assert pairs[("a", "b")]["both_miss"] == 0.25
    assert pairs[("a", "b")]["jaccard"] == round(1 / 3, 6)
    assert pairs[("a", "b")]["lift"] == 1.0  # 0.25 / (0.5 * 0.5)
    assert pairs[("a", "c")]["jaccard"] == round(2 / 3, 6)
    # Attack 1 is caught by b only, attack 2 by a only, attack 3 by all three.
    assert last_line(misses) == {"a": 1, "b": 1, "c": 0, "more than one": 1}


def test_percentiles() -> None:
    p = percentiles([float(i) for i in range(1, 101)])
    assert (p["p50"], p["n"]) == (50.5, 100)
    assert percentiles([])["p50"] is None
