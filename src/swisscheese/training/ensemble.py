"""``swisscheese train DETECTOR --tier ensemble``: one calibrated score from several tiers.

Every member tier is re-fitted fold by fold on the same items, so each item has a logit from
every member that did not train on it, twice over: with its whole source held out (leave one
source out) and with a random fifth held out. The stacker, a logistic regression with
non-negative weights over those logits, is fitted on the leave-one-source-out logits: they say
how far each tier can be trusted on a kind of text it never saw, which is what deployed traffic
is. Its figures are nested the same way: a source's items are scored by a stacker fitted
without that source, from members' logits that never saw it either, and the shipped thresholds
come from random-fold logits scored by a stacker fitted without their fold. The members
themselves are the tiers' model files already in the output directory, pinned by digest.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from swisscheese.learned.ensemble import MEMBER_TIERS, Ensemble, digest, ensemble_filename
from swisscheese.learned.model import model_filename
from swisscheese.training.crossval import (
    MUTATED_PER_GROUP,
    CrossValidation,
    fpr_thresholds,
    group_folds,
    mutated_copies,
    out_of_fold,
    random_folds,
    report,
    sigmoid,
)
from swisscheese.training.fit import (
    PAIR_DETECTORS,
    Dataset,
    _features,
    prepare,
    regularisation,
)
from swisscheese.training.sources import group_of

__all__ = [
    "MemberLogits",
    "StackedReport",
    "fit_stacker",
    "member_logits",
    "prepare_ensemble",
    "train_ensemble",
]

STACKER_L2 = 1e-3
"""A little shrinkage: a tier is trusted by what it adds, not by what it repeats."""


def _check_tiers(detector: str, tiers: tuple[str, ...]) -> None:
    if len(tiers) < 2 or len(set(tiers)) != len(tiers) or set(tiers) - set(MEMBER_TIERS):
        raise ValueError(
            f"an ensemble needs two or more distinct tiers of {', '.join(MEMBER_TIERS)}; "
            f"got {', '.join(tiers) or 'none'}"
        )
    if detector in PAIR_DETECTORS and "probe" in tiers:
        raise ValueError(f"{detector}: the probe tier reads prompts, not request/response pairs")


def prepare_ensemble(detector: str, tiers: tuple[str, ...], **options: Any) -> Dataset:
    """The items every member can read (the embedding tier leaves some sources out), prepared
    as ``fit.prepare`` does."""
    _check_tiers(detector, tiers)
    return prepare(detector, tier="embedding" if "embedding" in tiers else tiers[0], **options)


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
    mutated: list[list[tuple[str, np.ndarray]]]
    """Per source: (mutator, members' logits) of fresh copies of its attacks."""


def member_logits(ds: Dataset, tiers: tuple[str, ...], *, seed: int = 0) -> MemberLogits:
    """Out-of-fold logits of every member tier over ``ds``'s items (see the module docstring)."""
    y, weights = ds.labels, ds.weights
    groups = np.array([group_of(ex.source) for ex in ds.examples])
    _, folds = group_folds(groups)
    by_source = np.zeros((len(y), len(tiers)))
    scored = np.ones(len(y), dtype=bool)
    by_random = np.zeros((len(y), len(tiers)))
    rng = random.Random(seed)
    per_group = min(MUTATED_PER_GROUP.get(t, 10) for t in tiers)
    copies = [
        [] if ds.detector in PAIR_DETECTORS else mutated_copies(ds, rows, rng, per_group)
        for rows in folds
    ]
    mutated: list[list[tuple[str, np.ndarray]]] = [
        [(name, np.zeros(len(tiers))) for name, _ in group] for group in copies
    ]
    for j, tier in enumerate(tiers):
        member = Dataset(ds.detector, tier, ds.examples, ds.removed, None, ds.dev_root)
        x, c = member.matrix(), regularisation(ds.detector, tier)
        logits, heads = out_of_fold(
            x, y, weights, folds, c=c, seed=seed, rng=np.random.default_rng(seed)
        )
        by_source[:, j] = logits
        for rows, head, group_copies, out in zip(folds, heads, copies, mutated, strict=True):
            if head is None:
                scored[rows] = False
                continue
            if group_copies:
                texts = [text for _, text in group_copies]
                for (_, row), value in zip(
                    out, head.logit(_features(texts, member.features)), strict=True
                ):
                    row[j] = value
        by_random[:, j], _ = out_of_fold(x, y, weights, random_folds(len(y), seed), c=c, seed=seed)
    return MemberLogits(tiers, by_source, by_random, scored, mutated)


def fit_stacker(z: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted logistic regression on members' logits with non-negative weights: a member's
    higher score never lowers the ensemble's, so raising one tier's score cannot buy an
    attacker a pass. Classes are balanced (as the members' heads are), so the fit does not move
    with the share of attacks among the sources it happens to train on."""
    from scipy.optimize import minimize

    weights = weights.astype(np.float64).copy()
    for label in (0, 1):
        share = weights[y == label].sum()
        if share > 0:
            weights[y == label] /= 2 * share
    total = float(weights.sum())

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        margin = z @ w + b
        # log(1 + exp(-m)) for positives, log(1 + exp(m)) for negatives, computed stably.
        signed = np.where(y == 1, -margin, margin)
        value = float(weights @ np.logaddexp(0.0, signed)) / total + STACKER_L2 * float(w @ w)
        grad_margin = weights * np.where(y == 1, -1.0, 1.0) * sigmoid(signed) / total
        grad = np.append(z.T @ grad_margin + 2 * STACKER_L2 * w, grad_margin.sum())
        return value, grad

    start = np.append(np.full(z.shape[1], 1.0 / z.shape[1]), 0.0)
    bounds = [(0.0, None)] * z.shape[1] + [(None, None)]
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x[:-1], float(result.x[-1])


@dataclass
class StackedReport:
    ensemble: CrossValidation
    members: dict[str, CrossValidation]
    """Each member alone, measured on the same items and folds."""
    weights: np.ndarray
    bias: float

    def lines(self) -> list[str]:
        out = [
            "stacker weights: "
            + ", ".join(f"{t} {w:.3f}" for t, w in zip(self.members, self.weights, strict=True))
            + f", bias {self.bias:.3f}"
        ]
        for tier, cv in self.members.items():
            out.append(f"{tier} alone: " + _headline(cv))
        out.append("ensemble: " + _headline(self.ensemble))
        return out + self.ensemble.lines()


def _headline(cv: CrossValidation) -> str:
    text = (
        f"pooled ROC AUC {cv.pooled['auc']:.3f}, recall {cv.pooled['recall']:.3f} at 1% of "
        "unseen benign"
    )
    for rate, recall in cv.safe_but_alarming_curve:
        if rate == 0.05:
            text += f"; recall {recall:.3f} where 5% of safe-but-alarming prompts are flagged"
    return text


def stack(ds: Dataset, logits: MemberLogits, *, seed: int = 0) -> StackedReport:
    """Fit the shipped stacker and measure it, and each member alone, out of fold."""
    y, weights = ds.labels, ds.weights
    groups = np.array([group_of(ex.source) for ex in ds.examples])
    _, folds = group_folds(groups)
    usable = logits.scored
    oof = np.zeros(len(y))
    mutated: dict[str, list[float]] = {}
    for rows, copies in zip(folds, logits.mutated, strict=True):
        train_rows = usable & ~np.isin(np.arange(len(y)), rows)
        if len(set(y[train_rows])) != 2:
            continue
        w, b = fit_stacker(logits.by_source[train_rows], y[train_rows], weights[train_rows])
        oof[rows] = sigmoid(logits.by_source[rows] @ w + b)
        for name, row in copies:
            mutated.setdefault(name, []).append(float(sigmoid(row @ w + b)))
    random_oof = np.zeros(len(y))
    for part in random_folds(len(y), seed):
        train_rows = usable & ~np.isin(np.arange(len(y)), part)
        w, b = fit_stacker(logits.by_source[train_rows], y[train_rows], weights[train_rows])
        random_oof[part] = sigmoid(logits.random[part] @ w + b)
    shipped = fpr_thresholds(random_oof[y == 0])
    ensemble = report(ds, oof, shipped, mutated, tier="ensemble")
    members = {}
    for j, tier in enumerate(logits.tiers):
        per_mutator: dict[str, list[float]] = {}
        for group in logits.mutated:
            for name, row in group:
                per_mutator.setdefault(name, []).append(float(sigmoid(row[j])))
        members[tier] = report(
            ds,
            sigmoid(logits.by_source[:, j]),
            fpr_thresholds(sigmoid(logits.random[:, j])[y == 0]),
            per_mutator,
            tier=tier,
        )
    w, b = fit_stacker(logits.by_source[usable], y[usable], weights[usable])
    return StackedReport(ensemble, members, w, b)


def train_ensemble(
    ds: Dataset, out_dir: Path, tiers: tuple[str, ...], *, seed: int = 0
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
    measured = stack(ds, member_logits(ds, tiers, seed=seed), seed=seed)
    thresholds = {
        **measured.ensemble.thresholds,
        **{f"unseen_sources_{k}": v for k, v in measured.ensemble.unseen_source_thresholds.items()},
    }
    metrics: dict[str, Any] = {
        "cross_validation": measured.ensemble.summary(),
        "members_alone": {t: cv.summary() for t, cv in measured.members.items()},
    }
    data_card = _data_card(ds, tiers, seed)
    model = Ensemble(
        detector=ds.detector,
        members=tiers,
        weights=tuple(float(w) for w in measured.weights),
        bias=measured.bias,
        member_digests={t: digest(p) for t, p in paths.items()},
        thresholds=thresholds,
        meta={"metrics": metrics, "items": len(ds.examples), "seed": seed},
    )
    path = out_dir / ensemble_filename(ds.detector)
    model.save(path)
    stem = path.name.removesuffix(".json")
    (out_dir / f"{stem}.data-card.json").write_text(json.dumps(data_card, indent=2) + "\n")
    (out_dir / f"{stem}.model-card.md").write_text(_model_card(model, measured, data_card))
    return path, measured


def _data_card(ds: Dataset, tiers: tuple[str, ...], seed: int) -> dict[str, Any]:
    from collections import Counter

    y = ds.labels
    return {
        "detector": ds.detector,
        "tier": "ensemble",
        "members": list(tiers),
        "seed": seed,
        "items": len(y),
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
        "by_source": {
            f"{src} [{'positive' if lab else 'negative'}]": n
            for (src, lab), n in sorted(Counter((e.source, e.label) for e in ds.examples).items())
        },
        "stacker": (
            "logistic regression with non-negative weights over the members' calibrated "
            "logits, fitted on leave-one-source-out logits"
        ),
        "thresholds_from": (
            "random-fold logits of benign items, each scored by members and a stacker fitted "
            "without its fold; unseen_sources_* from leave-one-source-out"
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

score = sigmoid(bias + sum of weight x logit(member score)), bias {model.bias:.4f}:
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
- The stacker learns how much to trust each tier on text like its training data's sources;
  a kind of text none of them saw can still fool every member at once.
"""
