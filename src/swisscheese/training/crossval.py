"""Leave-one-source-out cross-validation: every data set scored by a model that never saw it.

For each data set (``group_of`` a source: a package's set, a development file, one family of the
project's hard negatives), a head is fitted on everything else and scores the set's items. Every
item therefore gets an out-of-fold score, and every figure below comes from those:

- the unseen-source thresholds: the scores that flag 1% and 0.1% of the out-of-fold benign items
  of real data sets (the project's generated hard negatives are reported, not pooled);
- per positive set: ROC AUC against those benign items, and recall at that threshold;
- per benign set: the share flagged at the threshold;
- per mutator: recall on mutated copies of held-out attacks (fresh mutations, never trained on),
  the detector alone and through a layer's ``unicode`` and ``obfuscation`` rules (the copy's
  highest score over the normalised text and every decoded view, as a policy scores it);
- for a detector whose rules read a user's message by its likeliest run of sentences too
  (``learned.runs``): the same figures so read (``RunsReading``), with their own thresholds;
- for harmful requests: recall where 5% of safe-but-alarming prompts are flagged, and the curve.
  Each real harmful set is held out together with the safe-but-alarming sets, and one head
  scores both: the threshold and the recall come from the same head. (Until 2026-12-02 the curve
  pooled the leave-one-source-out scores, each set scored by its own head; heads calibrated on
  different random tenths disagree in the top percent, where the threshold sits, and the 5%
  point moved between 0.23 and 0.34 with the calibration split alone.)

Benign items are counted by document: the windows of one document (``Example.document``) are
one benign document scored by its highest window, as the served detector scores it; every other
item is a document of its own. Thresholds and benign flag rates are shares of documents, and
the random folds keep a document's windows together.

Generated data stays in every fold's training unless it is the set held out, so a figure for a
development file or a package's set says how the detector does on a source of that kind it has
not seen, which is the question a user has.

The shipped thresholds come from a second, ordinary cross-validation: five random folds, every
benign item of the real data sets scored by a head that did not train on it (though on others of
its kind). Holding whole sources out answers "how well does it generalise"; it is the wrong
basis for the threshold of a model that did train on every source: without chat data, ordinary
chat scores like an attack, and a threshold set there would flag nothing a deployed model sees.
Both are kept (``thresholds`` and ``unseen_source_thresholds``).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from swisscheese.evaluation.metrics import recall_at_fpr, roc_auc
from swisscheese.evaluation.mutators import MUTATORS
from swisscheese.evaluation.views import layer_views
from swisscheese.learned.model import FAST, LinearDetector
from swisscheese.learned.runs import best_run
from swisscheese.learned.specs import DETECTOR_SPECS
from swisscheese.training.fit import (
    PAIR_DETECTORS,
    Dataset,
    Head,
    _features,
    _fpr_threshold,
    fit_head,
    regularisation,
)
from swisscheese.training.sources import group_of

__all__ = [
    "SAFE_BUT_ALARMING",
    "CrossValidation",
    "GroupResult",
    "MutatedCopy",
    "RunsReading",
    "alone_and_in_layer",
    "cross_validate",
    "document_max",
    "mutated_per_group",
    "per_copy",
    "reads_runs",
    "real_benign",
    "real_benign_documents",
    "runs_scores",
    "texts_of",
]

MUTATED_PER_GROUP = {"fast": 40, "embedding": 20, "probe": 10}
"""Held-out attacks per set copied through each mutator (fewer where features cost a forward
pass of a network)."""
SAFE_BUT_ALARMING = frozenset({"dev:jbb-benign", "swisscheese:contrastive"})
"""Benign sets whose topic is alarming: the harmful-request detector's hard side."""
CURVE_FLAG_RATES = (0.01, 0.02, 0.05, 0.10, 0.20)


@dataclass
class GroupResult:
    group: str
    positives: int
    negatives: int
    auc: float | None = None
    recall: float | None = None
    flagged: float | None = None
    recall_at_shipped: float | None = None
    """At the shipped threshold: what a deployed model would do with a set like this one, had
    it never seen its like."""
    flagged_at_shipped: float | None = None
    own_auc: float | None = None
    """Against the set's own benign items, for a set that has both (as its authors measure)."""
    own_recall_at_1pct: float | None = None


