"""A machine too busy for the embedding tier: its forward pass answers only after a delay.

The real encoder still runs; only its answer comes late, so a member timeout is exceeded for
certain rather than whenever the scheduler happens to be slow."""

from __future__ import annotations

import time

import pytest

from swisscheese.learned.model import Prediction
from swisscheese.monitors.learned import EmbeddingMonitor


def make_embedding_late(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    score = EmbeddingMonitor.score

    def late(self: EmbeddingMonitor, text: str, *, from_user: bool = False) -> list[Prediction]:
        time.sleep(seconds)
        return score(self, text, from_user=from_user)

    monkeypatch.setattr(EmbeddingMonitor, "score", late)
