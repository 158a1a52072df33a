"""The evaluation's statistics, exactly as DESIGN.md defines them. Pure numpy, no I/O.

Confidence intervals (95%): a rate's is the exact binomial (Clopper-Pearson) interval, which
stays honest at small n and at 0 or n successes (a bootstrap collapses to [0, 0] there);
detector metrics use percentile bootstraps with a seeded generator that resample attacks and
benign items separately (stratified), so every replicate has both classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from swisscheese.core.stats import latency_summary

__all__ = [
    "bootstrap",
    "clopper_pearson",
    "last_line",
    "pairwise_overlap",
    "percentiles",
    "rate",
    "recall_at_fpr",
    "roc_auc",
    "roc_curve",
    "with_ci",
]

Floats = NDArray[np.float64]
BOOTSTRAP = 1000


def _arr(x: ArrayLike) -> Floats:
    return np.asarray(x, dtype=np.float64).ravel()


def roc_auc(pos: ArrayLike, neg: ArrayLike) -> float:
    """P(score of a random attack > score of a random benign item), ties counted half."""
    p, n = _arr(pos), _arr(neg)
    if not len(p) or not len(n):
        return float("nan")
    both = np.concatenate([p, n])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both), dtype=np.float64)
    sorted_scores = both[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    rank_sum = ranks[: len(p)].sum()
    return float((rank_sum - len(p) * (len(p) + 1) / 2.0) / (len(p) * len(n)))


def roc_curve(pos: ArrayLike, neg: ArrayLike) -> tuple[Floats, Floats]:
    """(FPR, TPR) at every threshold "flag when score >= t", from flag-nothing to flag-all."""
    p, n = np.sort(_arr(pos)), np.sort(_arr(neg))
    thresholds = np.unique(np.concatenate([p, n, [np.inf]]))[::-1]
    tpr = (len(p) - np.searchsorted(p, thresholds, "left")) / max(len(p), 1)
    fpr = (len(n) - np.searchsorted(n, thresholds, "left")) / max(len(n), 1)
    return fpr.astype(np.float64), tpr.astype(np.float64)


def recall_at_fpr(pos: ArrayLike, neg: ArrayLike, max_fpr: float) -> float:
    """The share of attacks flagged at the threshold whose benign flag rate is <= ``max_fpr``."""
    p, n = _arr(pos), _arr(neg)
    if not len(p) or not len(n):
        return float("nan")
    fpr, tpr = roc_curve(p, n)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def rate(flags: ArrayLike) -> float:
    x = _arr(flags)
    return float(x.mean()) if len(x) else float("nan")


def bootstrap(
    stat: Callable[..., float],
    *groups: ArrayLike,
    seed: int = 0,
    replicates: int = BOOTSTRAP,
) -> tuple[float, float]:
    """95% percentile interval of ``stat(*groups)``, each group resampled on its own.

    Groups resampled together (rows of one table) are passed as one 2-D array."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(g, dtype=np.float64) for g in groups]
    if any(len(a) == 0 for a in arrays):
        return (float("nan"), float("nan"))
    values = np.empty(replicates)
    for b in range(replicates):
        values[b] = stat(*(a[rng.integers(0, len(a), len(a))] for a in arrays))
    values = values[~np.isnan(values)]
    if not len(values):
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return (float(lo), float(hi))


def rate_ci(flags: ArrayLike) -> tuple[float, float]:
    """The exact 95% (Clopper-Pearson) interval of the proportion of true ``flags``."""
    x = _arr(flags)
    if not len(x):
        return (float("nan"), float("nan"))
    return clopper_pearson(round(float(x.sum())), len(x))


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval: the p whose tail probabilities are (1 - confidence) / 2.

    Found by bisection on binomial tails computed in log space with numpy (no SciPy)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    alpha = (1.0 - confidence) / 2.0
    k = np.arange(n + 1, dtype=np.float64)
    steps = np.log(np.arange(n, 0, -1, dtype=np.float64)) - np.log(k[1:])
    log_choose = np.concatenate([[0.0], np.cumsum(steps)])

    def pmf(p: float) -> Floats:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.exp(log_choose + k * np.log(p) + (n - k) * np.log1p(-p)))

    def solve(rises: Callable[[float], float]) -> float:
        """The root of a function that rises with p, by bisection on [0, 1]."""
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2.0
            lo, hi = (mid, hi) if rises(mid) < 0 else (lo, mid)
        return (lo + hi) / 2.0

    # P(X >= successes) rises with p; P(X <= successes) falls.
    lower = 0.0 if successes == 0 else solve(lambda p: pmf(p)[successes:].sum() - alpha)
    upper = 1.0 if successes == n else solve(lambda p: alpha - pmf(p)[: successes + 1].sum())
    return (lower, upper)


def with_ci(value: float, ci: tuple[float, float]) -> dict[str, Any]:
    """The JSON shape of every estimate: ``{"value": v, "ci95": [lo, hi]}`` (null for NaN)."""

    def clean(v: float) -> float | None:
        return None if np.isnan(v) else round(float(v), 6)

    return {"value": clean(value), "ci95": [clean(ci[0]), clean(ci[1])]}


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    return latency_summary(values)


def pairwise_overlap(misses: Mapping[str, NDArray[np.bool_]]) -> list[dict[str, Any]]:
    """For each pair of barriers: how often both miss, the Jaccard overlap of their miss sets,
    and lift = P(both miss) / (P(a misses) P(b misses)); lift > 1 means the holes line up."""
    names = list(misses)
    out: list[dict[str, Any]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ma, mb = misses[a], misses[b]
            both = float((ma & mb).mean()) if len(ma) else float("nan")
            union = float((ma | mb).mean()) if len(ma) else float("nan")
            expected = float(ma.mean() * mb.mean()) if len(ma) else float("nan")
            out.append(
                {
                    "a": a,
                    "b": b,
                    "both_miss": round(both, 6),
                    "jaccard": round(both / union, 6) if union else None,
                    "lift": round(both / expected, 6) if expected else None,
                }
            )
    return out


def last_line(misses: Mapping[str, NDArray[np.bool_]]) -> dict[str, int]:
    """For each caught attack, the barrier that was its last line: the only one that caught it.
    Attacks caught by more than one barrier are counted under ``"more than one"``."""
    names = list(misses)
    out = {name: 0 for name in names}
    out["more than one"] = 0
    if not names:
        return out
    caught = ~np.vstack([misses[n] for n in names])
    per_item = caught.sum(axis=0)
    for col in np.flatnonzero(per_item == 1):
        out[names[int(np.flatnonzero(caught[:, col])[0])]] += 1
    out["more than one"] = int((per_item > 1).sum())
    return out
