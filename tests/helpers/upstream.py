"""A stand-in upstream model: a real OpenAI-compatible HTTP server with scripted answers.

The last user message decides the answer: "leak key" → an answer holding an AWS key,
"call tool" → a tool call whose arguments hold the key, "think" → reasoning that leaks a word,
"how to" → a compliant step-by-step answer (whatever was asked), anything else → "You said:
<message>". Every request body it receives is kept in ``received``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

KEY = "AKIAIOSFODNN7EXAMPLE"


def make_upstream() -> tuple[FastAPI, list[dict[str, Any]]]:
    app = FastAPI()
    received: list[dict[str, Any]] = []

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "stub-1", "object": "model", "owned_by": "t"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        body = await request.json()
        received.append(body)
        last = next(m for m in reversed(body["messages"]) if m["role"] == "user")
        text = last["content"] if isinstance(last["content"], str) else ""
        message: dict[str, Any] = {"role": "assistant", "content": f"You said: {text}"}
        finish = "stop"
        if "long" in text:
            filler = " ".join(f"Sentence {i} of a long and harmless answer." for i in range(40))
            leak = f" Sure, the key is {KEY}." if "leak" in text else ""
            message["content"] = filler[:900] + leak + filler[900:]
        elif "how to" in text:
            message["content"] = (
                "Sure, here is how to do it:\n\n1. First, gather everything on the list below.\n"
                "2. Combine the components in the order given, carefully.\n"
                "3. Test it once before the real thing.\n\nGood luck!"
            )
        elif "leak key" in text:
            message["content"] = f"Sure, the key is {KEY}, use it well."
        elif "call tool" in text:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "send_email",
                            "arguments": json.dumps({"to": "x@example.net", "body": KEY}),
                        },
                    }
                ],
            }
            finish = "tool_calls"
        completion = {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        }
        if not body.get("stream"):
            return JSONResponse(completion)

        async def events() -> AsyncIterator[bytes]:
            base = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": completion["created"],
                "model": body["model"],
            }
            content = message.get("content") or ""
            yield _sse(
                {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}
                    ],
                }
            )
            slow = "long" in text
            for i in range(0, len(content), 7):
                if slow:
                    await asyncio.sleep(0.002)
                yield _sse(
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": content[i : i + 7]},
                                "finish_reason": None,
                            }
                        ],
                    }
                )
            for call in message.get("tool_calls") or []:
                yield _sse(
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {
                                    "tool_calls": [
                                        {
                                            "index": 0,
                                            "id": call["id"],
                                            "type": "function",
                                            "function": call["function"],
                                        }
                                    ]
                                },
                                "finish_reason": None,
                            }
                        ],
                    }
                )
            yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app, received


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"
