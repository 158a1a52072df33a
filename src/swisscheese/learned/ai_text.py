"""Zero-shot detection of machine-written text from the local model's token probabilities.

The criterion is Fast-DetectGPT's analytic sampling discrepancy (Bao et al., ICLR 2024), with
the embedded model as both the sampling and the scoring model. For a text x_1..x_n and the
model's next-token distributions p_t:

    D(x) = (sum_t log p_t(x_t) - sum_t E_{y~p_t}[log p_t(y)]) / sqrt(sum_t Var_{y~p_t}[log p_t(y)])

A model picks likelier tokens than a person does, so its texts sit several standard deviations
above what sampling from the model would give; human text sits near zero. We chose it over
DetectGPT (hundreds of perturbation passes a text, each a mask-filling model we do not ship),
Binoculars (two models sharing a tokenizer; we ship one) and trained classifiers (which learn
one generator's style and need labelled data from every model they should catch): one forward
pass, no training, and it reads any generator's text.

It is weak evidence, reported as such (the README's "AI-written text" has the ROC): short
texts, other and larger models than the scorer, paraphrased text and low-entropy human text
(lists, code, legal boilerplate) all move it. ``probability`` maps D through normal densities
fitted per length on a calibration split (``CALIBRATION``); it is not a verdict about any
single text.

Needs the ``[local]`` extra (torch, transformers).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned.causal_lm import CausalLM, load_causal_lm, pad_token_id

__all__ = [
    "CALIBRATION",
    "MAX_TOKENS",
    "MIN_TOKENS",
    "AITextDetector",
    "AITextScore",
    "Calibration",
    "LengthFit",
    "discrepancy",
    "sampling_discrepancy",
]

MAX_TOKENS = 512
"""Longer texts are scored on their first MAX_TOKENS tokens: the cost stays bounded."""
MIN_TOKENS = 24
"""Below this many scored tokens no probability is given: the criterion's spread is too wide."""


@dataclass(frozen=True, slots=True)
class LengthFit:
    """Normal densities of the criterion on human and on machine text of ``tokens`` tokens."""

    tokens: int
    human_mean: float
    human_std: float
    machine_mean: float
    machine_std: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """P(machine) from the fit for the text's length: the criterion grows with the square root
    of the length, so one fit cannot serve every length."""

    fits: tuple[LengthFit, ...]
    """Ascending by ``tokens``; a text uses the longest fit not longer than itself."""
    source: str

    def fit_for(self, tokens: int) -> LengthFit:
        chosen = self.fits[0]
        for fit in self.fits:
            if fit.tokens <= tokens:
                chosen = fit
        return chosen

    def probability(self, criterion: float, tokens: int) -> float:
        """Equal priors and one pooled variance: a logistic in the criterion, so a higher
        criterion never means a lower probability (with two variances, very surprising human
        text would come out machine-like on the wider density's tail)."""
        fit = self.fit_for(tokens)
        var = (fit.human_std**2 + fit.machine_std**2) / 2
        gap = fit.machine_mean - fit.human_mean
        logit = gap * (criterion - (fit.human_mean + fit.machine_mean) / 2) / var
        return 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, logit))))


CALIBRATION = Calibration(
    fits=(
        LengthFit(32, human_mean=-2.504, human_std=1.198, machine_mean=-0.800, machine_std=1.595),
        LengthFit(64, human_mean=-2.452, human_std=1.223, machine_mean=0.298, machine_std=1.584),
        LengthFit(128, human_mean=-2.507, human_std=1.173, machine_mean=1.778, machine_std=1.656),
        LengthFit(200, human_mean=-2.622, human_std=1.225, machine_mean=2.897, machine_std=1.547),
    ),
    source=(
        "bench/ai_text.py --calibrate, 2026-12-01: the calibration halves of 3 human sources "
        "(chitchat, BIPIA e-mails, in-the-wild prompts) and of 96 SmolLM2 answers at "
        "temperature 0.7; the other halves give the published figures"
    ),
)


