"""What the model reads: the request's every text, and the body forwarded once they are
screened."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from swisscheese.common.traces import joined, message_steps
from swisscheese.core import Content, Role, Stage, json_text, valid_text
from swisscheese.gateway._wire.models import ChatRequest, parts_text
from swisscheese.gateway._wire.slots import Path, Slot, _call_slot, put, tool_text


def request_reads(
    request: ChatRequest, steps: Sequence[tuple[Content, ...]] | None = None
) -> list[Slot]:
    """Everything in ``request`` that the model will read, each with its stage.

    Messages of every role pass the input layer (assistant turns too: the client writes them),
    tool results the retrieved layer, and definitions the model reads (tools, functions,
    response schemas) the retrieved layer, where instructions planted in them are looked for.
    A tool result carries the conversation before it as its trace (the user's task, the call
    that fetched it) and its tool's name as its source. ``steps``: the messages' steps
    (``common.traces.message_steps``), when the caller has them already.
    """
    slots: list[Slot] = []
    role: Role
    if steps is None:
        steps = message_steps([m.model_dump(exclude_none=True) for m in request.messages])
    conversation = joined(steps)
    read = 0  # steps of the conversation before message i
    for i, m in enumerate(request.messages):
        trace: tuple[Content, ...] = ()
        if m.role != "tool" and m.role != "function":
            stage, role, source = Stage.INPUT, m.role, None
        else:
            stage, role, source = Stage.RETRIEVED, "tool", steps[i][0].source
            trace = conversation[:read]
        read += len(steps[i])
        where: Path = ("messages", i)
        if isinstance(m.content, str) and m.content:
            content = Content(m.content, role, stage, source, trace=trace)
            slots.append(Slot((*where, "content"), content))
        elif isinstance(m.content, list) and m.content:
            content = Content(parts_text(m.content), role, stage, source, trace=trace)
            slots.append(Slot((*where, "content"), content, "parts"))
        for key in ("name", "refusal"):
            value = getattr(m, key)
            if value:
                slots.append(Slot((*where, key), Content(value, role, stage, source, trace=trace)))
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
        text = json_text(value)
        content = Content(text, "system", Stage.RETRIEVED, ".".join(map(str, path)))
        slots.append(Slot(path, content, "json"))
    return slots


def forward_body(request: ChatRequest, slots: Sequence[Slot], texts: Sequence[str | None]) -> Any:
    """The body sent upstream: the request as validated, each slot's modified text in place."""
    body = request.model_dump(exclude_none=True, by_alias=True)
    for slot, text in zip(slots, texts, strict=True):
        if text is None and slot.form == "tool_call":
            text = tool_text(slot)  # re-spelled from what was screened, changed or not
        if text is not None:
            put(body, slot, text)
    return body


def clean_json(value: Any) -> Any:
    """The parsed JSON with every string made valid Unicode (lone surrogates become U+FFFD)."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [clean_json(x) for x in value]
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    return value
