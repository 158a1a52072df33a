"""Tier 1: the project's own learned detectors, served from weights in the package.

Up to four tiers per detector: ``fast`` (hashed n-grams, numpy, runs inline), ``embedding``
(all-MiniLM-L6-v2 in ONNX Runtime plus a head trained here; the ``[ml]`` extra; runs in a worker
thread), ``probe`` (a linear probe on the local model's hidden state; the ``[local]`` extra) and
``ensemble`` (one calibrated stacker over two or more of the others, run concurrently); and for
a detector that reads documents, ``sentences`` (the fast head on each sentence, and the encoder
on how the likeliest instructions relate to the rest of the document; ``[ml]``). Each
monitor loads its model once, at policy compile time; a missing or unreadable model file, or a
missing extra, is a start-up error, never a mid-request one. Scores are calibrated
probabilities; ``threshold: {target_fpr: 0.01}`` in a rule picks the score measured to flag 1% of
held-out benign traffic.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import Field

from swisscheese.core import Content, Context, Finding, Monitor, Span, Stage
from swisscheese.learned.activations import ActivationReader
from swisscheese.learned.causal_lm import LocalModelError
from swisscheese.learned.embedding import EmbeddingError
from swisscheese.learned.encoders import encoder_for
from swisscheese.learned.ensemble import Ensemble, on_scale_of
from swisscheese.learned.language import Languages
from swisscheese.learned.model import (
    ENSEMBLE_MEMBERS,
    FAST,
    TIER_OF,
    LinearDetector,
    Prediction,
    model_filename,
)
from swisscheese.learned.predict import (
    best,
    combine,
    languages_for,
    pair_text,
    predict_ensemble,
    predict_many,
    predict_text,
)
from swisscheese.learned.runs import RUN_DISCOUNT, best_run, discounted, pieces
from swisscheese.learned.sentences import SentenceReader, read
from swisscheese.learned.specs import DETECTOR_SPECS, DetectorSpec
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor

__all__ = [
    "EmbeddingMonitor",
    "EnsembleMonitor",
    "LearnedConfig",
    "LearnedMonitor",
    "ProbeMonitor",
    "Scorer",
    "SentenceMonitor",
    "load_detector",
    "load_ensemble",
    "load_scorer",
    "open_ensemble",
    "shipped_model",
]

Tier = Literal["fast", "embedding", "probe", "ensemble", "sentences"]
MemberTier = Literal["fast", "embedding", "probe"]

MAX_CUTS = 24
"""Sentence ends a user's message is cut at for the probe (``prefix_discount``) at most; a
longer message's sentences are merged into as many pieces (``runs.pieces``)."""


@dataclass(frozen=True, slots=True)
class Cut:
    """The probe's prediction on the prompt a message cut after ``end`` characters makes."""

    end: int
    prediction: Prediction


