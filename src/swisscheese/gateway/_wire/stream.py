"""Server-sent events: one codec for every chunk the gateway sends, and the assembly of an
upstream stream into one completion."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from swisscheese.gateway._wire.answer import _dict, _int


def sse(data: dict[str, Any] | None) -> bytes:
    """One server-sent event; None is the closing ``[DONE]``."""
    if data is None:
        return b"data: [DONE]\n\n"
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": base.get("id"),
        "object": "chat.completion.chunk",
        "created": base.get("created"),
        "model": base.get("model"),
        "choices": [{"index": base.get("index", 0), "delta": delta, "finish_reason": finish}],
    }


def delta_of(message: Mapping[str, Any], leave_out: Sequence[str] = ()) -> dict[str, Any]:
    """A built message as one stream delta: its set fields, tool calls numbered."""
    delta = {k: v for k, v in message.items() if v is not None and k not in leave_out}
    if "tool_calls" in delta:
        delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(delta["tool_calls"])]
    return delta


def rechunk(completion: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A built completion as stream chunks: one delta per choice, then its finish reason."""
    for choice in completion["choices"]:
        base = {**completion, "index": choice["index"]}
        yield chunk(base, delta_of(choice["message"]))
        yield chunk(base, {}, choice["finish_reason"])
    if "usage" in completion:
        yield {**chunk(completion, {}), "choices": [], "usage": completion["usage"]}


def assemble(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Streamed chunks put together as one completion: only the fields that are screened or
    are plain numbers are kept, so whatever else a chunk carries is dropped."""
    first = chunks[0] if chunks else {}
    choices: dict[int, dict[str, Any]] = {}
    usage: Any = None
    for piece in chunks:
        usage = piece.get("usage") or usage
        for c in piece.get("choices") or []:
            if not isinstance(c, dict):
                continue
            index = _int(c.get("index"), 0)
            slot = choices.setdefault(
                index, {"index": index, "message": {"role": "assistant"}, "finish_reason": None}
            )
            delta = _dict(c.get("delta"))
            message = slot["message"]
            for key in ("content", "refusal", "reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str):
                    message[key] = message.get(key, "") + delta[key]
            for tc in delta.get("tool_calls") or []:
                if not isinstance(tc, dict):
                    continue
                calls = message.setdefault("tool_calls", [])
                i = _int(tc.get("index"), len(calls))
                if not 0 <= i < 128:
                    continue
                while len(calls) <= i:
                    calls.append({"id": None, "function": {"name": "", "arguments": ""}})
                if isinstance(tc.get("id"), str):
                    calls[i]["id"] = tc["id"]
                fn = _dict(tc.get("function"))
                for key in ("name", "arguments"):
                    if isinstance(fn.get(key), str):
                        calls[i]["function"][key] += fn[key]
            logprobs = c.get("logprobs")
            if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
                held = slot.setdefault("logprobs", {"content": []})
                held["content"] += logprobs["content"]
            if c.get("finish_reason"):
                slot["finish_reason"] = c["finish_reason"]
    return {
        "id": first.get("id"),
        "created": first.get("created"),
        "model": first.get("model"),
        "choices": [choices[i] for i in sorted(choices)],
        "usage": usage,
    }
