"""Scoring many texts with either tier, the way the monitors score one: long text in windows,
the highest window wins. The embedding tier batches texts through the encoder."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from itertools import pairwise

from swisscheese.learned.ensemble import Ensemble
from swisscheese.learned.features import pair_text
from swisscheese.learned.language import Languages, read_languages
from swisscheese.learned.model import FAST_PAIRS, TIER_OF, LinearDetector, Prediction

__all__ = [
    "STRIDE",
    "WINDOW",
    "best",
    "combine",
    "document_windows",
    "languages_for",
    "pair_text",
    "predict_ensemble",
    "predict_many",
    "predict_text",
    "windows",
]

WINDOW = 3_000
STRIDE = 2_000


def windows(text: str, size: int = WINDOW, stride: int = STRIDE) -> list[str]:
    """Long text in overlapping windows, so an instruction buried mid-document is read whole."""
    if len(text) <= size + stride:
        return [text]
    return [text[i : i + size] for i in range(0, len(text) - size + stride, stride)]


# Where a paragraph starts: after a blank line (whitespace on it allowed).
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*(?=\S)")


def document_windows(text: str, size: int) -> list[str]:
    """A document in half-overlapping ``size``-character windows, and one more from each
    paragraph's start: text planted in a document is usually a paragraph of its own, and a
    window cut mid-sentence reads it with the last lines of the paragraph before (an order's
    score moved 0.99 -> 0.89 with "always ready to help" before it)."""
    stride = size // 2
    cut = windows(text, size, stride)
    if len(cut) == 1:
        return cut
    starts = [m.end() for m in _PARAGRAPH.finditer(text)]
    extra: list[str] = []
    last = -size
    for start, after in pairwise([*starts, len(text)]):
        # A paragraph of a few characters (a marker, a short heading) is read in the next
        # one's window; a paragraph within a quarter window of the last one read, in that
        # one's. At most two windows more per window of the grid, however short the lines.
        if (
            start % stride
            and after - start >= size // 10
            and start - last >= size // 4
            and len(text) - start > size // 4
        ):
            extra.append(text[start : start + size])
            last = start
    return cut + extra


def best(predictions: list[Prediction]) -> Prediction:
    return max(predictions, key=lambda p: p.score)


def predict_text(model: LinearDetector, text: str) -> Prediction:
    """Fast tier: the best window (a request/response pair is read whole, each side clipped); a
    model trained on short windows reads them half-overlapping and from each paragraph's start
    (``document_windows``)."""
    if model.features == FAST_PAIRS:
        parts = [text]
    elif model.window:
        parts = document_windows(text, model.window)
    else:
        parts = windows(text)
    return best([model.predict(w) for w in parts])


def predict_many(model: LinearDetector, texts: list[str]) -> list[Prediction]:
    tier = TIER_OF[model.features]
    if tier == "fast":
        return [predict_text(model, t) for t in texts]
    if tier == "probe":
        from swisscheese.learned.activations import ActivationReader

        return model.predict_vectors(ActivationReader.shared().read(texts))
    from swisscheese.learned.encoders import encoder_for

    vectors, owner = encoder_for(model.features).encode_windows(texts, workers=os.cpu_count() or 1)
    per_text: list[list[Prediction]] = [[] for _ in texts]
    for prediction, i in zip(model.predict_vectors(vectors), owner, strict=True):
        per_text[int(i)].append(prediction)
    return [best(p) for p in per_text]


def combine(
    ensemble: Ensemble,
    members: Mapping[str, LinearDetector],
    predictions: Mapping[str, Prediction],
    *,
    english: bool = True,
    on_english_part: Mapping[str, Prediction] | None = None,
) -> Prediction:
    """The stacked score of one text from its members' predictions (``english`` and
    ``on_english_part`` as ``Ensemble.score`` takes them); the category from the members that
    can tell categories apart, the surest first."""
    score = ensemble.score(
        {tier: p.score for tier, p in predictions.items()},
        english=english,
        on_english_part={t: p.score for t, p in (on_english_part or {}).items()} or None,
    )
    categorised = [p for t, p in predictions.items() if len(members[t].categories) > 1]
    return Prediction(score, best(categorised or list(predictions.values())).category)


def predict_ensemble(
    ensemble: Ensemble, members: Mapping[str, LinearDetector], texts: list[str]
) -> list[Prediction]:
    per_tier = {tier: predict_many(model, texts) for tier, model in members.items()}
    languages = [languages_for(ensemble, text) for text in texts]
    # The members that read English only, again on the English sentences of the other texts.
    parts = {i: lang.english_part for i, lang in enumerate(languages) if not lang.english}
    parts = {i: part for i, part in parts.items() if part}
    on_parts = {
        tier: dict(zip(parts, predict_many(members[tier], list(parts.values())), strict=True))
        for tier in ensemble.blind_members()
    }
    return [
        combine(
            ensemble,
            members,
            {tier: p[i] for tier, p in per_tier.items()},
            english=languages[i].english,
            on_english_part={t: p[i] for t, p in on_parts.items()} if i in parts else None,
        )
        for i in range(len(texts))
    ]


_ENGLISH = Languages(0.0, "")


def languages_for(ensemble: Ensemble, text: str) -> Languages:
    """How ``ensemble`` should read ``text``'s languages: as English, unread, unless some
    member reads other languages."""
    return read_languages(text) if ensemble.other_languages else _ENGLISH
