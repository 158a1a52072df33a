"""A ``Slot``: one text a model reads or a client receives, where it sits in the JSON, and how
a modified text goes back there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from swisscheese.core import Content, Stage, ToolCall
from swisscheese.gateway._wire.models import FunctionCall
from swisscheese.guard import text_of

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


def _call_slot(
    path: Path, function: FunctionCall, stage: Stage, trace: tuple[Content, ...] = ()
) -> Slot:
    """A tool call's slot; ``trace`` is what the agent read and did before it (flow rules)."""
    call = ToolCall.from_wire(function.name, function.arguments)
    content = Content("", "assistant", stage, tool_call=call, trace=trace)
    return Slot(path, content, "tool_call")


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
    """The text the monitors read for a tool-call slot (as the Guard spells it)."""
    return text_of(slot.content)
