"""The OpenAI chat wire format at the gateway's edge.

Two functions carry the every-byte rule: ``request_reads`` turns a request into every piece of
text the model will read (each a ``Slot``: where it sits, and the ``Content`` to screen), and
``build_completion`` builds everything the client receives from screened text alone. The
request models forbid unknown fields at every level, so nothing is forwarded unread; the
response is rebuilt field by field, so nothing the upstream adds reaches the client unscreened.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swisscheese.core import Content, Role, Stage, ToolCall, canonical_json, valid_text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionCall(_Strict):
    name: str
    arguments: str = ""


_ID = r"^[A-Za-z0-9_.:\-]{1,128}$"


class ToolCallIn(_Strict):
    id: str = Field(pattern=_ID)
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionDef(_Strict):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDef(_Strict):
    type: Literal["function"] = "function"
    function: FunctionDef


class JsonSchemaFormat(_Strict):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class NamedFunction(_Strict):
    name: str


class NamedTool(_Strict):
    type: Literal["function"] = "function"
    function: NamedFunction


class StreamOptions(_Strict):
    include_usage: bool | None = None


# The only content parts a monitor can read. Images, audio and files would reach the model
# unscreened, so a request holding them is refused (400) rather than forwarded.
_TEXT_PARTS = {"text": "text", "refusal": "refusal"}


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = Field(default=None, pattern=_ID)
    function_call: FunctionCall | None = None
    refusal: str | None = None

    @model_validator(mode="after")
    def _readable_parts(self) -> ChatMessage:
        for i, part in enumerate(self.content if isinstance(self.content, list) else []):
            kind = part.get("type")
            key = _TEXT_PARTS.get(kind) if isinstance(kind, str) else None
            if key is None:
                raise ValueError(
                    f"content[{i}]: parts of type {kind!r} cannot be screened; "
                    "only 'text' parts are accepted"
                )
            if set(part) != {"type", key} or not isinstance(part[key], str):
                raise ValueError(f"content[{i}]: a {kind!r} part is {{'type', {key!r}: string}}")
        return self


class ChatRequest(_Strict):
    """A chat completion request; every field the gateway forwards is declared here."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    # Sampling parameters: numbers and enums, nothing the model reads as text.
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = Field(default=None, ge=1, le=16)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    service_tier: str | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    # Definitions the model reads: screened at the retrieved stage.
    tools: list[ToolDef] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedTool | None = None
    functions: list[FunctionDef] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    response_format: ResponseFormat | None = None


class GuardCheckRequest(_Strict):
    stage: Stage
    content: str