class LearnedConfig(MonitorConfig):
    tier: Tier = "fast"
    """``fast`` (n-grams, ~0.5 ms; ~0.9 ms for 1 KB read by its runs of sentences too),
    ``embedding`` (MiniLM, ~70 ms per KB; needs ``[ml]``), ``probe`` (the local model's hidden
    states, ~0.5 s per KB on two cores, ~80 ms extra when the gateway serves the local model,
    whose prefill it is; needs ``[local]``) or ``ensemble`` (a calibrated stacker over two or
    more of them, run concurrently, so it costs its slowest member; needs their extras).
    ``sentences`` (``indirect-injection`` only; needs ``[ml]``): instructions to the assistant
    that have nothing to do with the document they stand in. Figures: ``bench/tiers.py``,
    ``docs/detectors.md``."""
    model: Path | None = None
    """A model trained by ``swisscheese train`` (its .npz file, or for the ensemble and the
    sentence reader its .json file, with the models it pins beside it); default: the shipped
    one."""
    members: tuple[MemberTier, ...] | None = None
    """Ensemble tier: which shipped stacker, by the tiers it stacks; default ``[fast,
    embedding]``. ``harmful-request`` also ships ``[fast, embedding, probe]`` (needs
    ``[local]``; ranks better at low false-positive rates, and costs the probe's forward pass,
    almost nothing when the gateway serves the local model: docs/detectors.md). With ``model``,
    the stacker's members must be these."""
    min_score: float = Field(default=0.1, ge=0.0, le=1.0)
    """Scores below this are not reported (so a rule threshold below it acts as this value)."""
    sentence_runs: bool | None = None
    """Fast tier, a user's message: also read as its likeliest run of consecutive sentences
    (60 to 3,000 characters), so ordinary requests written around a jailbreak do not dilute
    it. The run counts at its logit less the detector's discount (``DetectorSpec.run_discount``:
    1 for ``injection`` and ``harmful-request``; an ensemble's stacked score 2.5); ``target_fpr``
    takes thresholds measured reading runs where the model has them (both shipped heads do).
    Where the run scores higher than the whole message, the finding's span is the run.
    Ensemble tier: its fast member finds the run and every member reads it, a second pass of
    the slower members. Not for system messages, which are the operator's, nor for text the
    fast head cannot read. Unset: on for ``injection`` and ``harmful-request``, where the
    discount was measured held out (off for the others). Costs and figures: docs/detectors.md,
    "Padding a jailbreak with ordinary requests"."""
    run_discount: float | None = Field(default=None, ge=0.0, le=10.0)
    """Logit units a run of sentences counts less than the whole message; unset: the
    detector's measured one for the fast tier (``DetectorSpec.run_discount``), 2.5 for an
    ensemble's stacked score. ``target_fpr`` thresholds were measured with the default: give a
    threshold of your own with another. The ``harmful-requests`` opt-in reads runs at 1
    (docs/detectors.md, "An opt-in harmful-request rule")."""
    prefix_discount: float | None = Field(default=None, ge=0.0, le=10.0)
    """Ensemble tier with a probe member, a user's message in English: the probe also reads the
    prompt as it would stand if the message ended after each of its sentences (up to
    ``MAX_CUTS``), from its one pass's cache (a few tokens per cut, all in one more pass: ~0.2 s
    more on a kilobyte where the probe runs), and the likeliest such prompt counts at the
    probe's score less this many logits where that is more than the stacked score of the whole.
    A request in the middle of ordinary ones reads to the local model as the prompt ending with
    it does. Unset: off. The ``harmful-requests`` opt-in reads them at 2 (docs/detectors.md,
    "The probe at each sentence's end")."""
    cascade_below: float = Field(default=0.0, ge=0.0, le=1.0)
    """Ensemble tier with a fast member: a text the fast member scores below this gets no
    finding, and the slower members are not run on it. 0 runs every member on every text.
    On ``injection``, 0.2 passed 71% of held-out benign text at the fast tier's cost and lost
    0.008 of held-out attack recall at the 1% threshold, none at 0.1% (docs/detectors.md)."""
    member_timeout_ms: int | None = Field(default=None, gt=0)
    """Ensemble tier with a fast member: a slower member that has not answered within this many
    milliseconds is left out, and the fast member decides alone, its score moved onto the
    ensemble's scale at equal benign false-positive rate (the two models' 1% and 0.1%
    thresholds); its pass is dropped if it has not started. Such a decision is always reported,
    whatever its score, with ``degraded`` naming the members left out and why. Set it below
    the rule's ``timeout_ms``: on a busy machine a text is then screened as the fast tier
    screens it rather than refused or passed by the rule's ``on_error``. Not on text in another
    language, which the fast member cannot read: there every member is awaited. Unset: every
    member is awaited."""


def shipped_model(name: str, tier: Tier = "fast", members: Sequence[str] | None = None) -> Path:
    models = resources.files("swisscheese.monitors") / "models"
    return Path(str(models / model_filename(name, tier, members)))


def load_detector(name: str, tier: MemberTier, path: Path | None) -> LinearDetector:
    path = path or shipped_model(name, tier)
    try:
        model = LinearDetector.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"cannot load the {name} model from {path}: {exc}") from exc
    if TIER_OF[model.features] != tier:
        raise ValueError(f"{path}: a {model.features} model, not one for the {tier} tier")
    return model


def _threshold_for_fpr(
    thresholds: dict[str, float], fpr: float, runs: bool = False
) -> float | None:
    """The score a model was measured to flag ``fpr`` of held-out benign text at; with
    ``runs``, read as a rule reading runs of sentences reads it, where the model was measured
    so (``runs_*``, written by ``swisscheese train --cross-validate``)."""
    key = {0.01: "fpr_1pct", 0.001: "fpr_0_1pct"}.get(fpr)
    if key is None:
        return None
    return thresholds.get(f"runs_{key}" if runs else key, thresholds.get(key))