@dataclass(frozen=True, slots=True)
class AITextScore:
    criterion: float
    """The sampling discrepancy D: about 0 for text like the model's own samples' spread,
    higher for text likelier than that (machine), lower for surprising text."""
    tokens: int
    """Tokens scored (the first token has no context and is not scored)."""
    log_likelihood: float
    """Mean log-probability of the text's tokens, nats."""
    entropy: float
    """Mean entropy of the model's next-token distributions, nats."""
    probability: float | None
    """P(machine-written) under the calibration; None below MIN_TOKENS scored tokens."""


def discrepancy(
    observed: NDArray[np.floating], mean: NDArray[np.floating], var: NDArray[np.floating]
) -> float:
    """D from each position's observed log-probability and the mean and variance of the
    log-probability of a token sampled from the model there."""
    spread = math.sqrt(float(np.sum(var, dtype=np.float64)))
    total = float(np.sum(observed, dtype=np.float64) - np.sum(mean, dtype=np.float64))
    return total / max(spread, 1e-12)


def sampling_discrepancy(log_probs: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """D for one text from the model's log-softmax outputs (positions x vocabulary) and the
    tokens that followed: the reference the batched torch path in ``AITextDetector`` matches."""
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2 or lp.shape[0] != len(labels) or lp.shape[0] == 0:
        raise ValueError("log_probs must be (positions, vocabulary) with one label a position")
    p = np.exp(lp)
    mean = (p * lp).sum(-1)
    var = np.maximum((p * lp * lp).sum(-1) - mean**2, 0.0)
    return discrepancy(lp[np.arange(len(labels)), np.asarray(labels)], mean, var)


class AITextDetector:
    """The criterion over the local model; thread-safe; one per process (``shared()``)."""

    _shared: AITextDetector | None = None
    _lock = threading.Lock()

    def __init__(
        self,
        model: CausalLM | None = None,
        *,
        calibration: Calibration = CALIBRATION,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self._lm = model or load_causal_lm()
        self.calibration = calibration
        self.max_tokens = max_tokens
        self.model_name = self._lm.path.name
        self._pad = pad_token_id(self._lm.tokenizer)

    @classmethod
    def shared(cls, path: Path | None = None) -> AITextDetector:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls(load_causal_lm(path))
            return cls._shared

    def tokens(self, text: str) -> list[int]:
        ids = self._lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [int(i) for i in ids][: self.max_tokens]

    def score(self, text: str) -> AITextScore:
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str], *, batch: int = 8) -> list[AITextScore]:
        """Scores in the order given; texts of like length share a forward pass."""
        encoded = [self.tokens(t) for t in texts]
        out: list[AITextScore | None] = [None] * len(texts)
        for i, ids in enumerate(encoded):
            if len(ids) < 2:
                out[i] = AITextScore(0.0, 0, 0.0, 0.0, None)
        order = sorted(
            (i for i in range(len(texts)) if out[i] is None), key=lambda i: len(encoded[i])
        )
        torch = self._lm.torch
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                picked = order[start : start + batch]
                width = max(len(encoded[i]) for i in picked)
                ids = torch.full((len(picked), width), self._pad, dtype=torch.long)
                mask = torch.zeros((len(picked), width), dtype=torch.long)
                for row, i in enumerate(picked):
                    ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                    mask[row, : len(encoded[i])] = 1
                logits = self._lm.model(input_ids=ids, attention_mask=mask).logits[:, :-1]
                lp = torch.log_softmax(logits.float(), dim=-1)
                observed = lp.gather(-1, ids[:, 1:, None]).squeeze(-1)
                p = lp.exp()
                mean = (p * lp).sum(-1)
                var = ((p * lp.square()).sum(-1) - mean.square()).clamp(min=0)
                for row, i in enumerate(picked):
                    n = len(encoded[i]) - 1
                    out[i] = self._score(
                        observed[row, :n].numpy(), mean[row, :n].numpy(), var[row, :n].numpy()
                    )
        return [s for s in out if s is not None]

    def _score(
        self,
        observed: NDArray[np.floating],
        mean: NDArray[np.floating],
        var: NDArray[np.floating],
    ) -> AITextScore:
        criterion = discrepancy(observed, mean, var)
        n = len(observed)
        probability = self.calibration.probability(criterion, n) if n >= MIN_TOKENS else None
        return AITextScore(
            criterion, n, float(np.mean(observed)), float(-np.mean(mean)), probability
        )