@dataclass
class RunsReading:
    """The figures of a detector whose rules read a user's message by its likeliest run of
    sentences as well as whole (``learned.runs``), measured so: each item's score is the higher
    of the two, from the same out-of-fold heads."""

    thresholds: dict[str, float]
    """For the shipped model, from the random folds: what ``target_fpr`` resolves to for a rule
    reading runs (``runs_*`` in the model's thresholds)."""
    unseen_source_thresholds: dict[str, float]
    recall: float
    """Pooled held-out attack recall at its own unseen-source 1% threshold."""
    recall_at_0_1pct: float
    flagged_at_whole_thresholds: dict[str, float]
    """The share of held-out benign documents flagged at the whole reading's unseen-source
    thresholds: how far a threshold measured whole drifts when the rule reads runs."""
    mutators: dict[str, float] = field(default_factory=dict)
    """Recall on the mutated held-out attacks (``CrossValidation.mutators``' copies) so read,
    at its own unseen-source 1% threshold, the detector alone."""
    mutators_in_layer: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            "read as a rule reads a user's message (whole and by its likeliest run of "
            f"sentences): recall {self.recall:.3f} at its 1%-FPR threshold "
            f"{self.unseen_source_thresholds['fpr_1pct']:.4f}, {self.recall_at_0_1pct:.3f} at "
            f"0.1%; the whole reading's 1% and 0.1% thresholds flag "
            f"{self.flagged_at_whole_thresholds['fpr_1pct']:.2%} and "
            f"{self.flagged_at_whole_thresholds['fpr_0_1pct']:.2%} of held-out benign text"
        ]
        if self.mutators:
            out += _mutator_lines(self.mutators, self.mutators_in_layer, "so read, ")
        return out


def _mutator_lines(
    alone: dict[str, float], in_layer: dict[str, float], read: str = ""
) -> list[str]:
    return [
        f"{read}recall on mutated held-out attacks: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(alone.items())),
        "the same through a layer's unicode and obfuscation rules: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(in_layer.items())),
    ]


@dataclass
class CrossValidation:
    detector: str
    tier: str
    thresholds: dict[str, float]
    """For the shipped model: from five random folds' out-of-fold benign scores."""
    unseen_source_thresholds: dict[str, float]
    """From held-out sources' out-of-fold benign scores (real data sets only)."""
    groups: list[GroupResult]
    mutators: dict[str, float]
    """Recall at the unseen-source 1% threshold on mutated held-out attacks, the detector alone."""
    pooled: dict[str, float]
    mutators_in_layer: dict[str, float] = field(default_factory=dict)
    """The same copies through a layer's normaliser and decoder (their highest view)."""
    safe_but_alarming_curve: list[tuple[float, float]] = field(default_factory=list)
    runs: RunsReading | None = None

    def lines(self) -> list[str]:
        out = [
            f"pooled over held-out sources: ROC AUC {self.pooled['auc']:.3f}, recall "
            f"{self.pooled['recall']:.3f} at their 1%-FPR threshold "
            f"{self.unseen_source_thresholds['fpr_1pct']:.4f} (shipped threshold, from random "
            f"folds: {self.thresholds['fpr_1pct']:.4f})"
        ]
        for g in sorted(self.groups, key=lambda g: g.group):
            parts = [f"{g.group}:"]
            if g.positives:
                parts.append(
                    f"{g.positives} attacks, AUC {g.auc:.3f}, recall {g.recall:.3f} at 1% FPR "
                    f"({g.recall_at_shipped:.3f} at the shipped threshold)"
                )
            if g.negatives:
                parts.append(
                    f"{g.negatives} benign, flagged {g.flagged:.3f} "
                    f"({g.flagged_at_shipped:.3f} at the shipped threshold)"
                )
            if g.own_auc is not None:
                parts.append(
                    f"(against its own benign: AUC {g.own_auc:.3f}, recall "
                    f"{g.own_recall_at_1pct:.3f} at 1% FPR)"
                )
            out.append(" ".join(parts))
        if self.mutators:
            out += _mutator_lines(self.mutators, self.mutators_in_layer)
        if self.runs is not None:
            out += self.runs.lines()
        for flag_rate, recall in self.safe_but_alarming_curve:
            out.append(
                f"recall {recall:.3f} where {flag_rate:.0%} of safe-but-alarming prompts "
                "are flagged"
            )
        return out

    def model_thresholds(self) -> dict[str, float]:
        """The thresholds a model ships with: the random folds', and the held-out sources' as
        ``unseen_sources_*``."""
        return {
            **self.thresholds,
            **{f"unseen_sources_{k}": v for k, v in self.unseen_source_thresholds.items()},
            **({f"runs_{k}": v for k, v in self.runs.thresholds.items()} if self.runs else {}),
        }

    def summary(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds,
            "unseen_source_thresholds": self.unseen_source_thresholds,
            "pooled": self.pooled,
            "groups": {
                g.group: {
                    k: (round(v, 4) if isinstance(v, float) else v)
                    for k, v in vars(g).items()
                    if k != "group" and v is not None
                }
                for g in self.groups
            },
            "mutators": {k: round(v, 4) for k, v in self.mutators.items()},
            "mutators_in_layer": {k: round(v, 4) for k, v in self.mutators_in_layer.items()},
            "safe_but_alarming_curve": self.safe_but_alarming_curve,
            **({"runs": vars(self.runs)} if self.runs else {}),
            "lines": self.lines(),
        }