Path = tuple[str | int, ...]
Form = Literal["text", "parts", "json", "tool_call"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One piece of text the model reads (or the client receives), and where it sits.

    ``form`` says how a modified text goes back: ``text`` as it is, ``parts`` as the message's
    whole content, ``json`` parsed back into the value, ``tool_call`` into name and arguments.
    """

    path: Path
    content: Content
    form: Form = "text"


class Unmappable(ValueError):
    """A modification that cannot be put back into the structure it came from."""


def request_reads(request: ChatRequest) -> list[Slot]:
    """Everything in ``request`` that the model will read, each with its stage.

    Messages of every role pass the input layer (assistant turns too: the client writes them),
    tool results the retrieved layer, and definitions the model reads (tools, functions,
    response schemas) the retrieved layer, where instructions planted in them are looked for.
    """
    slots: list[Slot] = []
    role: Role
    for i, m in enumerate(request.messages):
        if m.role != "tool" and m.role != "function":
            stage, role, source = Stage.INPUT, m.role, None
        else:
            stage, role, source = Stage.RETRIEVED, "tool", m.tool_call_id or m.name
        where: Path = ("messages", i)
        if isinstance(m.content, str) and m.content:
            slots.append(Slot((*where, "content"), Content(m.content, role, stage, source)))
        elif isinstance(m.content, list) and m.content:
            text = "\n".join(p.get("text") or p.get("refusal") or "" for p in m.content)
            slots.append(Slot((*where, "content"), Content(text, role, stage, source), "parts"))
        for key in ("name", "refusal"):
            value = getattr(m, key)
            if value:
                slots.append(Slot((*where, key), Content(value, role, stage, source)))
        for j, call in enumerate(m.tool_calls or []):
            slots.append(_call_slot((*where, "tool_calls", j, "function"), call.function, stage))
        if m.function_call is not None:
            slots.append(_call_slot((*where, "function_call"), m.function_call, stage))
    definitions: list[tuple[Path, BaseModel]] = [
        *((("tools", i), t) for i, t in enumerate(request.tools or [])),
        *((("functions", i), f) for i, f in enumerate(request.functions or [])),
    ]
    if request.response_format is not None and request.response_format.json_schema is not None:
        definitions.append(
            (("response_format", "json_schema"), request.response_format.json_schema)
        )
    for path, definition in definitions:
        value = definition.model_dump(exclude_none=True, by_alias=True)
        text = canonical_json(value).decode()
        content = Content(text, "system", Stage.RETRIEVED, ".".join(map(str, path)))
        slots.append(Slot(path, content, "json"))
    return slots


def _call_slot(path: Path, function: FunctionCall, stage: Stage) -> Slot:
    call = ToolCall(function.name, _arguments(function.arguments))
    content = Content("", "assistant", stage, tool_call=call)
    return Slot(path, content, "tool_call")


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {"_raw": raw}
    if isinstance(arguments, dict):
        return arguments
    return {"_raw": raw} if isinstance(raw, str) else {"_value": arguments}


def forward_body(request: ChatRequest, slots: Sequence[Slot], texts: Sequence[str | None]) -> Any:
    """The body sent upstream: the request as validated, each slot's modified text in place."""
    body = request.model_dump(exclude_none=True, by_alias=True)
    for slot, text in zip(slots, texts, strict=True):
        if text is None and slot.form == "tool_call":
            text = tool_text(slot)  # re-spelled from what was screened, changed or not
        if text is not None:
            put(body, slot, text)
    return body


def put(body: Any, slot: Slot, text: str) -> None:
    """Write a modified text back at the slot's place (raises Unmappable if it cannot)."""
    *parents, last = slot.path
    target = body
    for key in parents:
        target = target[key]
    if slot.form in ("text", "parts"):
        target[last] = text
    elif slot.form == "json":
        try:
            target[last] = json.loads(text)
        except ValueError:
            raise Unmappable(f"{'.'.join(map(str, slot.path))}: redaction broke its JSON") from None
    else:
        target[last] = _call_back(target[last], text, slot)


def _call_back(function: dict[str, Any], text: str, slot: Slot) -> dict[str, Any]:
    try:
        value = json.loads(text)
        name, arguments = value["name"], value["arguments"]
    except (ValueError, KeyError, TypeError):
        raise Unmappable(f"{'.'.join(map(str, slot.path))}: redaction broke the call") from None
    if not isinstance(arguments, dict):
        raise Unmappable(f"{'.'.join(map(str, slot.path))}: redaction broke the call")
    raw = spelled(arguments)
    return {**function, "name": str(name), "arguments": raw}


def spelled(arguments: dict[str, Any]) -> str:
    """Arguments as the JSON text that is forwarded or returned: always re-serialised from what
    was screened, so a second spelling (a duplicate key that another parser would read
    first) never travels on."""
    if set(arguments) == {"_raw"} and isinstance(arguments["_raw"], str):
        return arguments["_raw"]
    if set(arguments) == {"_value"}:
        return json.dumps(arguments["_value"], ensure_ascii=False)
    return json.dumps(arguments, ensure_ascii=False)


def tool_text(slot: Slot) -> str:
    """The text the client would see for a tool-call slot (for logs and tests)."""
    call = slot.content.tool_call
    assert call is not None
    return canonical_json({"name": call.name, "arguments": dict(call.arguments)}).decode()


# -- what the client receives -----------------------------------------------------------------

_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


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
    """Every piece of text in an upstream completion that would reach the client."""
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
            slots.append((n, _call_slot((*where, "tool_calls", j, "function"), function, _TC)))
        if isinstance(message.get("function_call"), dict):
            function = _function_of({"function": message["function_call"]})
            slots.append((n, _call_slot((*where, "function_call"), function, _TC)))
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
    return {"name": function.name, "arguments": spelled(_arguments(function.arguments))}


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
        "id": _safe_id(answer.get("id"), f"chatcmpl-{int(time.time() * 1000)}"),
        "object": "chat.completion",
        "created": _int(answer.get("created"), int(time.time())),
        "model": _safe_id(answer.get("model"), model),
        "choices": built,
    }
    usage = _usage(answer.get("usage"))
    if usage is not None:
        completion["usage"] = usage
    fingerprint = answer.get("system_fingerprint")
    if isinstance(fingerprint, str) and _SAFE_ID.fullmatch(fingerprint):
        completion["system_fingerprint"] = fingerprint
    return completion


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
        if not isinstance(key, str) or not _SAFE_ID.fullmatch(key):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value
        elif isinstance(value, dict):
            inner = {
                k: v
                for k, v in value.items()
                if isinstance(k, str)
                and _SAFE_ID.fullmatch(k)
                and isinstance(v, int)
                and not isinstance(v, bool)
            }
            out[key] = inner
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _safe_id(value: Any, default: str) -> str:
    return value if isinstance(value, str) and _SAFE_ID.fullmatch(value) else default


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def refusal_completion(model: str, message: str) -> dict[str, Any]:
    return build_completion(
        {}, [ChoiceOut(0, content=message, finish_reason="content_filter")], model
    )


# -- streaming ---------------------------------------------------------------------------------


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


def rechunk(completion: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A built completion as stream chunks: one delta per choice, then its finish reason."""
    for choice in completion["choices"]:
        base = {**completion, "index": choice["index"]}
        delta = {k: v for k, v in choice["message"].items() if v is not None}
        for i, call in enumerate(delta.get("tool_calls") or []):
            delta["tool_calls"][i] = {"index": i, **call}
        yield chunk(base, delta)
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


def first_error(exc: ValidationError) -> tuple[str, str | None]:
    """The first validation problem as (message, param), the param in dotted form."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field: the gateway forwards nothing it does not screen"
    return (f"{where}: {message}" if where else message), (where or None)


def clean_json(value: Any) -> tuple[Any, bool]:
    """The parsed JSON with every string made valid Unicode (lone surrogates become U+FFFD),
    and whether anything had to change."""
    changed = False

    def walk(item: Any) -> Any:
        nonlocal changed
        if isinstance(item, str):
            fixed = valid_text(item)
            changed = changed or fixed is not item
            return fixed
        if isinstance(item, list):
            return [walk(x) for x in item]
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        return item

    return walk(value), changed
