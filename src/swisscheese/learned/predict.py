"""Scoring many texts with either tier, the way the monitors score one: long text in windows,
the highest window wins. The embedding tier batches texts through the encoder."""

from __future__ import annotations

from swisscheese.learned.model import FAST, LinearDetector, Prediction

__all__ = ["RESPONSE_MARK", "STRIDE", "WINDOW", "best", "pair_text", "predict_many", "windows"]

WINDOW = 3_000
STRIDE = 2_000


def windows(text: str) -> list[str]:
    """Long text in overlapping windows, so an instruction buried mid-document is read whole."""
    if len(text) <= WINDOW + STRIDE:
        return [text]
    return [text[i : i + WINDOW] for i in range(0, len(text) - WINDOW + STRIDE, STRIDE)]


def best(predictions: list[Prediction]) -> Prediction:
    return max(predictions, key=lambda p: p.score)


def predict_many(model: LinearDetector, texts: list[str]) -> list[Prediction]:
    if model.features == FAST:
        return [best([model.predict(w) for w in windows(t)]) for t in texts]
    from swisscheese.learned.embedding import Encoder

    vectors, owner = Encoder.shared().encode_windows(texts)
    per_text: list[list[Prediction]] = [[] for _ in texts]
    for prediction, i in zip(model.predict_vectors(vectors), owner, strict=True):
        per_text[int(i)].append(prediction)
    return [best(p) for p in per_text]


RESPONSE_MARK = "\n\n[response]\n"


def pair_text(request: str, response: str) -> str:
    """What ``harmful-output`` reads: the request, then the response (the response alone when
    the request is unknown). Training and serving build it the same way."""
    return f"{request.strip()}{RESPONSE_MARK}{response.strip()}" if request.strip() else response
