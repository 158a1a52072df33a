from __future__ import annotations

from collections.abc import Sequence

import pytest

from swisscheese.evaluation.detectors import evaluate_detector


def scorer(texts: list[str]) -> Sequence[tuple[float, str]]:
    """A stand-in detector: the share of the word 'bad' among the words, labelled by length."""
    return [
        (t.split().count("bad") / max(1, len(t.split())), "long" if len(t) > 12 else "short")
        for t in texts
    ]


def test_the_report_a_library_user_gets_matches_the_definitions() -> None:
    positives = ["bad bad", "bad idea", "bad", "a fine bad thing"]
    negatives = ["good", "fine day", "all good here", "nothing"]
    report = evaluate_detector(scorer, positives, negatives, threshold=0.5, latency_sample=5)
    assert report.roc_auc == 1.0
    assert report.recall_at_1pct_fpr == 1.0
    assert (report.tpr_at_threshold, report.fpr_at_threshold) == (0.75, 0.0)
    assert report.recall_by_category == {"long": (1, 0.0), "short": (3, 1.0)}
    assert report.latency_ms["n"] == 5
    labelled = evaluate_detector(
        scorer, positives, negatives, threshold=0.5, categories=["x", "x", None, "y"]
    )
    assert labelled.recall_by_category == {"short": (1, 1.0), "x": (2, 1.0), "y": (1, 0.0)}


def test_it_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="at least one positive"):
        evaluate_detector(scorer, [], ["good"], threshold=0.5)
