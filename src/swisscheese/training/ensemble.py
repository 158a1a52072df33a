"""``swisscheese train DETECTOR --tier ensemble``: one calibrated score from several tiers.

Every member tier is re-fitted fold by fold on the same items, so each item has a logit from
every member that did not train on it, twice over: with its whole source held out (leave one
source out) and with a random fifth held out. The ensemble scores a text by the mean of its
members' calibrated log-odds, recalibrated (Platt) on the random-fold logits: the members are
trusted equally, except that on text not taken for English only the members that read other
languages count (``Ensemble.other_languages``; the others only for what they read in its English
sentences, where that scores higher). Weights fitted to the out-of-fold logits did worse on
sources held out than equal ones, whichever fold they were fitted on (docs/detectors.md has the
figures): on random folds they favour the n-gram tier, which remembers its training
sources, and on held-out sources the tier that best tells one source from another, which is not
the tier that tells a harmful request from a safe one on the same topic. The figures are
leave-one-source-out like every tier's: a source's items are scored from members that never saw
it. The members themselves are the tiers' model files already in the output directory, pinned
by digest.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from swisscheese.learned.ensemble import Ensemble, check_tiers, digest
from swisscheese.learned.language import read_languages, reads_as_english
from swisscheese.learned.model import READS_OTHER_LANGUAGES, LinearDetector, model_filename
from swisscheese.training.crossval import (
    CrossValidation,
    MutatedCopy,
    alarming_curve,
    alarming_folds,
    alarming_logits,
    alone_and_in_layer,
    fpr_thresholds,
    group_folds,
    mutated_copies,
    mutated_per_group,
    out_of_fold,
    per_copy,
    random_folds,
    real_benign,
    real_benign_documents,
    report,
    sigmoid,
    texts_of,
)
from swisscheese.training.fit import (
    PAIR_DETECTORS,
    Dataset,
    _features,
    counts_by_source,
    encoder_of,
    features_for,
    prepare,
    regularisation,
    trains_on,
)
from swisscheese.training.sources import document_window, group_of

__all__ = [
    "CascadePoint",
    "MemberLogits",
    "StackedReport",
    "calibrate",
    "member_logits",
    "prepare_ensemble",
    "train_ensemble",
]


def _check_tiers(detector: str, tiers: tuple[str, ...]) -> None:
    check_tiers(tiers)
    if detector in PAIR_DETECTORS and "probe" in tiers:
        raise ValueError(f"{detector}: the probe tier reads prompts, not request/response pairs")
    windows = {tier: document_window(detector, tier) for tier in tiers}
    if len(set(windows.values())) > 1:
        # The stacker would be fitted on items some members never read in serving: each member
        # scores a document by its own windows, and the shared items are one tier's windows.
        sizes = ", ".join(
            f"{tier} {f'{size} characters' if size else 'whole texts'}"
            for tier, size in windows.items()
        )
        raise ValueError(
            f"{detector}: the members read documents in windows of different sizes ({sizes}); "
            "an ensemble of them is not supported yet"
        )


def prepare_ensemble(
    detector: str, tiers: tuple[str, ...], *, encoder: str | None = None, **options: Any
) -> Dataset:
    """The items every member can read (the embedding tier leaves some sources out), prepared
    as ``fit.prepare`` does; ``encoder``: the embedding member's (``fit.ENCODERS``)."""
    _check_tiers(detector, tiers)
    if encoder is not None and "embedding" not in tiers:
        raise ValueError(f"an encoder is for an embedding member; {', '.join(tiers)} has none")
    tier = "embedding" if "embedding" in tiers else tiers[0]
    return prepare(detector, tier=tier, encoder=encoder, **options)


def member_encoder(out_dir: Path, detector: str, tiers: tuple[str, ...]) -> str | None:
    """The encoder of the embedding member's file in ``out_dir`` (None without one, or when
    it cannot be read: ``train_ensemble`` says why)."""
    path = out_dir / model_filename(detector, "embedding")
    if "embedding" not in tiers or not path.is_file():
        return None
    try:
        return encoder_of(LinearDetector.load(path).features)
    except (OSError, ValueError, KeyError):
        return None


