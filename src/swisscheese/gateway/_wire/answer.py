"""What the client receives: an upstream completion's every text, and the completion built
from them once screened."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swisscheese.core import Content, Stage, ToolCall
from swisscheese.gateway._wire.models import FunctionCall
from swisscheese.gateway._wire.slots import Path, Slot, _call_back, _call_slot, spelled

_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}
SAFE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
# Model names as servers spell them: "meta-llama/Llama-3.1-8B-Instruct", "org/model@rev".
MODEL_ID = re.compile(r"[A-Za-z0-9_.:/@+\-]{1,256}")


@dataclass(slots=True)
class ChoiceOut:
    """One choice as screened: each field the client will see, and whether it was refused."""

    index: int
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, Any] | None = None
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None
    raw_content: str | None = None  # what the upstream sent, to check logprobs against


def answer_reads(answer: dict[str, Any], asked: tuple[Content, ...]) -> list[tuple[int, Slot]]:
    """Every piece of text in an upstream completion that would reach the client; ``asked`` is
    the conversation it answers (the trace its tool calls are checked against)."""
    choices = answer.get("choices")
    if not isinstance(choices, list):
        raise ValueError("the upstream model answered without choices")
    slots: list[tuple[int, Slot]] = []
    for n, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise ValueError("the upstream model answered with a malformed choice")
        message = _dict(choice.get("message"))
        where: Path = ("choices", n, "message")
        text = joined(message.get("content"))
        if text:
            content = Content(text, "assistant", Stage.OUTPUT, trace=asked)
            slots.append((n, Slot((*where, "content"), content)))
        if isinstance(message.get("refusal"), str) and message["refusal"]:
            content = Content(message["refusal"], "assistant", Stage.OUTPUT, trace=asked)
            slots.append((n, Slot((*where, "refusal"), content)))
        for key in ("reasoning_content", "reasoning"):
            if isinstance(message.get(key), str) and message[key]:
                content = Content(message[key], "assistant", Stage.REASONING)
                slots.append((n, Slot((*where, key), content)))
        for j, call in enumerate(_list(message.get("tool_calls"))):
            function = _function_of(call)
            path = (*where, "tool_calls", j, "function")
            slots.append((n, _call_slot(path, function, _TC, asked)))
        if isinstance(message.get("function_call"), dict):
            function = _function_of({"function": message["function_call"]})
            slots.append((n, _call_slot((*where, "function_call"), function, _TC, asked)))
    return slots


_TC = Stage.TOOL_CALL


def _function_of(call: Any) -> FunctionCall:
    function = call.get("function") if isinstance(call, dict) else None
    function = function if isinstance(function, dict) else {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments) if arguments is not None else ""
    return FunctionCall(name=str(function.get("name") or ""), arguments=arguments)


def _respelled(function: FunctionCall) -> dict[str, Any]:
    call = ToolCall.from_wire(function.name, function.arguments)
    return {"name": function.name, "arguments": spelled(dict(call.arguments))}


def joined(content: Any) -> str:
    """A message's text: the string, or its text parts joined (other parts are never sent)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def choices_from(answer: dict[str, Any]) -> list[ChoiceOut]:
    """The text fields of each choice as the upstream sent them, before screening applies."""
    out = []
    for n, choice in enumerate(_list(answer.get("choices"))):
        message = _dict(_dict(choice).get("message"))
        calls = [
            {
                "id": _safe_id(c.get("id") if isinstance(c, dict) else None, f"call_{n}_{j}"),
                "type": "function",
                "function": _respelled(_function_of(c)),
            }
            for j, c in enumerate(_list(message.get("tool_calls")))
        ]
        legacy = message.get("function_call")
        reasoning = next(
            (
                message[k]
                for k in ("reasoning_content", "reasoning")
                if isinstance(message.get(k), str)
            ),
            None,
        )
        text = joined(message.get("content"))
        out.append(
            ChoiceOut(
                index=n,
                content=text if message.get("content") is not None else None,
                refusal=message.get("refusal") if isinstance(message.get("refusal"), str) else None,
                reasoning=reasoning,
                tool_calls=calls or None,
                function_call=(
                    _respelled(_function_of({"function": legacy}))
                    if isinstance(legacy, dict)
                    else None
                ),
                finish_reason=choice.get("finish_reason"),
                logprobs=choice.get("logprobs")
                if isinstance(choice.get("logprobs"), dict)
                else None,
                raw_content=text,
            )
        )
    return out


def apply(choice: ChoiceOut, slot: Slot, text: str) -> None:
    """Put a screened (possibly modified) text into the choice at the slot's field."""
    field = slot.path[3]
    if field == "content":
        choice.content = text
    elif field == "refusal":
        choice.refusal = text
    elif field in ("reasoning_content", "reasoning"):
        choice.reasoning = text
    elif field == "tool_calls" and choice.tool_calls is not None:
        j = slot.path[4]
        assert isinstance(j, int)
        call = choice.tool_calls[j]
        call["function"] = _call_back(call["function"], text, slot)
    elif field == "function_call" and choice.function_call is not None:
        choice.function_call = _call_back(choice.function_call, text, slot)


def refuse(choice: ChoiceOut, message: str) -> None:
    choice.content, choice.refusal, choice.reasoning = message, None, None
    choice.tool_calls = choice.function_call = choice.logprobs = None
    choice.finish_reason = "content_filter"


