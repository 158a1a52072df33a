"""A shipped linear detector: hashed n-gram features, a calibrated score, a category head.

Stored as one ``.npz`` (weights as float16) plus the model card beside it. Inference is a gather
and a sum over the text's feature buckets: numpy only, no scikit-learn at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned.features import DIM, featurize

__all__ = ["LinearDetector", "Prediction"]


@dataclass(frozen=True, slots=True)
class Prediction:
    score: float
    """Calibrated probability that the text is positive (an attack / a harmful request)."""
    category: str


@dataclass
class LinearDetector:
    name: str
    weights: NDArray[np.float32]
    """Shape (DIM,): the positive-vs-negative head."""
    bias: float
    calibration: tuple[float, float]
    """Platt scaling: p = sigmoid(a * margin + b), fitted on held-out data."""
    categories: list[str]
    category_weights: NDArray[np.float32]
    """Shape (len(categories), DIM): which category a positive belongs to."""
    category_bias: NDArray[np.float32]
    thresholds: dict[str, float] = field(default_factory=dict)
    """Score thresholds measured on held-out benign data, e.g. ``{"fpr_1pct": 0.83}``."""
    meta: dict[str, Any] = field(default_factory=dict)

    def margin(self, text: str) -> tuple[float, NDArray[np.int64], NDArray[np.float32]]:
        idx, values = featurize(text)
        return float(self.bias + self.weights[idx] @ values), idx, values

    def predict(self, text: str) -> Prediction:
        margin, idx, values = self.margin(text)
        a, b = self.calibration
        score = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        category = self.categories[0]
        if len(self.categories) > 1:
            logits = self.category_bias + self.category_weights[:, idx] @ values
            category = self.categories[int(np.argmax(logits))]
        return Prediction(float(score), category)

    # -- storage -------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "name": self.name,
            "bias": self.bias,
            "calibration": list(self.calibration),
            "categories": self.categories,
            "thresholds": self.thresholds,
            "meta": self.meta,
            "dim": DIM,
        }
        with path.open("wb") as f:
            np.savez_compressed(
                f,
                header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                weights=self.weights.astype(np.float16),
                category_weights=self.category_weights.astype(np.float16),
                category_bias=self.category_bias.astype(np.float32),
            )

    @classmethod
    def load(cls, path: Path) -> LinearDetector:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            if header["dim"] != DIM:
                raise ValueError(f"{path}: trained with {header['dim']} features, not {DIM}")
            return cls(
                name=header["name"],
                weights=data["weights"].astype(np.float32),
                bias=float(header["bias"]),
                calibration=(float(header["calibration"][0]), float(header["calibration"][1])),
                categories=list(header["categories"]),
                category_weights=data["category_weights"].astype(np.float32),
                category_bias=data["category_bias"].astype(np.float32),
                thresholds={k: float(v) for k, v in header["thresholds"].items()},
                meta=header.get("meta", {}),
            )