Combine = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
"""Scores from rows of the members' logits (texts, members), whether each text is taken for
English (texts,), and the members' logits of each text's English sentences (texts, members;
NaN where a text has none to read apart), or None."""


@dataclass
class MemberLogits:
    """Each member's out-of-fold logit of every item (columns in ``tiers`` order)."""

    tiers: tuple[str, ...]
    by_source: np.ndarray
    """(n, members): from heads fitted without the item's source."""
    random: np.ndarray
    """(n, members): from heads fitted without the item's random fold."""
    scored: np.ndarray
    """(n,) bool: the item's source was held out (a source whose rest lacks a class is not)."""
    mutated: list[list[tuple[MutatedCopy, np.ndarray]]]
    """Per source: fresh copies of its attacks, each with its texts' members' logits
    (texts, members)."""
    alarming: list[tuple[np.ndarray, np.ndarray]]
    """Per real harmful set (harmful-request only): its items' and the safe-but-alarming
    prompts' logits, (items, members) each, from members fitted without either."""
    english: np.ndarray
    """(n,) bool: the item is taken for English (``learned.language``)."""
    alarming_english: list[tuple[np.ndarray, np.ndarray]]
    """``english`` of ``alarming``'s items, in the same shape."""
    on_part_by_source: np.ndarray | None = None
    """(n, members): each member's logit of the item's English sentences, for items not
    taken for English that have some (NaN elsewhere); from the same heads as ``by_source``."""
    on_part_random: np.ndarray | None = None
    """The same from the heads of ``random``."""

    def alarming_curve(self, combine: Combine) -> list[tuple[float, float]]:
        return alarming_curve(
            [
                (combine(h, eh, None), combine(a, ea, None))
                for (h, a), (eh, ea) in zip(self.alarming, self.alarming_english, strict=True)
            ]
        )

    def by_mutator(self, combine: Combine) -> dict[str, list[tuple[float, float]]]:
        """Per mutator, each copy's score alone and through the layer, its texts' members'
        logits combined by ``combine``."""
        out: dict[str, list[tuple[float, float]]] = {}
        for group in self.mutated:
            for copy, rows in group:
                english = np.array([reads_as_english(t) for t in copy.texts], dtype=bool)
                # Copies are not read again in parts: a mutator disguises all of a text, so
                # one taken for another language has no English sentence left to read.
                out.setdefault(copy.mutator, []).append(
                    alone_and_in_layer(copy, combine(rows, english, None))
                )
        return out


