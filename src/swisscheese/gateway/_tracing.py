"""OpenTelemetry spans for gateway requests, following the GenAI semantic conventions.

Optional: without ``opentelemetry-api`` (extra ``[otel]``) this is a no-op. Spans go to whatever
tracer provider the process configured. Message content is left out unless asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from swisscheese.core import Action, Verdict


class Tracing:
    def __init__(self, enabled: bool = True, capture_content: bool = False) -> None:
        self.capture_content = capture_content
        self._tracer: Any = None
        if enabled:
            try:
                from opentelemetry import trace
            except ImportError:
                return
            self._tracer = trace.get_tracer("swisscheese.gateway")

    @contextmanager
    def chat(self, model: str, messages: Sequence[dict[str, Any]] | None) -> Iterator[Any]:
        if self._tracer is None:
            yield None
            return
        with self._tracer.start_as_current_span(f"chat {model}") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", model)
            if self.capture_content and messages is not None:
                span.set_attribute("gen_ai.input.messages", json.dumps(list(messages)))
            yield span

    def answer(self, span: Any, answer: dict[str, Any]) -> None:
        if span is None:
            return
        if answer.get("model"):
            span.set_attribute("gen_ai.response.model", str(answer["model"]))
        if answer.get("id"):
            span.set_attribute("gen_ai.response.id", str(answer["id"]))
        reasons = [str(c.get("finish_reason")) for c in answer.get("choices") or []]
        span.set_attribute("gen_ai.response.finish_reasons", reasons)
        usage = answer.get("usage") or {}
        if isinstance(usage.get("prompt_tokens"), int):
            span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
        if isinstance(usage.get("completion_tokens"), int):
            span.set_attribute("gen_ai.usage.output_tokens", usage["completion_tokens"])
        if self.capture_content:
            outputs = [c.get("message") for c in answer.get("choices") or []]
            span.set_attribute("gen_ai.output.messages", json.dumps(outputs))

    def verdicts(self, span: Any, stage: str, verdicts: Sequence[Verdict]) -> None:
        if span is None or not verdicts:
            return
        action = max((v.action for v in verdicts), default=Action.ALLOW)
        span.set_attribute(f"swisscheese.{stage}.action", action.value)
        span.set_attribute(
            f"swisscheese.{stage}.categories",
            sorted({f.category for v in verdicts for f in v.findings}),
        )
