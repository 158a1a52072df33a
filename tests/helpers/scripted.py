"""A stand-in upstream whose next answer a test sets: a real HTTP server that returns exactly
the completion (or the stream chunks) it is given, with whatever fields they hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class Script:
    answer: dict[str, Any] = field(default_factory=dict)
    """The completion returned to non-streaming requests."""
    chunks: list[dict[str, Any]] = field(default_factory=list)
    """The chunks streamed to streaming requests."""
    received: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    """What ``/v1/models`` returns."""
    status: int = 200
    """The HTTP status of answers (with ``answer`` as the body)."""
    raw_chunks: list[bytes] | None = None
    """Stream these bytes as they are instead of ``chunks``."""
    break_after: int | None = None
    """Drop the connection after this many chunks, without [DONE]."""
    json_for_streams: bool = False
    """Answer streaming requests with ``answer`` as one JSON document, as some servers do."""
    delay: float = 0.0
    """Seconds between stream chunks (a slow model)."""
    answer_delay: float = 0.0
    """Seconds the upstream thinks before a non-streamed answer."""


def completion(message: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1,
        "model": "stub-1",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", **choice}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "stub-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def make_scripted() -> tuple[FastAPI, Script]:
    app = FastAPI()
    script = Script()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return script.models

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        body = await request.json()
        script.received.append(body)
        if not body.get("stream") or script.json_for_streams or script.status != 200:
            if script.answer_delay:
                await asyncio.sleep(script.answer_delay)
            return JSONResponse(script.answer, status_code=script.status)

        async def events() -> AsyncIterator[bytes]:
            pieces = script.raw_chunks or [
                b"data: " + json.dumps(piece).encode() + b"\n\n" for piece in script.chunks
            ]
            for n, piece in enumerate(pieces):
                if n == script.break_after:
                    raise ConnectionResetError("scripted: the upstream went away")
                if script.delay:
                    await asyncio.sleep(script.delay)
                yield piece
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app, script


@contextmanager
def scripted_gateway(guard: Any, settings: Any = None) -> Iterator[tuple[str, Script]]:
    """A real gateway in front of a scripted upstream, both on loopback: (its URL, the
    script)."""
    from swisscheese.gateway import HttpUpstream, create_app
    from tests.helpers.servers import serve

    upstream_app, script = make_scripted()
    with (
        serve(upstream_app) as upstream,
        serve(create_app(guard, HttpUpstream(upstream + "/v1"), settings)) as url,
    ):
        yield url, script
