"""``ai-text``: how likely a language model wrote the text (the local model's Fast-DetectGPT
criterion, ``learned.ai_text``). Weak evidence by design: flag or log with it, do not block on
it alone (the README has the ROC and where it fails)."""

from __future__ import annotations

import asyncio

from pydantic import Field

from swisscheese.core import Content, Context, Finding, Stage
from swisscheese.learned.ai_text import MIN_TOKENS, AITextDetector
from swisscheese.learned.causal_lm import LocalModelError
from swisscheese.monitors._registry import MonitorConfig, monitor

CATEGORY = "ai_generated"


class AITextConfig(MonitorConfig):
    min_tokens: int = Field(default=MIN_TOKENS, ge=MIN_TOKENS)
    """Shorter texts get no finding: the criterion is too noisy to report on them."""


class AITextMonitor:
    name = "ai-text"
    stages = frozenset({Stage.INPUT, Stage.RETRIEVED, Stage.OUTPUT})

    def __init__(self, config: AITextConfig) -> None:
        self.config = config
        try:
            self.detector = AITextDetector.shared()
        except LocalModelError as exc:
            raise ValueError(f"ai-text: {exc}") from exc

    def score(self, text: str) -> list[Finding]:
        scored = self.detector.score(text)
        if scored.probability is None or scored.tokens < self.config.min_tokens:
            return []
        detail = {
            "criterion": round(scored.criterion, 3),
            "tokens": scored.tokens,
            "scorer": self.detector.model_name,
        }
        return [Finding(self.name, CATEGORY, scored.probability, (), detail)]

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        if not content.text.strip():
            return []
        # A forward pass of the local model: off the event loop (torch releases the GIL).
        return await asyncio.to_thread(self.score, content.text)


@monitor(
    "ai-text",
    stages=[Stage.INPUT, Stage.RETRIEVED, Stage.OUTPUT],
    categories=(CATEGORY,),
    config=AITextConfig,
    tier=2,  # a language model's forward pass, like the adapters
    description="Machine-written text, zero-shot (Fast-DetectGPT, local model); weak evidence",
)
def ai_text_monitor(config: AITextConfig) -> AITextMonitor:
    return AITextMonitor(config)