def member_logits(
    ds: Dataset, tiers: tuple[str, ...], *, seed: int = 0, mutated_attacks: int | None = None
) -> MemberLogits:
    """Out-of-fold logits of every member tier over ``ds``'s items (see the module docstring);
    ``mutated_attacks`` held-out attacks per set are copied through each mutator (default:
    the slowest member's ``MUTATED_PER_GROUP``)."""
    y, weights = ds.labels, ds.weights
    groups = np.array([group_of(ex.source) for ex in ds.examples])
    _, folds = group_folds(groups)
    by_source = np.zeros((len(y), len(tiers)))
    scored = np.ones(len(y), dtype=bool)
    by_random = np.zeros((len(y), len(tiers)))
    rng = random.Random(seed)
    per_group = mutated_per_group(tiers, mutated_attacks)
    copies = [
        [] if ds.detector in PAIR_DETECTORS else mutated_copies(ds, rows, rng, per_group)
        for rows in folds
    ]
    mutated = [
        [(copy, np.zeros((len(copy.texts), len(tiers)))) for copy in group] for group in copies
    ]
    paired = alarming_folds(ds)
    alarming = [
        (np.zeros((len(f.harmful), len(tiers))), np.zeros((len(f.alarming), len(tiers))))
        for f in paired
    ]
    random_split = random_folds(ds.documents, seed)
    languages = [read_languages(ex.text) for ex in ds.examples]
    english = np.array([lang.english for lang in languages], dtype=bool)
    # Items mostly in another language that have English sentences: each member reads those
    # too, for the stacker's "what the blind members read in English" (Ensemble.score).
    part_rows = np.array(
        [i for i, lang in enumerate(languages) if not lang.english and lang.english_part],
        dtype=np.int64,
    )
    part_texts = [languages[i].english_part for i in part_rows]
    on_part_by_source = np.full((len(y), len(tiers)), np.nan)
    on_part_random = np.full((len(y), len(tiers)), np.nan)
    for j, tier in enumerate(tiers):
        member = Dataset(
            ds.detector,
            tier,
            ds.examples,
            ds.removed,
            None,
            ds.dev_root,
            encoder=ds.encoder if tier == "embedding" else None,
        )
        x, c = member.matrix(), regularisation(ds.detector, tier)
        trains = np.array([trains_on(member.features, ex.source) for ex in ds.examples])
        logits, heads = out_of_fold(
            x, y, weights, folds, c=c, seed=seed, rng=np.random.default_rng(seed), trains=trains
        )
        by_source[:, j] = logits
        for rows, head, group_copies, out in zip(folds, heads, copies, mutated, strict=True):
            if head is None:  # not held out (its rest lacks a class): no figures from it
                scored[rows] = False
                out.clear()
                continue
            if group_copies:
                logits_ = head.logit(_features(texts_of(group_copies), member.features))
                for (_, rows_of_copy), values in zip(
                    out, per_copy(group_copies, logits_), strict=True
                ):
                    rows_of_copy[:, j] = values
        by_random[:, j], random_heads = out_of_fold(
            x, y, weights, random_split, c=c, seed=seed, trains=trains
        )
        if len(part_rows):
            x_part = _features(part_texts, member.features)
            for out_, folds_, heads_ in (
                (on_part_by_source, folds, heads),
                (on_part_random, random_split, random_heads),
            ):
                for rows, head in zip(folds_, heads_, strict=True):
                    which = np.flatnonzero(np.isin(part_rows, rows))
                    if head is not None and len(which):
                        out_[part_rows[which], j] = head.logit(x_part[which])
        for (harmful, alarmed), (h, a) in zip(
            alarming,
            alarming_logits(x, y, weights, paired, c=c, seed=seed, trains=trains),
            strict=True,
        ):
            harmful[:, j], alarmed[:, j] = h, a
    alarming_english = [(english[f.harmful], english[f.alarming]) for f in paired]
    return MemberLogits(
        tiers,
        by_source,
        by_random,
        scored,
        mutated,
        alarming,
        english,
        alarming_english,
        on_part_by_source,
        on_part_random,
    )


def calibrate(mean_logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling of the members' mean log-odds: score = sigmoid(a * mean + b), a >= 0."""
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1e6, solver="lbfgs").fit(mean_logits.reshape(-1, 1), y)
    a, b = float(fit.coef_[0][0]), float(fit.intercept_[0])
    if a <= 0:
        raise ValueError("the members' mean score does not rise with attacks; nothing to stack")
    return a, b


CASCADE_GATES = (0.05, 0.1, 0.2, 0.3, 0.5)
"""The fast member's scores below which a cascade (``cascade_below``) is measured."""


@dataclass(frozen=True)
class CascadePoint:
    """An ensemble run as a cascade: the text passes on the fast member's score alone when it
    is below ``gate``. Held out (leave one source out), like every figure of the report."""

    gate: float
    benign_passed: float
    """Share of the real benign items the fast member alone passes (no slower member runs)."""
    recall: dict[str, float]
    """Attack recall at each threshold (``fpr_1pct``, ``fpr_0_1pct``, ``unseen_1pct``)."""


