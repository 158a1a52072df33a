"""A shipped linear detector: a calibrated score and a category head over one kind of features.

Three kinds: the fast tier's hashed n-grams (inference is a gather and a sum over the text's
buckets), the embedding tier's sentence embeddings (a dot product with a 384-vector from the
English encoder or a 512-vector from the multilingual one) and the probe tier's hidden states
of the local model (a dot product with a 576-vector). Stored as one ``.npz`` (weights as
float16) plus the model card beside it; numpy only at run time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned import embedding, multilingual
from swisscheese.learned.activations import PROBE_LAYER
from swisscheese.learned.features import DIM, featurize, featurize_pair

__all__ = [
    "EMBEDDING",
    "ENSEMBLE_MEMBERS",
    "FAST",
    "FAST_PAIRS",
    "FEATURE_DIMS",
    "MEMBER_TIERS",
    "MULTILINGUAL",
    "PROBE",
    "READS_OTHER_LANGUAGES",
    "TIER_OF",
    "LinearDetector",
    "Prediction",
    "model_filename",
]

FAST = "hashed-ngrams/1"
FAST_PAIRS = "hashed-ngram-pairs/1"
"""Fast-tier features of a request/response pair, the request's n-grams apart."""
EMBEDDING = embedding.ENCODER_ID
MULTILINGUAL = multilingual.ENCODER_ID
"""The embedding tier's other encoder, which reads sixteen languages."""
PROBE = f"smollm2-135m-instruct/layer-{PROBE_LAYER}/last-prompt-token/1"
"""The local model's hidden state (``activations.ActivationReader``)."""
PROBE_DIM = 576
FEATURE_DIMS = {
    FAST: DIM,
    FAST_PAIRS: DIM,
    EMBEDDING: embedding.DIM,
    MULTILINGUAL: multilingual.DIM,
    PROBE: PROBE_DIM,
}
TIER_OF = {
    FAST: "fast",
    FAST_PAIRS: "fast",
    EMBEDDING: "embedding",
    MULTILINGUAL: "embedding",
    PROBE: "probe",
}
READS_OTHER_LANGUAGES = frozenset({MULTILINGUAL})
"""Features whose heads read languages other than English (the rest learnt English only)."""
_FEATURIZERS = {FAST: featurize, FAST_PAIRS: featurize_pair}


MEMBER_TIERS = ("fast", "embedding", "probe")
"""The tiers an ensemble can stack, in the order its file name lists them."""
ENSEMBLE_MEMBERS = ("fast", "embedding")
"""The tiers a detector's ensemble stacks unless told otherwise."""


def model_filename(detector: str, tier: str, members: Sequence[str] | None = None) -> str:
    """``injection.npz`` for the fast tier, ``injection.embedding.npz`` for the embedding tier,
    ``injection.ensemble.json`` for the stacker over ``ENSEMBLE_MEMBERS`` (for other
    ``members``, ``injection.ensemble.fast-embedding-probe.json``),
    ``indirect-injection.sentences.json`` for the sentence reader."""
    if tier == "ensemble" and members is not None:
        named = sorted(members, key=lambda t: MEMBER_TIERS.index(t) if t in MEMBER_TIERS else 9)
        if tuple(named) != ENSEMBLE_MEMBERS:
            return f"{detector}.ensemble.{'-'.join(named)}.json"
    if tier in ("ensemble", "sentences"):
        return f"{detector}.{tier}.json"
    return f"{detector}.npz" if tier == "fast" else f"{detector}.{tier}.npz"


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
    features: str = FAST
    """Which features the weights read: ``FAST`` or ``FAST_PAIRS`` (text in), ``EMBEDDING`` or
    ``MULTILINGUAL`` (an encoder's vectors in) or ``PROBE``."""
    window: int | None = None
    """Fast tier: characters per window when trained on short windows; None: the default."""

    def predict(self, text: str) -> Prediction:
        """Fast tier: score a text."""
        featurizer = _FEATURIZERS.get(self.features)
        if featurizer is None:
            raise ValueError(f"{self.name}: an {self.features} head scores embeddings, not text")
        idx, values = featurizer(text)
        logits = None
        if len(self.categories) > 1:
            logits = self.category_bias + self.category_weights[:, idx] @ values
        return self._prediction(float(self.bias + self.weights[idx] @ values), logits)

    def predict_vectors(self, vectors: NDArray[np.float32]) -> list[Prediction]:
        """Embedding and probe tiers: score each row of ``vectors`` (shape (n, dim))."""
        margins = vectors @ self.weights + self.bias
        logits = vectors @ self.category_weights.T + self.category_bias
        return [self._prediction(float(m), row) for m, row in zip(margins, logits, strict=True)]

    def _prediction(self, margin: float, logits: NDArray[np.float32] | None) -> Prediction:
        a, b = self.calibration
        score = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        category = self.categories[0]
        if logits is not None and len(self.categories) > 1:
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
            "features": self.features,
            "dim": FEATURE_DIMS[self.features],
            "window": self.window,
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
            features = header.get("features", FAST)
            if features not in FEATURE_DIMS:
                raise ValueError(f"{path}: unknown features {features!r}")
            if header["dim"] != FEATURE_DIMS[features]:
                raise ValueError(
                    f"{path}: trained with {header['dim']} {features} features, "
                    f"not {FEATURE_DIMS[features]}"
                )
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
                features=features,
                window=header.get("window"),
            )