def random_folds(documents: np.ndarray, seed: int, folds: int = 5) -> list[np.ndarray]:
    """Five random folds of whole documents (seeded): the split behind the shipped thresholds.
    The windows of one document overlap, so a document split across folds would score its
    windows with a head that read half of each."""
    # Documents numbered in order of appearance: with one item each, the folds are the items'.
    number = {d: k for k, d in enumerate(dict.fromkeys(documents.tolist()))}
    numbered = np.array([number[d] for d in documents.tolist()])
    shuffled = np.random.default_rng(seed + 1).permutation(len(number))
    return [np.flatnonzero(np.isin(numbered, part)) for part in np.array_split(shuffled, folds)]


def document_max(scores: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Each document's highest score: what a windowed detector reports for the document."""
    _, which = np.unique(documents, return_inverse=True)
    out = np.full(int(which.max()) + 1 if len(which) else 0, -np.inf)
    np.maximum.at(out, which, scores)
    return out


def out_of_fold(
    x: Any,
    y: np.ndarray,
    weights: np.ndarray,
    folds: list[np.ndarray],
    *,
    c: float,
    seed: int,
    rng: np.random.Generator | None = None,
    trains: np.ndarray | None = None,
) -> tuple[np.ndarray, list[Head | None]]:
    """Calibrated logits of every item in a fold, from a head fitted on the other folds (90%
    fit, 10% Platt); a fold whose complement lacks a class keeps 0 and gets no head.
    ``trains``: which items a head may fit on (default all); every item is scored."""
    logits = np.zeros(len(y))
    heads: list[Head | None] = []
    for part in folds:
        rest = _trainable(np.setdiff1d(np.arange(len(y)), part), trains)
        if len(set(y[rest])) != 2:
            heads.append(None)
            continue
        head = _fit_on(x, y, weights, rest, c=c, seed=seed, rng=rng)
        logits[part] = head.logit(x[part])
        heads.append(head)
    return logits, heads


def _trainable(rows: np.ndarray, trains: np.ndarray | None) -> np.ndarray:
    return rows if trains is None else rows[trains[rows]]


def _fit_on(
    x: Any,
    y: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    *,
    c: float,
    seed: int,
    rng: np.random.Generator | None,
) -> Head:
    """A head fitted on 90% of ``rows`` (shuffled by ``rng`` when given), Platt-scaled on the
    rest."""
    order = rng.permutation(rows) if rng is not None else rows
    cut = int(len(order) * 0.9)
    return fit_head(
        x, y, weights, fit_rows=order[:cut], calibration_rows=order[cut:], c=c, seed=seed
    )


def group_folds(groups: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    names = sorted(set(groups.tolist()))
    return names, [np.flatnonzero(groups == g) for g in names]


def real_benign(ds: Dataset) -> np.ndarray:
    """Which items are benign items of real data sets: what every threshold is set on. The
    project's generated benign text is left out: how much of it there is was chosen, not
    observed, and thousands of easy generated requests would pull a 0.1% threshold down onto
    real benign text."""
    groups = np.array([group_of(ex.source) for ex in ds.examples]).astype(str)
    mask: np.ndarray = (ds.labels == 0) & ~np.char.startswith(groups, "swisscheese")
    return mask


def real_benign_documents(scores: np.ndarray, ds: Dataset) -> np.ndarray:
    """Each real benign document's highest score (``real_benign``, ``document_max``): what the
    thresholds are set on."""
    real = real_benign(ds)
    return document_max(scores[real], ds.documents[real])


def fpr_thresholds(benign: np.ndarray) -> dict[str, float]:
    """The scores that flag 1% and 0.1% of ``benign`` (documents' scores: ``document_max``)."""
    return {"fpr_1pct": _fpr_threshold(benign, 0.01), "fpr_0_1pct": _fpr_threshold(benign, 0.001)}


def sigmoid(logits: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
    return out


@dataclass(frozen=True)
class MutatedCopy:
    """A fresh mutated copy of a held-out attack and what a policy's detectors read of it."""

    mutator: str
    text: str
    """The copy as sent: what the detector alone scores."""
    views: tuple[str, ...]
    """What a layer with the default ``unicode`` and ``obfuscation`` rules hands its other
    rules (``evaluation.views.layer_views``)."""

    @classmethod
    def of(cls, mutator: str, text: str) -> MutatedCopy:
        return cls(mutator, text, layer_views(text))

    @cached_property
    def texts(self) -> tuple[str, ...]:
        """Every text to score, the copy first, each once."""
        return tuple(dict.fromkeys((self.text, *self.views)))


def texts_of(copies: list[MutatedCopy]) -> list[str]:
    """Every text of every copy, in order: scored in one call, then split by ``per_copy``."""
    return [t for copy in copies for t in copy.texts]


def per_copy(copies: list[MutatedCopy], scores: np.ndarray) -> list[np.ndarray]:
    """Scores of ``texts_of(copies)`` split back per copy (in ``MutatedCopy.texts`` order)."""
    bounds = np.cumsum([0, *(len(copy.texts) for copy in copies)])
    return [scores[a:b] for a, b in itertools.pairwise(bounds)]


def alone_and_in_layer(copy: MutatedCopy, scores: np.ndarray) -> tuple[float, float]:
    """A copy's score alone and through the layer, from its texts' scores."""
    by_text = dict(zip(copy.texts, scores.tolist(), strict=True))
    return by_text[copy.text], max(by_text[v] for v in copy.views)


def mutated_copies(
    ds: Dataset, rows: np.ndarray, rng: random.Random, per_group: int
) -> list[MutatedCopy]:
    """Fresh mutated copies of up to ``per_group`` of a held-out set's original attacks."""
    y = ds.labels
    originals = [
        ds.examples[i].text
        for i in rows
        if y[i] == 1 and not ds.examples[i].source.endswith("+mutated")
    ]
    return [
        MutatedCopy.of(name, MUTATORS[name].apply(text, rng).text)
        for text in rng.sample(originals, min(per_group, len(originals)))
        for name in MUTATORS
    ]


@dataclass(frozen=True)
class AlarmingFold:
    """One real harmful data set and the safe-but-alarming sets, held out whole together (the
    contrastive set's harmful twins too), and the rows one head scores: the set's harmful
    requests and the safe-but-alarming prompts."""

    held_out: np.ndarray
    harmful: np.ndarray
    alarming: np.ndarray


def alarming_folds(ds: Dataset) -> list[AlarmingFold]:
    """The harmful-request curve's folds: one per real (not generated) harmful data set."""
    if ds.detector != "harmful-request":
        return []
    y = ds.labels
    groups = np.array([group_of(ex.source) for ex in ds.examples]).astype(str)
    alarming_sets = np.isin(groups, list(SAFE_BUT_ALARMING))
    alarming = np.flatnonzero(alarming_sets & (y == 0))
    real = sorted({g for g in groups[y == 1].tolist() if not g.startswith("swisscheese")})
    if not len(alarming):
        return []
    return [
        AlarmingFold(
            np.flatnonzero(alarming_sets | (groups == g)),
            np.flatnonzero((groups == g) & (y == 1)),
            alarming,
        )
        for g in real
    ]


def alarming_logits(
    x: Any,
    y: np.ndarray,
    weights: np.ndarray,
    folds: list[AlarmingFold],
    *,
    c: float,
    seed: int,
    trains: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per fold, (harmful logits, safe-but-alarming logits) from a head fitted on the rest (of
    the items in ``trains``, when given)."""
    rng = np.random.default_rng(seed)
    out = []
    for fold in folds:
        rest = _trainable(np.setdiff1d(np.arange(len(y)), fold.held_out), trains)
        head = _fit_on(x, y, weights, rest, c=c, seed=seed, rng=rng)
        out.append((head.logit(x[fold.harmful]), head.logit(x[fold.alarming])))
    return out


def alarming_curve(scored: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[float, float]]:
    """Recall over every fold's harmful items where each fold's head flags a share of the
    safe-but-alarming prompts (pooled by item, so a large set weighs more)."""
    total = sum(len(harmful) for harmful, _ in scored)
    if not total:
        return []
    curve = []
    for rate in CURVE_FLAG_RATES:
        caught = sum(
            int(np.sum(harmful > _kth_highest(alarming, rate))) for harmful, alarming in scored
        )
        curve.append((rate, caught / total))
    return curve


def _kth_highest(logits: np.ndarray, rate: float) -> float:
    """The highest logit a head may give and flag at most ``rate`` of ``logits``."""
    ordered = np.sort(logits)[::-1]
    return float(ordered[min(int(np.floor(rate * len(ordered))), len(ordered) - 1)])


def mutated_per_group(tiers: tuple[str, ...], asked: int | None = None) -> int:
    """Held-out attacks per set to copy through each mutator: ``asked``, else the default of
    the slowest of ``tiers``."""
    if asked is not None:
        if asked < 0:
            raise ValueError(f"mutated copies per held-out set must be 0 or more, not {asked}")
        return asked
    return min(MUTATED_PER_GROUP.get(t, 10) for t in tiers)


def cross_validate(
    ds: Dataset, *, seed: int = 0, c: float | None = None, mutated_attacks: int | None = None
) -> CrossValidation:
    """Leave-one-source-out cross-validation of ``ds`` (see the module docstring);
    ``mutated_attacks`` held-out attacks per set are copied through each mutator (default
    ``MUTATED_PER_GROUP``)."""
    per_group = mutated_per_group((ds.tier,), mutated_attacks)
    c = c if c is not None else regularisation(ds.detector, ds.tier)
    x = ds.matrix()
    y = ds.labels
    weights = ds.weights
    groups = np.array([group_of(ex.source) for ex in ds.examples])
    _, folds = group_folds(groups)
    oof, heads = out_of_fold(x, y, weights, folds, c=c, seed=seed, rng=np.random.default_rng(seed))
    runs = reads_runs(ds)
    mutated: dict[str, list[tuple[float, float]]] = {}
    mutated_runs: dict[str, list[tuple[float, float]]] = {}
    rng = random.Random(seed)
    for rows, head in zip(folds, heads, strict=True):
        if head is None or ds.detector in PAIR_DETECTORS:
            continue  # mutators disguise requests, not request/response pairs
        copies = mutated_copies(ds, rows, rng, per_group)
        if not copies:
            continue
        texts = texts_of(copies)
        scored = head.score(_features(texts, ds.features))
        for copy, scores in zip(copies, per_copy(copies, scored), strict=True):
            mutated.setdefault(copy.mutator, []).append(alone_and_in_layer(copy, scores))
        if runs:
            with_runs = _with_runs(head.detector(ds.detector), texts, scored)
            for copy, scores in zip(copies, per_copy(copies, with_runs), strict=True):
                mutated_runs.setdefault(copy.mutator, []).append(alone_and_in_layer(copy, scores))
    shuffled = random_folds(ds.documents, seed)
    random_oof, random_heads = out_of_fold(x, y, weights, shuffled, c=c, seed=seed)
    shipped = fpr_thresholds(real_benign_documents(sigmoid(random_oof), ds))
    cv = report(ds, sigmoid(oof), shipped, mutated)
    if runs:
        cv.runs = runs_reading(
            ds,
            cv,
            runs_scores(ds, folds, heads, sigmoid(oof)),
            runs_scores(ds, shuffled, random_heads, sigmoid(random_oof)),
            mutated_runs,
        )
    cv.safe_but_alarming_curve = alarming_curve(
        alarming_logits(x, y, weights, alarming_folds(ds), c=c, seed=seed)
    )
    return cv


def reads_runs(ds: Dataset) -> bool:
    """Whether rules of this detector read a user's message by runs of sentences by default
    (a fast head of text, not of documents' windows): its figures are then measured so too."""
    spec = DETECTOR_SPECS.get(ds.detector)
    return spec is not None and spec.sentence_runs and ds.features == FAST and not spec.window


def runs_scores(
    ds: Dataset, folds: list[np.ndarray], heads: list[Head | None], whole: np.ndarray
) -> np.ndarray:
    """Each attack's and real benign item's score as a rule reading runs gives it: the higher
    of ``whole`` (its out-of-fold score) and its likeliest run's as ``learned.runs`` counts
    it, by its fold's head. Other items keep ``whole``."""
    out = whole.copy()
    wanted = (ds.labels == 1) | real_benign(ds)
    for rows, head in zip(folds, heads, strict=True):
        if head is None:
            continue
        read = rows[wanted[rows]]
        texts = [ds.examples[i].text for i in read]
        out[read] = _with_runs(head.detector(ds.detector), texts, whole[read])
    return out


def _with_runs(model: LinearDetector, texts: list[str], whole: np.ndarray) -> np.ndarray:
    """Each text's score as a rule reading runs gives it: the higher of ``whole`` and its
    likeliest run's as the detector's rules count it."""
    discount = DETECTOR_SPECS[model.name].run_discount
    out = whole.copy()
    for i, text in enumerate(texts):
        run = best_run(model, text, discount=discount)
        if run is not None:
            out[i] = max(out[i], run.score)
    return out


def runs_reading(
    ds: Dataset,
    cv: CrossValidation,
    held_out: np.ndarray,
    shuffled: np.ndarray,
    mutated: dict[str, list[tuple[float, float]]],
) -> RunsReading:
    """The figures of the run reading from its held-out-source scores and its random folds',
    and ``mutated`` copies' scores so read (alone, through the layer)."""
    benign = real_benign_documents(held_out, ds)
    unseen = fpr_thresholds(benign)
    positives = held_out[ds.labels == 1]
    alone, in_layer = _mutator_recall(mutated, unseen["fpr_1pct"])
    return RunsReading(
        thresholds=fpr_thresholds(real_benign_documents(shuffled, ds)),
        unseen_source_thresholds=unseen,
        recall=float(np.mean(positives >= unseen["fpr_1pct"])),
        recall_at_0_1pct=float(np.mean(positives >= unseen["fpr_0_1pct"])),
        flagged_at_whole_thresholds={
            k: float(np.mean(benign >= v)) for k, v in cv.unseen_source_thresholds.items()
        },
        mutators=alone,
        mutators_in_layer=in_layer,
    )


def _mutator_recall(
    mutated: dict[str, list[tuple[float, float]]], threshold: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Recall per mutator at ``threshold``: alone, and through the layer."""
    return (
        {name: float(np.mean(np.array(s)[:, 0] >= threshold)) for name, s in mutated.items()},
        {name: float(np.mean(np.array(s)[:, 1] >= threshold)) for name, s in mutated.items()},
    )


def report(
    ds: Dataset,
    oof: np.ndarray,
    shipped: dict[str, float],
    mutated: dict[str, list[tuple[float, float]]],
    *,
    tier: str | None = None,
) -> CrossValidation:
    """The figures from out-of-fold scores: ``oof`` from leave-one-source-out heads,
    ``shipped`` thresholds from random folds, ``mutated`` scores (alone, through the layer) of
    held-out attacks' copies."""
    y = ds.labels
    groups = np.array([group_of(ex.source) for ex in ds.examples])
    docs = ds.documents
    # The thresholds and the pooled figures come from real benign data sets (each scored out of
    # fold); the project's own hard negatives are adversarial by design, a slice no deployment
    # sees in that proportion, and are reported set by set instead. Benign items are counted
    # by document (a windowed detector flags a document by its highest window).
    benign = real_benign_documents(oof, ds)
    unseen = fpr_thresholds(benign)
    threshold = unseen["fpr_1pct"]
    results = []
    for group in sorted(set(groups)):
        rows = groups == group
        clean = rows & (y == 0)
        pos, neg = oof[rows & (y == 1)], document_max(oof[clean], docs[clean])
        result = GroupResult(str(group), len(pos), len(neg))
        if len(pos):
            result.auc = roc_auc(pos, benign)
            result.recall = float(np.mean(pos >= threshold))
            result.recall_at_shipped = float(np.mean(pos >= shipped["fpr_1pct"]))
        if len(neg):
            result.flagged = float(np.mean(neg >= threshold))
            result.flagged_at_shipped = float(np.mean(neg >= shipped["fpr_1pct"]))
        if len(pos) and len(neg):
            result.own_auc = roc_auc(pos, neg)
            result.own_recall_at_1pct = recall_at_fpr(pos, neg, 0.01)
        results.append(result)
    positives = oof[y == 1]
    alone, in_layer = _mutator_recall(mutated, threshold)
    return CrossValidation(
        ds.detector,
        tier or ds.tier,
        shipped,
        unseen,
        results,
        alone,
        {"auc": roc_auc(positives, benign), "recall": float(np.mean(positives >= threshold))},
        in_layer,
    )