@dataclass
class StackedReport:
    ensemble: CrossValidation
    members: dict[str, CrossValidation]
    """Each member alone, measured on the same items and folds."""
    calibration: tuple[float, float]
    cascade: list[CascadePoint] = field(default_factory=list)
    """Empty without a fast member."""
    other_languages: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        a, b = self.calibration
        out = [f"score = sigmoid({a:.3f} x mean of {', '.join(self.members)} log-odds {b:+.3f})"]
        if self.other_languages:
            out[0] += (
                f"; on text not taken for English, the mean of {', '.join(self.other_languages)}"
                " log-odds alone, or where higher the mean with the other members' log-odds of "
                "its English sentences"
            )
        for tier, cv in self.members.items():
            out.append(f"{tier} alone: " + _headline(cv))
        out.append("ensemble: " + _headline(self.ensemble))
        for point in self.cascade:
            recall = " / ".join(f"{r:.3f}" for r in point.recall.values())
            out.append(
                f"cascade_below {point.gate}: {point.benign_passed:.2f} of benign passed on "
                f"the fast member alone; attack recall at the 1% / 0.1% / unseen 1% "
                f"thresholds {recall}"
            )
        return out + self.ensemble.lines()


def cascade_points(
    fast: np.ndarray,
    stacked: np.ndarray,
    attacks: np.ndarray,
    benign: np.ndarray,
    thresholds: dict[str, float],
    always_run: np.ndarray | None = None,
) -> list[CascadePoint]:
    """The cascade at 0 (every member runs) and at each of CASCADE_GATES, from out-of-fold
    scores: ``fast`` the fast member's, ``stacked`` the ensemble's; ``attacks`` and ``benign``
    select the items each figure is over; ``always_run`` the items the fast member's score
    cannot pass (text in another language)."""
    points = []
    for gate in (0.0, *CASCADE_GATES):
        runs = fast >= gate
        if always_run is not None:
            runs |= always_run
        recall = {
            name: float(np.mean(((stacked >= t) & runs)[attacks])) for name, t in thresholds.items()
        }
        points.append(CascadePoint(gate, float(np.mean(~runs[benign])), recall))
    return points


def _headline(cv: CrossValidation) -> str:
    text = (
        f"pooled ROC AUC {cv.pooled['auc']:.3f}, recall {cv.pooled['recall']:.3f} at 1% of "
        "unseen benign"
    )
    for rate, recall in cv.safe_but_alarming_curve:
        if rate == 0.05:
            text += f"; recall {recall:.3f} where 5% of safe-but-alarming prompts are flagged"
    return text


def _member_score(
    j: int, rows: np.ndarray, english: np.ndarray, on_part: np.ndarray | None
) -> np.ndarray:
    """Member ``j``'s calibrated scores, from rows of the members' logits."""
    return sigmoid(rows[:, j])


def _member_logit(
    j: int, rows: np.ndarray, english: np.ndarray, on_part: np.ndarray | None
) -> np.ndarray:
    return rows[:, j]


@dataclass(frozen=True)
class _Stacked:
    """The stacker's log-odds before calibration, as ``Ensemble.score`` weighs them: the
    members' mean; on text not taken for English the mean of the members that read other
    languages (``readers``; none: every member counts on every text), or, where higher, the
    mean with the other members' logits of its English sentences."""

    readers: tuple[int, ...]

    def __call__(
        self, rows: np.ndarray, english: np.ndarray, on_part: np.ndarray | None = None
    ) -> np.ndarray:
        mean: np.ndarray = rows.mean(axis=-1)
        if not self.readers:
            return mean
        gated: np.ndarray = rows[:, list(self.readers)].mean(axis=-1)
        if on_part is not None:
            mixed = on_part.copy()
            mixed[:, list(self.readers)] = rows[:, list(self.readers)]
            # NaN (no English sentences) leaves the readers' mean.
            gated = np.fmax(gated, mixed.mean(axis=-1))
        return np.where(english, mean, gated)