class _Learned:
    tier: MemberTier

    def __init__(
        self,
        name: str,
        stages: frozenset[Stage],
        config: LearnedConfig,
        reads_request: bool = False,
    ) -> None:
        self.name = name
        self.stages = stages
        self.reads_request = reads_request
        self.min_score = config.min_score
        self.model = load_detector(name, self.tier, config.model)
        # Only a fast head of text reads runs; the option is moot for the other tiers.
        runs = config.sentence_runs
        if runs is None:
            runs = DETECTOR_SPECS[name].sentence_runs
        self.sentence_runs = runs and self.model.features == FAST
        self.run_discount = (
            DETECTOR_SPECS[name].run_discount
            if config.run_discount is None
            else config.run_discount
        )

    def text_of(self, content: Content) -> str:
        """The text to score; a response detector reads it after the request it answers (the
        last user message in the content's trace, when the caller gave one)."""
        if not self.reads_request:
            return content.text
        asked = [c.text for c in content.trace if c.role == "user"]
        return pair_text(asked[-1] if asked else "", content.text)

    def threshold_for_fpr(self, fpr: float) -> float | None:
        return _threshold_for_fpr(self.model.thresholds, fpr, self.sentence_runs)

    def _findings(self, predictions: list[Prediction]) -> list[Finding]:
        top = best(predictions)
        if top.score < self.min_score:
            return []
        details = {"model": self.model.name, "tier": self.tier}
        return [Finding(self.name, top.category, top.score, (), details)]


class LearnedMonitor(_Learned, Inline):
    """Fast tier: bounded numpy work, run inline by the guard."""

    tier: MemberTier = "fast"

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        if not content.text.strip():
            return []
        whole = predict_text(self.model, self.text_of(content))
        run = (
            best_run(self.model, content.text, discount=self.run_discount)
            if self._reads_runs(content)
            else None
        )
        if run is None or run.score <= whole.score or run.score < self.min_score:
            return self._findings([whole])
        details = {
            "model": self.model.name,
            "tier": self.tier,
            "run": content.text[run.start : run.end][:200],
            "run_score": round(run.prediction.score, 6),
            "whole": round(whole.score, 6),
        }
        spans = (Span(run.start, run.end),)
        return [Finding(self.name, run.prediction.category, run.score, spans, details)]

    def _reads_runs(self, content: Content) -> bool:
        return self.sentence_runs and content.role == "user"


class _Threaded(_Learned):
    """A tier whose features cost a network's forward pass: scored in a worker thread."""

    def score(self, text: str, *, from_user: bool = False) -> list[Prediction]:
        """``from_user``: the text is a user's message, which a model may be asked next."""
        raise NotImplementedError

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        if not content.text.strip():
            return []
        from_user = content.role == "user"
        return self._findings(
            await asyncio.to_thread(self.score, self.text_of(content), from_user=from_user)
        )


class EmbeddingMonitor(_Threaded):
    """Embedding tier: the encoder the head was trained on (English or multilingual) runs in a
    worker thread (ONNX Runtime and numpy's products release the GIL)."""

    tier: MemberTier = "embedding"

    def __init__(
        self,
        name: str,
        stages: frozenset[Stage],
        config: LearnedConfig,
        reads_request: bool = False,
    ) -> None:
        super().__init__(name, stages, config, reads_request)
        try:
            self.encoder = encoder_for(self.model.features)
        except EmbeddingError as exc:
            raise ValueError(f"{name} (embedding tier): {exc}") from exc

    def score(self, text: str, *, from_user: bool = False) -> list[Prediction]:
        vectors, _ = self.encoder.encode_windows([text])
        return self.model.predict_vectors(vectors)


