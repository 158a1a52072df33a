"""What each learned detector is, in one table: what it reads, where it screens, what it
reports, and how its input is cut. The monitors, the training pipeline and the detector
commands all read it."""

from __future__ import annotations

from dataclasses import dataclass

from swisscheese.core import Stage
from swisscheese.learned.runs import RUN_DISCOUNT

HAZARDS = (
    "cbrne", "cyber", "violent_crimes", "non_violent_crimes", "sex_crimes", "cse", "self_harm",
    "hate", "privacy", "ip", "elections", "specialized_advice", "defamation", "sexual_content",
)  # fmt: skip


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    stages: tuple[Stage, ...]
    categories: tuple[str, ...]
    description: str
    reads_request: bool = False
    """Judges a response with the request it answers (``Content.trace``)."""
    window: int | None = None
    """Fast tier: characters per window, in training and in serving (None: the whole text)."""
    input_fields: tuple[str, ...] = ("text",)
    """The JSONL fields ``score`` and ``eval-detector`` read, first present wins."""
    input_help: str = "a string 'text'"
    sentence_runs: bool = False
    """Whether a rule of it reads a user's message by its likeliest run of sentences too, unless
    the rule says (``LearnedConfig.sentence_runs``): on where the run's discount was measured
    held out (``learned.runs``)."""
    run_discount: float = RUN_DISCOUNT
    """Logit units its fast head's score on a run counts less than on the whole message: the
    one that catches most at equal false positives, held out, where that was measured."""


DETECTOR_SPECS: dict[str, DetectorSpec] = {
    spec.name: spec
    for spec in (
        DetectorSpec(
            "injection",
            (Stage.INPUT, Stage.RETRIEVED, Stage.OUTPUT, Stage.REASONING, Stage.CORPUS),
            ("injection", "jailbreak", "prompt_extraction"),
            "Learned prompt-injection and jailbreak detector (in-package weights)",
            sentence_runs=True,
            run_discount=1.0,
        ),
        DetectorSpec(
            "indirect-injection",
            (Stage.RETRIEVED, Stage.CORPUS),
            ("injection.indirect",),
            "Learned detector of instructions to the assistant hidden in retrieved content",
            window=300,
            input_fields=("context", "text"),
            input_help="a string 'context' (the retrieved content) or 'text'",
        ),
        DetectorSpec(
            "harmful-request",
            (Stage.INPUT, Stage.CORPUS),
            HAZARDS,
            "Learned harmful-request detector by hazard category",
            sentence_runs=True,
            run_discount=1.0,
        ),
        DetectorSpec(
            "harmful-output",
            (Stage.OUTPUT, Stage.REASONING, Stage.CORPUS),
            HAZARDS,
            "Learned detector of responses that give harmful assistance (reads the request too)",
            reads_request=True,
            input_fields=("response", "text"),
            input_help="a string 'response' (and 'request') or 'text'",
        ),
    )
}
