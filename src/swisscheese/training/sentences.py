"""Fitting the sentence reader of ``indirect-injection`` (``learned.sentences``): the weight of a
sentence's relation to its document, the calibration and the thresholds.

Its documents are whole: the carriers the fast head's windows come from, drawn afresh (another
seed), clean, with a note to their human reader, or with one instruction to the assistant
planted in them. The planted instructions are the injection grammar's and, for the attack
this tier exists for, plain requests with no cue at all (FreshQA's questions, everyday
requests). With the development sets, BIPIA's clean contexts are benign documents too. The
weight is the one, of a few, that catches the most planted documents where 1% of the clean
ones are flagged; the thresholds are measured on the clean documents.

The fast head trained on windows of the same kinds of document, so these are not held-out
figures: ``docs/detectors.md`` gives those (a head and a reader fitted without BIPIA, scored
on BIPIA).
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from swisscheese.evaluation.metrics import recall_at_fpr
from swisscheese.learned.ensemble import digest
from swisscheese.learned.model import EMBEDDING, LinearDetector, model_filename
from swisscheese.learned.sentences import Encode, Reading, SentenceReader, read
from swisscheese.training.crossval import fpr_thresholds
from swisscheese.training.devdata import DevData
from swisscheese.training.sources import (
    CARRIERS,
    carrier_documents,
    everyday_requests,
    freshqa_questions,
    injection_grammar,
    insert_at_break,
)

__all__ = [
    "CANDIDATES",
    "WEIGHTS",
    "SentenceDocuments",
    "documents",
    "fit_reader",
    "planted_copies",
    "planted_texts",
]

WEIGHTS = (0.0, 2.5, 5.0, 10.0, 20.0, 40.0)
CANDIDATES = 5
"""Sentences per chunk embedded: on generated carriers 5 lost little to reading every one."""
DOCUMENT_CHARS = 3_000


@dataclass(frozen=True)
class SentenceDocuments:
    texts: list[str]
    labels: list[int]
    sources: list[str]


def planted_texts(rng: random.Random) -> tuple[list[str], list[str]]:
    """What the reader's documents have planted in them: instructions to the assistant (the
    injection grammar's, and plain requests with no cue at all: FreshQA's questions, everyday
    requests), and notes to their human reader."""
    attacks = [
        *injection_grammar(
            rng,
            {
                "indirect": 200,
                "hijack": 200,
                "task_hijack": 100,
                "dev_hijack": 50,
                "code_insert": 50,
            },
        ),
        *rng.sample(freshqa_questions(), 200),
        *everyday_requests(rng, 200),
    ]
    return attacks, injection_grammar(rng, {"reader_notes": 200})


def planted_copies(
    doc: str, attacks: list[str], notes: list[str], rng: random.Random
) -> tuple[str, str, str]:
    """``doc`` as it is, with one of ``notes`` to its reader, and with one of ``attacks``
    planted, each inserted at a break."""
    noted = insert_at_break(doc, rng.choice(notes), rng)
    return doc, noted, insert_at_break(doc, rng.choice(attacks), rng)


def documents(seed: int, dev: DevData | None, *, sample: int | None = None) -> SentenceDocuments:
    """Every carrier document three times (clean, with a note to its reader, with a planted
    instruction), 150 of each carrier, or as many as make about ``sample`` documents; with
    ``dev``, BIPIA's clean contexts too."""
    per_carrier = max(sample // (3 * len(CARRIERS)), 2) if sample else 150
    rng = random.Random(f"{seed}:sentences")
    carriers = carrier_documents(rng, dict.fromkeys(CARRIERS, per_carrier))
    attacks, notes = planted_texts(rng)
    texts: list[str] = []
    labels: list[int] = []
    names: list[str] = []

    def add(text: str, label: int, source: str) -> None:
        texts.append(text[:DOCUMENT_CHARS])
        labels.append(label)
        names.append(source)

    for source, docs in carriers.items():
        for doc in docs:
            clean, noted, planted = planted_copies(doc[:DOCUMENT_CHARS], attacks, notes, rng)
            add(clean, 0, source)
            add(noted, 0, f"{source}+reader-notes")
            add(planted, 1, f"{source}+planted")
    if dev:
        for context in dev.bipia_contexts():
            add(context, 0, "dev:bipia")
    return SentenceDocuments(texts, labels, names)


def fit_reader(
    docs: SentenceDocuments,
    head_path: Path,
    encode: Encode,
    *,
    detector: str,
    seed: int = 0,
    encoder: str = EMBEDDING,
) -> SentenceReader:
    """Read every document once, choose the weight, calibrate, measure the thresholds;
    ``encode`` is the encoder whose features are ``encoder``."""
    from sklearn.linear_model import LogisticRegression

    head = LinearDetector.load(head_path)
    # Documents side by side, one per core: the encoder's passes run without the GIL.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        readings: list[Reading] = list(
            pool.map(lambda text: read(text, head, encode, CANDIDATES), docs.texts)
        )
    y = np.array(docs.labels)
    by_weight: dict[float, dict[str, float]] = {}
    for weight in WEIGHTS:
        e = _evidence(readings, weight)
        by_weight[weight] = {
            "recall_at_1pct": recall_at_fpr(e[y == 1], e[y == 0], 0.01),
            "recall_at_0_1pct": recall_at_fpr(e[y == 1], e[y == 0], 0.001),
        }
    weight = max(WEIGHTS, key=lambda w: (by_weight[w]["recall_at_1pct"], -w))
    e = _evidence(readings, weight)
    platt = LogisticRegression(C=1e4, random_state=seed).fit(e[:, None], y)
    calibration = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    reader = SentenceReader(
        detector=detector,
        weight=weight,
        candidates=CANDIDATES,
        calibration=calibration,
        head_digest=digest(head_path),
        encoder=encoder,
    )
    probabilities = np.array([reader.probability(v) for v in e])
    thresholds = fpr_thresholds(probabilities[y == 0])
    meta: dict[str, Any] = {
        "documents": len(y),
        "planted": int(y.sum()),
        "by_weight": {str(w): v for w, v in by_weight.items()},
        "flagged_at_1pct_by_source": _by_source(docs, probabilities, thresholds["fpr_1pct"]),
        "seed": seed,
        "head": model_filename(detector, "fast"),
    }
    return replace(reader, thresholds=thresholds, meta=meta)


def _evidence(readings: list[Reading], weight: float) -> np.ndarray:
    """Each document's strongest sentence's evidence; a document with no sentence, none."""
    e = np.array([r.strongest(weight)[0] for r in readings])
    return np.where(np.isfinite(e), e, -50.0)


def _by_source(docs: SentenceDocuments, p: np.ndarray, threshold: float) -> dict[str, float]:
    out: dict[str, list[bool]] = {}
    for source, score in zip(docs.sources, p, strict=True):
        out.setdefault(source, []).append(bool(score >= threshold))
    return {s: round(float(np.mean(v)), 4) for s, v in sorted(out.items())}
