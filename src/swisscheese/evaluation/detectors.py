"""How well one detector separates your positives from your negatives: the figures
``swisscheese eval-detector`` prints, for library users too."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from swisscheese.core.stats import latency_summary
from swisscheese.evaluation.metrics import recall_at_fpr, roc_auc

Scorer = Callable[[list[str]], Sequence[tuple[float, str]]]
"""Texts -> (score, category) per text."""


@dataclass(frozen=True)
class DetectorReport:
    positives: int
    negatives: int
    roc_auc: float
    recall_at_1pct_fpr: float
    recall_at_01pct_fpr: float
    threshold: float
    tpr_at_threshold: float
    fpr_at_threshold: float
    latency_ms: dict[str, float | int | None]
    """One text per call, as a request sees it, on a seeded sample."""
    recall_by_category: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Category -> (positives, recall at ``threshold``)."""


def evaluate_detector(
    score: Scorer,
    positives: Sequence[str],
    negatives: Sequence[str],
    *,
    threshold: float,
    categories: Sequence[str | None] | None = None,
    latency_sample: int = 200,
    seed: int = 0,
) -> DetectorReport:
    """``categories``: each positive's label (None: the category the detector gives it)."""
    if not positives or not negatives:
        raise ValueError("need at least one positive and one negative")
    scored = score(list(positives))
    p = np.array([s for s, _ in scored])
    n = np.array([s for s, _ in score(list(negatives))])
    texts = [*positives, *negatives]
    times = []
    for text in random.Random(seed).sample(texts, min(latency_sample, len(texts))):
        t0 = time.perf_counter()
        score([text])
        times.append((time.perf_counter() - t0) * 1000)
    labels = categories or [None] * len(positives)
    hits: dict[str, list[bool]] = {}
    for label, (s, category) in zip(labels, scored, strict=True):
        hits.setdefault(label or category, []).append(s >= threshold)
    return DetectorReport(
        positives=len(positives),
        negatives=len(negatives),
        roc_auc=roc_auc(p, n),
        recall_at_1pct_fpr=recall_at_fpr(p, n, 0.01),
        recall_at_01pct_fpr=recall_at_fpr(p, n, 0.001),
        threshold=threshold,
        tpr_at_threshold=float(np.mean(p >= threshold)),
        fpr_at_threshold=float(np.mean(n >= threshold)),
        latency_ms=latency_summary(times),
        recall_by_category={c: (len(h), float(np.mean(h))) for c, h in sorted(hits.items())},
    )
