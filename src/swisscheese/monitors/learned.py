"""Tier 1: the project's own learned detectors (fast tier), served from weights in the package.

Each monitor loads its model once, at policy compile time; a missing or unreadable model file is
a start-up error, never a mid-request one. Scores are calibrated probabilities; ``threshold:
{target_fpr: 0.01}`` in a rule picks the score measured to flag 1% of held-out benign traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import Field

from swisscheese.core import Content, Context, Finding, Stage
from swisscheese.learned.model import LinearDetector
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor

__all__ = ["DETECTORS", "LearnedConfig", "LearnedMonitor", "shipped_model"]


class LearnedConfig(MonitorConfig):
    model: Path | None = None
    """A model trained by ``swisscheese train`` (its .npz file); default: the shipped one."""
    min_score: float = Field(default=0.1, ge=0.0, le=1.0)
    """Scores below this are not reported (so a rule threshold below it acts as this value)."""


def shipped_model(name: str) -> Path:
    return Path(str(resources.files("swisscheese.monitors") / "models" / f"{name}.npz"))


class LearnedMonitor(Inline):
    def __init__(self, name: str, stages: frozenset[Stage], config: LearnedConfig) -> None:
        self.name = name
        self.stages = stages
        self.min_score = config.min_score
        path = config.model or shipped_model(name)
        try:
            self.model = LinearDetector.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot load the {name} model from {path}: {exc}") from exc

    def threshold_for_fpr(self, fpr: float) -> float | None:
        key = {0.01: "fpr_1pct", 0.001: "fpr_0_1pct"}.get(fpr)
        return self.model.thresholds.get(key) if key else None

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        if not content.text.strip():
            return []
        prediction = max(
            (self.model.predict(window) for window in _windows(content.text)),
            key=lambda p: p.score,
        )
        if prediction.score < self.min_score:
            return []
        return [
            Finding(
                self.name,
                prediction.category,
                prediction.score,
                (),
                {"model": self.model.name, "tier": "fast"},
            )
        ]


WINDOW = 3_000
STRIDE = 2_000


def _windows(text: str) -> list[str]:
    """Long text in overlapping windows, so an instruction buried mid-document is read whole."""
    if len(text) <= WINDOW + STRIDE:
        return [text]
    return [text[i : i + WINDOW] for i in range(0, len(text) - WINDOW + STRIDE, STRIDE)]


@dataclass(frozen=True)
class _Detector:
    name: str
    stages: tuple[Stage, ...]
    categories: tuple[str, ...]
    description: str


_HAZARDS = (
    "cbrne", "cyber", "violent_crimes", "non_violent_crimes", "sex_crimes", "cse", "self_harm",
    "hate", "privacy", "ip", "elections", "specialized_advice", "defamation", "sexual_content",
)  # fmt: skip

DETECTORS = (
    _Detector(
        "injection",
        (Stage.INPUT, Stage.RETRIEVED, Stage.OUTPUT, Stage.REASONING, Stage.CORPUS),
        ("injection", "jailbreak", "prompt_extraction"),
        "Learned prompt-injection and jailbreak detector (fast tier, in-package weights)",
    ),
    _Detector(
        "indirect-injection",
        (Stage.RETRIEVED, Stage.CORPUS),
        ("injection.indirect",),
        "Learned detector of instructions to the assistant hidden in retrieved content",
    ),
    _Detector(
        "harmful-request",
        (Stage.INPUT, Stage.CORPUS),
        _HAZARDS,
        "Learned harmful-request detector by hazard category (fast tier)",
    ),
)


def _register(d: _Detector) -> None:
    def build(config: LearnedConfig) -> LearnedMonitor:
        return LearnedMonitor(d.name, frozenset(d.stages), config)

    monitor(
        d.name,
        stages=d.stages,
        categories=d.categories,
        config=LearnedConfig,
        tier=1,
        calibrated=True,
        description=d.description,
    )(build)


for _detector in DETECTORS:
    _register(_detector)