def build_completion(
    answer: dict[str, Any], choices: Sequence[ChoiceOut], model: str, strip: Sequence[str] = ()
) -> dict[str, Any]:
    """The completion the client receives, built only from screened text and plain numbers.

    ``strip``: markers (the deployment's canary) removed from every text, whatever the
    verdicts said.
    """
    built = []
    for c in choices:
        message: dict[str, Any] = {"role": "assistant", "content": _strip(c.content, strip)}
        if c.refusal is not None:
            message["refusal"] = _strip(c.refusal, strip)
        if c.reasoning is not None:
            message["reasoning_content"] = _strip(c.reasoning, strip)
        if c.tool_calls:
            message["tool_calls"] = [_strip_call(call, strip) for call in c.tool_calls]
        if c.function_call is not None:
            message["function_call"] = _strip_call({"function": c.function_call}, strip)["function"]
        out: dict[str, Any] = {
            "index": c.index,
            "message": message,
            "finish_reason": c.finish_reason if c.finish_reason in _FINISH else "stop",
        }
        logprobs = _logprobs(c)
        if logprobs is not None:
            out["logprobs"] = logprobs
        built.append(out)
    completion: dict[str, Any] = {
        **envelope(answer, model),
        "object": "chat.completion",
        "choices": built,
    }
    usage = _usage(answer.get("usage"))
    if usage is not None:
        completion["usage"] = usage
    fingerprint = answer.get("system_fingerprint")
    if isinstance(fingerprint, str) and SAFE_ID.fullmatch(fingerprint):
        completion["system_fingerprint"] = fingerprint
    return completion


def envelope(answer: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The upstream's ``id``, ``created`` and ``model`` where they are safe to pass on, else
    the gateway's own."""
    return {
        "id": _safe_id(answer.get("id"), f"chatcmpl-{int(time.time() * 1000)}"),
        "created": _int(answer.get("created"), int(time.time())),
        "model": _model_id(answer.get("model"), model),
    }


def model_list(answer: Mapping[str, Any]) -> dict[str, Any]:
    """``/v1/models`` as the client receives it: each model's id, owner and creation time
    where they are plain identifiers and numbers; nothing else the upstream lists."""
    models = []
    for entry in _list(answer.get("data")):
        entry = _dict(entry)
        if not isinstance(entry.get("id"), str) or not MODEL_ID.fullmatch(entry["id"]):
            continue
        models.append(
            {
                "id": entry["id"],
                "object": "model",
                "created": _int(entry.get("created"), 0),
                "owned_by": _safe_id(entry.get("owned_by"), "upstream"),
            }
        )
    return {"object": "list", "data": models}


def completion_keys() -> frozenset[str]:
    """The field names a built completion may hold (its only strings besides screened text,
    fixed words and identifiers)."""
    return _KEYS


_KEYS = frozenset(
    {"id", "object", "created", "model", "choices", "index", "message", "role", "content",
     "refusal", "reasoning_content", "tool_calls", "type", "function", "name", "arguments",
     "function_call", "finish_reason", "logprobs", "token", "logprob", "bytes", "top_logprobs",
     "usage", "system_fingerprint"}
)  # fmt: skip


def _strip(text: str | None, markers: Sequence[str]) -> str | None:
    if text is None:
        return None
    for marker in markers:
        text = text.replace(marker, "")
    return text


def _strip_call(call: dict[str, Any], markers: Sequence[str]) -> dict[str, Any]:
    function = call["function"]
    return {
        **call,
        "function": {
            "name": _strip(function["name"], markers),
            "arguments": _strip(function["arguments"], markers),
        },
    }


def _logprobs(choice: ChoiceOut) -> dict[str, Any] | None:
    """Token log-probabilities only where the tokens spell exactly the text the client gets:
    after a redaction or a refusal they would spell out what was removed. The alternatives
    (``top_logprobs``) are tokens nobody screened, so they are dropped."""
    lp = choice.logprobs
    if lp is None or choice.finish_reason == "content_filter":
        return None
    tokens = lp.get("content")
    if not isinstance(tokens, list) or choice.content != choice.raw_content:
        return None
    kept = []
    for t in tokens:
        if not isinstance(t, dict) or not isinstance(t.get("token"), str):
            return None
        kept.append(
            {
                "token": t["token"],
                "logprob": _float(t.get("logprob")),
                "bytes": list(t["token"].encode()),
                "top_logprobs": [],
            }
        )
    if "".join(t["token"] for t in kept) != (choice.content or ""):
        return None
    return {"content": kept, "refusal": None}


def _usage(usage: Any) -> dict[str, Any] | None:
    """Token counts only: numbers, nested one level (prompt_tokens_details and the like)."""
    if not isinstance(usage, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in usage.items():
        if not isinstance(key, str) or not SAFE_ID.fullmatch(key):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value
        elif isinstance(value, dict):
            inner = {
                k: v
                for k, v in value.items()
                if isinstance(k, str)
                and SAFE_ID.fullmatch(k)
                and isinstance(v, int)
                and not isinstance(v, bool)
            }
            out[key] = inner
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _model_id(value: Any, default: str) -> str:
    return value if isinstance(value, str) and MODEL_ID.fullmatch(value) else default


def _safe_id(value: Any, default: str) -> str:
    return value if isinstance(value, str) and SAFE_ID.fullmatch(value) else default


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def refusal_completion(model: str, message: str) -> dict[str, Any]:
    return build_completion(
        {}, [ChoiceOut(0, content=message, finish_reason="content_filter")], model
    )