def stack(
    ds: Dataset, logits: MemberLogits, other_languages: tuple[str, ...] = ()
) -> StackedReport:
    """Calibrate the stacked log-odds (``_Stacked``) and measure them, and each member alone,
    out of fold."""
    y = ds.labels
    usable = logits.scored
    stacked_logit = _Stacked(tuple(logits.tiers.index(t) for t in other_languages))
    a, b = calibrate(stacked_logit(logits.random, logits.english, logits.on_part_random), y)

    def score(z: np.ndarray, english: np.ndarray, on_part: np.ndarray | None) -> np.ndarray:
        return sigmoid(a * stacked_logit(z, english, on_part) + b)

    oof = np.where(usable, score(logits.by_source, logits.english, logits.on_part_by_source), 0.0)
    shipped = fpr_thresholds(
        real_benign_documents(score(logits.random, logits.english, logits.on_part_random), ds)
    )
    mutated = logits.by_mutator(score)
    members = {}
    for j, tier in enumerate(logits.tiers):
        members[tier] = report(
            ds,
            sigmoid(logits.by_source[:, j]),
            fpr_thresholds(real_benign_documents(sigmoid(logits.random[:, j]), ds)),
            logits.by_mutator(partial(_member_score, j)),
            tier=tier,
        )
        members[tier].safe_but_alarming_curve = logits.alarming_curve(partial(_member_logit, j))
    stacked = report(ds, oof, shipped, mutated, tier="ensemble")
    stacked.safe_but_alarming_curve = logits.alarming_curve(score)
    cascade = []
    if "fast" in logits.tiers:
        fast = sigmoid(logits.by_source[:, logits.tiers.index("fast")])
        cascade = cascade_points(
            fast,
            oof,
            y == 1,
            real_benign(ds),
            {**shipped, "unseen_1pct": stacked.unseen_source_thresholds["fpr_1pct"]},
            always_run=~logits.english if other_languages else None,
        )
    return StackedReport(stacked, members, (a, b), cascade, other_languages)


def _check_member_features(ds: Dataset, tier: str, path: Path) -> str:
    """The features the member file reads; ValueError unless they are those the stacker
    re-fits it on: an embedding head from the other encoder would be served while the stacker
    was calibrated on this one's scores."""
    try:
        features = LinearDetector.load(path).features
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a {tier} model the ensemble can pin ({exc})") from exc
    wanted = features_for(ds.detector, tier, ds.encoder if tier == "embedding" else None)
    if features != wanted:
        encoder = encoder_of(features)
        refit = f" or re-fit it on that file's (--encoder {encoder})" if encoder else ""
        raise ValueError(
            f"{path}: a head on {features} features, but the ensemble re-fits its {tier} "
            f"member on {wanted}: retrain it (swisscheese train {ds.detector} --tier {tier})"
            f"{refit}"
        )
    return features