class ProbeMonitor(_Threaded):
    """Probe tier: a linear probe on the local model's hidden state at the last prompt token.
    The forward pass runs in a worker thread (torch releases the GIL); the weights are the
    process's one copy of the local model, shared with the gateway when it serves that model."""

    tier: MemberTier = "probe"

    def __init__(
        self,
        name: str,
        stages: frozenset[Stage],
        config: LearnedConfig,
        reads_request: bool = False,
    ) -> None:
        if reads_request:
            raise ValueError(f"{name}: the probe tier reads prompts, not request/response pairs")
        super().__init__(name, stages, config, reads_request)
        try:
            self.reader = ActivationReader.shared()
        except LocalModelError as exc:
            raise ValueError(f"{name} (probe tier): {exc}") from exc

    def score(self, text: str, *, from_user: bool = False) -> list[Prediction]:
        # A user's message read alone is how the local model's prompt begins: its cache may
        # spare the model's prefill (kept only when something generates with the model).
        return self.model.predict_vectors(self.reader.read([text], keep_cache=from_user))

    def score_cuts(
        self, text: str, ends: Sequence[int], *, from_user: bool = False
    ) -> tuple[Prediction, Cut | None]:
        """The whole message's prediction (``score``'s), and the likeliest of the prompts the
        message cut at ``ends`` would make, with where it was cut; one pass."""
        whole, states, read = self.reader.read_prefixes(text, ends, keep_cache=from_user)
        (prediction,) = self.model.predict_vectors(whole[None, :])
        cuts = self.model.predict_vectors(states)
        if not cuts:
            return prediction, None
        top = max(range(len(cuts)), key=lambda i: cuts[i].score)
        return prediction, Cut(read[top], cuts[top])


_MEMBERS: dict[Tier, type[_Learned]] = {
    "fast": LearnedMonitor,
    "embedding": EmbeddingMonitor,
    "probe": ProbeMonitor,
}


