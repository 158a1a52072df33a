"""OpenTelemetry spans follow the GenAI conventions and hold no content unless asked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from swisscheese import Guard
from swisscheese.gateway import GatewaySettings, HttpUpstream, create_app
from tests.helpers.servers import serve
from tests.helpers.upstream import make_upstream

EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)


@pytest.mark.parametrize("capture", [False, True])
def test_chat_span(tmp_path: Path, capture: bool) -> None:
    EXPORTER.clear()
    guard = Guard()
    upstream_app, _ = make_upstream()
    with serve(upstream_app) as upstream_url:
        app = create_app(
            guard, HttpUpstream(upstream_url + "/v1"), GatewaySettings(otel_content=capture)
        )
        with serve(app) as url:
            response = httpx.post(
                url + "/v1/chat/completions",
                json={"model": "stub-1", "messages": [{"role": "user", "content": "secret plans"}]},
            )
            assert response.status_code == 200
    guard.close()
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.name == "chat stub-1"]
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "stub-1"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert attributes["swisscheese.input.action"] == "allow"
    has_content = any("secret plans" in str(v) for v in attributes.values())
    assert has_content is capture