def train_ensemble(
    ds: Dataset,
    out_dir: Path,
    tiers: tuple[str, ...],
    *,
    seed: int = 0,
    mutated_attacks: int | None = None,
) -> tuple[Path, StackedReport]:
    """Fit and measure the stacker over ``tiers`` and write it, with its cards, beside the
    member models it pins (which must already be in ``out_dir``)."""
    _check_tiers(ds.detector, tiers)
    paths = {t: out_dir / model_filename(ds.detector, t) for t in tiers}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ValueError(
            f"the ensemble pins its members, and {', '.join(missing)} is missing: train "
            f"those tiers into {out_dir} first (swisscheese train {ds.detector} --tier TIER)"
        )
    features = {tier: _check_member_features(ds, tier, path) for tier, path in paths.items()}
    other_languages = tuple(t for t, f in features.items() if f in READS_OTHER_LANGUAGES)
    if len(other_languages) == len(tiers):
        other_languages = ()  # every member reads every text: no gate
    logits = member_logits(ds, tiers, seed=seed, mutated_attacks=mutated_attacks)
    measured = stack(ds, logits, other_languages)
    metrics: dict[str, Any] = {
        "cross_validation": measured.ensemble.summary(),
        "members_alone": {t: cv.summary() for t, cv in measured.members.items()},
        "cascade": [asdict(point) for point in measured.cascade],
    }
    data_card = _data_card(ds, tiers, seed, other_languages)
    model = Ensemble(
        detector=ds.detector,
        members=tiers,
        weights=tuple(measured.calibration[0] / len(tiers) for _ in tiers),
        bias=measured.calibration[1],
        member_digests={t: digest(p) for t, p in paths.items()},
        thresholds=measured.ensemble.model_thresholds(),
        meta={"metrics": metrics, "items": len(ds.examples), "seed": seed},
        other_languages=other_languages,
    )
    path = out_dir / model_filename(ds.detector, "ensemble", tiers)
    model.save(path)
    stem = path.name.removesuffix(".json")
    (out_dir / f"{stem}.data-card.json").write_text(json.dumps(data_card, indent=2) + "\n")
    (out_dir / f"{stem}.model-card.md").write_text(_model_card(model, measured, data_card))
    return path, measured


def _data_card(
    ds: Dataset, tiers: tuple[str, ...], seed: int, other_languages: tuple[str, ...]
) -> dict[str, Any]:
    y = ds.labels
    stacker = (
        "the mean of the members' calibrated log-odds, Platt-scaled on their random-fold "
        "out-of-fold logits"
    )
    if other_languages:
        stacker += (
            f"; on text not taken for English (learned.language), the mean of "
            f"{', '.join(other_languages)} log-odds alone, or where higher the mean with the "
            "other members' log-odds of its English sentences, through the same scaling"
        )
    return {
        "detector": ds.detector,
        "tier": "ensemble",
        "members": list(tiers),
        "seed": seed,
        "items": len(y),
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
        "by_source": counts_by_source(ds.examples),
        "stacker": stacker,
        "thresholds_from": (
            "random-fold out-of-fold logits of the real data sets' benign items, each from "
            "members that did not train on it; unseen_sources_* from leave-one-source-out"
        ),
    }


def _model_card(model: Ensemble, measured: StackedReport, card: dict[str, Any]) -> str:
    weights = "\n".join(
        f"- {t}: {w:.4f} (member file pinned at {model.member_digests[t][:19]}...)"
        for t, w in zip(model.members, model.weights, strict=True)
    )
    lines = "\n".join(f"- {line}" for line in measured.lines())
    t = model.thresholds
    return f"""# Model card: `{model.detector}` (ensemble of {", ".join(model.members)})

score = sigmoid(bias + sum of weight x logit(member score)), bias {model.bias:.4f}, weights
(equal: the members are trusted alike; their sum is the Platt slope):
{weights}

{card["stacker"].capitalize()}. {card["items"]} items ({card["positives"]} positive,
{card["negatives"]} negative); seed {card["seed"]}.

## Leave-one-source-out cross-validation, the members alone and stacked, on the same items
{lines}

## Thresholds ({card["thresholds_from"]})
- 1% FPR: score >= {t["fpr_1pct"]:.4f}
- 0.1% FPR: score >= {t["fpr_0_1pct"]:.4f}
- on sources never trained on (leave-one-source-out), 1% FPR: score >=
  {t["unseen_sources_fpr_1pct"]:.4f}

## Known limits
- It costs every member's latency (they run concurrently) and inherits their limits.
- It trusts every member alike, whatever the text: a kind of text none of them saw can still
  fool every member at once.{_language_limit(model)}
"""


def _language_limit(model: Ensemble) -> str:
    if not model.other_languages:
        return ""
    others = [t for t in model.members if t not in model.other_languages]
    return f"""
- On text not taken for English only {", ".join(model.other_languages)} counts, and
  {", ".join(others)} only for what it reads in the text's English sentences (where that
  scores higher); the test is a word count, not a language identifier."""