def open_ensemble(
    name: str, path: Path | None, members: Sequence[str] | None = None
) -> tuple[Ensemble, Path]:
    """The stacker (the shipped one over ``members`` unless ``path`` names one), once its member
    files beside it are checked to be the ones it was fitted for."""
    shipped = shipped_model(name, "ensemble", members)
    if path is None and not shipped.is_file():
        raise ValueError(
            f"{name} ships no ensemble of {', '.join(members or ENSEMBLE_MEMBERS)} "
            f"(train one: swisscheese train {name} --tier ensemble --members ...)"
        )
    path = path or shipped
    try:
        ensemble = Ensemble.load(path)
        ensemble.check_members(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot load the {name} ensemble from {path}: {exc}") from exc
    if ensemble.detector != name:
        raise ValueError(f"{path}: an ensemble of {ensemble.detector}, not of {name}")
    if members is not None and set(members) != set(ensemble.members):
        raise ValueError(
            f"{path}: an ensemble of {', '.join(ensemble.members)}, not of {', '.join(members)}"
        )
    return ensemble, path


def load_ensemble(
    name: str, path: Path | None, members: Sequence[str] | None = None
) -> tuple[Ensemble, dict[str, LinearDetector]]:
    """The stacker and its member models."""
    ensemble, path = open_ensemble(name, path, members)
    models = {
        tier: load_detector(name, cast(MemberTier, tier), ensemble.member_path(path, tier))
        for tier in ensemble.members
    }
    return ensemble, models


@dataclass(frozen=True)
class Scorer:
    """A detector's tier for scoring batches outside a policy (the CLI, benchmarks)."""

    predict: Callable[[list[str]], list[Prediction]]
    thresholds: dict[str, float]


def sentence_scorer(monitor: SentenceMonitor) -> Scorer:
    """A built sentences tier (with its ``min_score``) as a batch scorer."""
    return Scorer(
        lambda texts: [Prediction(monitor.score(t)[0], monitor.category) for t in texts],
        monitor.reader.thresholds,
    )


def load_scorer(
    name: str, tier: Tier, path: Path | None = None, members: Sequence[str] | None = None
) -> Scorer:
    """Any tier of a detector, the ensemble (over ``members``) included, as a batch scorer."""
    if tier == "sentences":
        return sentence_scorer(
            SentenceMonitor(name, frozenset(), LearnedConfig(tier=tier, model=path))
        )
    if tier == "ensemble":
        ensemble, models = load_ensemble(name, path, members)
        return Scorer(partial(predict_ensemble, ensemble, models), ensemble.thresholds)
    detector = load_detector(name, tier, path)
    return Scorer(partial(predict_many, detector), detector.thresholds)


class EnsembleMonitor:
    """Ensemble tier: every member tier scores the text (the fast one inline, the others
    concurrently in worker threads) and the stacker turns their scores into one calibrated
    score. The finding names each member's score, so a decision can be traced to its tiers."""

    tier = "ensemble"

    def __init__(
        self,
        name: str,
        stages: frozenset[Stage],
        config: LearnedConfig,
        reads_request: bool = False,
    ) -> None:
        self.name = name
        self.stages = stages
        self.min_score = config.min_score
        self.cascade_below = config.cascade_below
        self.member_timeout_ms = config.member_timeout_ms
        self.run_discount = RUN_DISCOUNT if config.run_discount is None else config.run_discount
        self.ensemble, path = open_ensemble(name, config.model, config.members)
        for option in ("cascade_below", "member_timeout_ms"):
            if getattr(config, option) and "fast" not in self.ensemble.members:
                raise ValueError(f"{name}: {option} needs an ensemble with a fast member")
        self.prefix_discount = config.prefix_discount
        if self.prefix_discount is not None and "probe" not in self.ensemble.members:
            raise ValueError(f"{name}: prefix_discount needs an ensemble with a probe member")
        self.members = [
            _MEMBERS[cast(MemberTier, tier)](
                name,
                stages,
                LearnedConfig(
                    tier=cast(MemberTier, tier),
                    model=self.ensemble.member_path(path, tier),
                    sentence_runs=config.sentence_runs,
                ),
                reads_request,
            )
            for tier in self.ensemble.members
        ]
        self.models: dict[str, LinearDetector] = {m.tier: m.model for m in self.members}
        # The fast member finds the run; the whole ensemble reads it.
        self.sentence_runs = any(
            m.sentence_runs for m in self.members if isinstance(m, LearnedMonitor)
        )
        blind = self.ensemble.blind_members()
        self._blind = [m for m in self.members if m.tier in blind]
        # Under a member timeout each slower member has workers of its own, as many as the
        # machine has cores (more only contend), so a pass that comes too late can be dropped
        # from their queue before it costs anything.
        self._pools = {
            m.tier: ThreadPoolExecutor(os.cpu_count() or 2, f"{name}-{m.tier}")
            for m in self.members
            if self.member_timeout_ms is not None and isinstance(m, _Threaded)
        }

    def threshold_for_fpr(self, fpr: float) -> float | None:
        return _threshold_for_fpr(self.ensemble.thresholds, fpr)

    @staticmethod
    def _pass(
        member: _Threaded, text: str, from_user: bool, ends: Sequence[int]
    ) -> tuple[Prediction, Cut | None]:
        """A slower member's pass (in a worker thread); the probe's reads ``ends`` too."""
        if ends and isinstance(member, ProbeMonitor):
            return member.score_cuts(text, ends, from_user=from_user)
        return best(member.score(text, from_user=from_user)), None

    async def _member(
        self, member: _Learned, text: str, from_user: bool, ends: Sequence[int]
    ) -> tuple[Prediction, Cut | None]:
        if isinstance(member, _Threaded):
            return await asyncio.to_thread(self._pass, member, text, from_user, ends)
        return predict_text(member.model, text), None

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        if not content.text.strip():
            return []
        text = self.members[0].text_of(content)
        languages = languages_for(self.ensemble, text)
        from_user = content.role == "user"
        run = None
        if self.sentence_runs and from_user and languages.english:
            run = best_run(self.models["fast"], text, discount=self.run_discount)
            # The cascade reads the run as the whole: on the fast member's word, as it counts.
            if run is not None and run.score < self.cascade_below:
                run = None
        ends: list[int] = []
        if self.prefix_discount is not None and from_user and languages.english:
            ends = [end for _, end in pieces(text, MAX_CUTS)]
        if run is None:
            found = await self._read(text, languages, from_user, ends=ends)
            return [found] if found else []
        # The run read as a message of its own, beside the whole: it is not how a prompt to
        # the local model begins (``from_user`` keeps the probe's cache for that).
        ran = text[run.start : run.end]
        found, on_run = await asyncio.gather(
            self._read(text, languages, from_user, ends=ends),
            self._read(ran, languages_for(self.ensemble, ran), False, fast=run.prediction),
        )
        # By default RUN_DISCOUNT: the fast head's smaller one, tried on the two-member
        # stacker at its own thresholds, flagged more benign text.
        score = discounted(on_run.score, self.run_discount) if on_run else 0.0
        # The whole reading stands unless the run counts for more: a degraded one is reported
        # whatever its score.
        if on_run is None or score <= (found.score if found else 0.0) or score < self.min_score:
            return [found] if found else []
        details = {
            **on_run.detail,
            "run": ran[:200],
            "run_score": round(on_run.score, 6),
            "whole": round(found.score, 6) if found else None,
        }
        return [Finding(self.name, on_run.category, score, (Span(run.start, run.end),), details)]

    async def _read(
        self,
        text: str,
        languages: Languages,
        from_user: bool,
        fast: Prediction | None = None,
        ends: Sequence[int] = (),
    ) -> Finding | None:
        """The stacked finding on ``text`` (None below ``min_score``, unless degraded);
        ``fast``: the fast member's prediction on it, where already made; ``ends``: where the
        probe also cuts it (``prefix_discount``)."""
        by_tier: dict[str, Prediction] = {"fast": fast} if fast else {}
        if self.cascade_below or self.member_timeout_ms is not None:
            # The inline member first: most benign text stops here, before any forward pass.
            # Not text in another language, though: the fast member cannot read it.
            if "fast" not in by_tier:
                by_tier["fast"] = predict_text(self.models["fast"], text)
            if by_tier["fast"].score < self.cascade_below and languages.english:
                return None
        rest = [m for m in self.members if m.tier not in by_tier]
        # Text the fast member cannot read waits for the others: deciding on its word would
        # pass anything not written in English whenever the machine is busy.
        timeout_ms = self.member_timeout_ms if languages.english else None
        cuts: list[Cut] = []
        late = await self._score_members(rest, text, from_user, by_tier, timeout_ms, ends, cuts)
        on_part: dict[str, Prediction] = {}
        if not languages.english and languages.english_part:
            await self._score_blind(languages.english_part, from_user, on_part)
        details: dict[str, Any] = {
            "tier": "ensemble",
            "members": {tier: round(p.score, 4) for tier, p in by_tier.items()},
        }
        if not languages.english:
            # The trace says why the members' scores do not average to the finding's.
            details["counted"] = list(self.ensemble.other_languages)
            details["on_english_part"] = {t: round(p.score, 4) for t, p in on_part.items()}
        if late:
            fast = by_tier["fast"]
            score = on_scale_of(
                fast.score, self.models["fast"].thresholds, self.ensemble.thresholds
            )
            details["degraded"] = late
            return Finding(self.name, fast.category, score, (), details)
        top = combine(
            self.ensemble,
            self.models,
            by_tier,
            english=languages.english,
            on_english_part=on_part or None,
        )
        if cuts and self.prefix_discount is not None:
            cut = cuts[0]
            score = discounted(cut.prediction.score, self.prefix_discount)
            if score > top.score and score >= self.min_score:
                details["cut"] = {
                    "end": cut.end,
                    "probe": round(cut.prediction.score, 6),
                    "whole": round(top.score, 6),
                }
                return Finding(
                    self.name, cut.prediction.category, score, (Span(0, cut.end),), details
                )
        if top.score < self.min_score:
            return None
        return Finding(self.name, top.category, top.score, (), details)

    async def _score_blind(self, part: str, from_user: bool, into: dict[str, Prediction]) -> None:
        """The members that read English only, on a text's English sentences (``part``)."""
        for member in self._blind:
            if not isinstance(member, _Threaded):
                into[member.tier] = predict_text(member.model, part)
        threaded: list[_Learned] = [m for m in self._blind if isinstance(m, _Threaded)]
        if threaded:
            await self._score_members(threaded, part, from_user, into, None)

    async def _score_members(
        self,
        members: list[_Learned],
        text: str,
        from_user: bool,
        into: dict[str, Prediction],
        timeout_ms: int | None,
        ends: Sequence[int] = (),
        cuts: list[Cut] | None = None,
    ) -> dict[str, str]:
        """Score ``members`` concurrently into ``into`` (the probe's likeliest cut at ``ends``
        into ``cuts``); the tiers left out, and why (none without a timeout)."""
        found: list[tuple[str, tuple[Prediction, Cut | None]]] = []
        late_tiers: dict[str, str] = {}
        if timeout_ms is None:
            passes = await asyncio.gather(
                *(self._member(m, text, from_user, ends) for m in members)
            )
            found = [(m.tier, p) for m, p in zip(members, passes, strict=True)]
        else:
            # Each pass runs in the caller's context, as asyncio.to_thread would run it.
            waiting = {
                asyncio.wrap_future(
                    self._pools[m.tier].submit(
                        copy_context().run,
                        partial(self._pass, cast(_Threaded, m), text, from_user, ends),
                    )
                ): m.tier
                for m in members
            }
            done, late = await asyncio.wait(waiting, timeout=timeout_ms / 1000)
            found = [(waiting[future], future.result()) for future in done]
            for future in late:
                # A pass still queued is dropped; one already running finishes unread.
                future.cancel()
            late_tiers = {waiting[f]: f"no answer within {timeout_ms} ms" for f in late}
        for tier, (prediction, cut) in found:
            into[tier] = prediction
            if cut is not None and cuts is not None:
                cuts.append(cut)
        return late_tiers


class SentenceMonitor:
    """Sentences tier: the fast head scores every sentence of the document inline, and the
    encoder, in a worker thread, relates the likeliest instructions to the rest of the
    document. The finding's span is the sentence that decided it."""

    tier = "sentences"

    def __init__(
        self,
        name: str,
        stages: frozenset[Stage],
        config: LearnedConfig,
        reads_request: bool = False,
    ) -> None:
        if reads_request or DETECTOR_SPECS[name].window is None:
            raise ValueError(f"{name}: the sentences tier is for detectors that read documents")
        self.name = name
        self.stages = stages
        self.min_score = config.min_score
        path = config.model or shipped_model(name, "sentences")
        try:
            self.reader = SentenceReader.load(path)
            self.head = self.reader.load_head(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot load the {name} sentence reader from {path}: {exc}") from exc
        if self.reader.detector != name:
            raise ValueError(f"{path}: a sentence reader of {self.reader.detector}, not of {name}")
        # A document whose sentences cannot reach min_score is never embedded: with min_score at
        # the rule's threshold, most documents cost the fast head only (docs/detectors.md).
        self.floor = self.reader.instruction_floor(self.min_score)
        self.category = DETECTOR_SPECS[name].categories[0]
        try:
            self.encoder = encoder_for(self.reader.encoder)
        except EmbeddingError as exc:
            raise ValueError(f"{name} (sentences tier): {exc}") from exc

    def threshold_for_fpr(self, fpr: float) -> float | None:
        return _threshold_for_fpr(self.reader.thresholds, fpr)

    def score(self, text: str) -> tuple[float, tuple[int, int] | None]:
        reading = read(
            text, self.head, self.encoder.encode, self.reader.candidates, floor=self.floor
        )
        return self.reader.score(reading)

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        if not content.text.strip():
            return []
        score, span = await asyncio.to_thread(self.score, content.text)
        if score < self.min_score or span is None:
            return []
        details = {"tier": "sentences", "sentence": content.text[span[0] : span[1]][:200]}
        return [Finding(self.name, self.category, score, (Span(*span),), details)]


_TIERS: dict[Tier, Callable[[str, frozenset[Stage], LearnedConfig, bool], Monitor]] = {
    "fast": LearnedMonitor,
    "embedding": EmbeddingMonitor,
    "probe": ProbeMonitor,
    "ensemble": EnsembleMonitor,
    "sentences": SentenceMonitor,
}


def _register(d: DetectorSpec) -> None:
    def build(config: LearnedConfig) -> Monitor:
        for option in ("cascade_below", "members"):
            if getattr(config, option) and config.tier != "ensemble":
                raise ValueError(f"{d.name}: {option} is for the ensemble tier")
        if config.prefix_discount is not None and config.tier != "ensemble":
            raise ValueError(f"{d.name}: prefix_discount is for the ensemble tier")
        return _TIERS[config.tier](d.name, frozenset(d.stages), config, d.reads_request)

    monitor(
        d.name,
        stages=d.stages,
        categories=d.categories,
        config=LearnedConfig,
        tier=1,
        calibrated=True,
        description=d.description,
    )(build)


for _detector in DETECTOR_SPECS.values():
    _register(_detector)
