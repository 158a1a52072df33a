"""An agent's trace from OpenAI-style chat messages: what it read and did, in order.

Each message becomes one ``Content`` per text and one per tool call: system, developer and user
text; assistant text and each proposed call (``tool_call``); tool and function results with
``source`` set to the name of the tool that produced them (looked up by ``tool_call_id`` among
the calls before it), so rules can tell a bank statement from a web page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from swisscheese.core import Content, Role, Stage, ToolCall

_RESULT_ROLES = ("tool", "function")
_STAGE: dict[Role, Stage] = {
    "system": Stage.INPUT,
    "developer": Stage.INPUT,
    "user": Stage.INPUT,
    "assistant": Stage.OUTPUT,
}


class TraceError(ValueError):
    """A message that cannot be part of a trace (says which one and why)."""


def message_text(content: Any) -> str:
    """A message's text: the string, or its text and refusal parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, Mapping)
        )
    raise TraceError(f"content is a {type(content).__name__}, not text or parts")


def _calls(message: Mapping[str, Any]) -> Iterable[ToolCall]:
    for call in message.get("tool_calls") or ():
        if not isinstance(call, Mapping) or not isinstance(call.get("function"), Mapping):
            raise TraceError("a tool call without a function")
        function = call["function"]
        yield ToolCall.from_wire(
            str(function.get("name") or ""), function.get("arguments") or "{}", call.get("id")
        )
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping):
        yield ToolCall.from_wire(str(legacy.get("name") or ""), legacy.get("arguments") or "{}")


def trace_from_messages(messages: Iterable[Mapping[str, Any]]) -> tuple[Content, ...]:
    """The trace of a conversation in the OpenAI chat format (dicts, as sent on the wire)."""
    return joined(message_steps(messages))


def joined(steps: Iterable[tuple[Content, ...]]) -> tuple[Content, ...]:
    """Messages' steps (``message_steps``) as one trace."""
    return tuple(step for per_message in steps for step in per_message)


def message_steps(messages: Iterable[Mapping[str, Any]]) -> list[tuple[Content, ...]]:
    """Each message's steps of the trace, in order (a message with no text and no call has
    none), so a caller can give one message the trace of everything before it."""
    names: dict[str, str] = {}  # tool call id -> tool name, for the results that answer it
    out: list[tuple[Content, ...]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TraceError(f"message {i} is not an object")
        role = message.get("role")
        if role not in _STAGE and role not in _RESULT_ROLES:
            raise TraceError(f"message {i} has role {role!r}")
        try:
            if role in _RESULT_ROLES:
                out.append((_result(message, names),))
            else:
                out.append(_turn(message, role, names))
        except TraceError as exc:
            raise TraceError(f"message {i}: {exc}") from None
    return out


def _result(message: Mapping[str, Any], names: dict[str, str]) -> Content:
    """A tool or function result, named after the tool whose call it answers."""
    call_id = message.get("tool_call_id")
    source = names.get(str(call_id)) if call_id is not None else None
    source = source or message.get("name") or (str(call_id) if call_id else None)
    return Content(message_text(message.get("content")), "tool", Stage.RETRIEVED, source)


def _turn(message: Mapping[str, Any], role: Role, names: dict[str, str]) -> tuple[Content, ...]:
    """A system, developer, user or assistant message: its text, then each call it proposes."""
    text = message_text(message.get("content"))
    steps = [Content(text, role, _STAGE[role])] if text else []
    if role == "assistant":
        for call in _calls(message):
            if call.id:
                names[call.id] = call.name
            steps.append(Content("", "assistant", Stage.TOOL_CALL, call.name, call))
    return tuple(steps)
