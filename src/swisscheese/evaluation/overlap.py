"""Which evaluated corpora the shipped learned detectors were trained on.

A corpus a model trained on measures memory, not generalisation; the results say so per corpus
(``training_overlap`` in ``results.json``, a column in the report) instead of leaving the reader
to guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from swisscheese.evaluation.corpora import Item
from swisscheese.learned.specs import DETECTOR_SPECS
from swisscheese.learned.trained import TrainedTexts, trained_path
from swisscheese.monitors.learned import shipped_model

__all__ = ["training_overlap"]


def _shipped_sets() -> dict[str, TrainedTexts]:
    sets = {}
    for name in DETECTOR_SPECS:
        for tier in ("fast", "embedding"):
            path = trained_path(shipped_model(name, tier))
            if path.is_file():
                sets[f"{name} ({tier})"] = TrainedTexts.load(path)
    return sets


def training_overlap(items: Sequence[Item]) -> dict[str, Any]:
    """Per corpus: how many of its items some shipped model trained on, and which models."""
    by_source: dict[str, list[str]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item.text)
    sets = _shipped_sets()
    out: dict[str, Any] = {}
    for source, texts in sorted(by_source.items()):
        seen = np.zeros(len(texts), dtype=bool)
        models = []
        for model, trained in sets.items():
            hit = trained.contains(texts)
            if hit.any():
                models.append(model)
                seen |= hit
        out[source] = {
            "items": len(texts),
            "trained_on": int(seen.sum()),
            "share": round(float(seen.mean()), 4) if texts else 0.0,
            "models": models,
        }
    return out
