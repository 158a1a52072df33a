"""The shapes an upstream's answers and stream chunks must have.

Fields the gateway reads must have the documented types; anything else the upstream adds is
allowed here (and dropped when the answer is rebuilt). A number where text belongs is a broken
upstream, answered with a 502, never taken for an empty answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Function(_Loose):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class _Call(_Loose):
    index: int | None = None
    id: str | None = None
    function: _Function | None = None


class _Message(_Loose):
    content: str | list[dict[str, Any]] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[_Call] | None = None
    function_call: _Function | None = None


class _Choice(_Loose):
    index: int | None = None
    message: _Message
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class _Answer(_Loose):
    choices: list[_Choice]
    usage: dict[str, Any] | None = None


class _ChunkChoice(_Loose):
    index: int | None = None
    delta: _Message | None = None
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class _Chunk(_Loose):
    choices: list[_ChunkChoice] | None = None
    usage: dict[str, Any] | None = None


_ANSWER: TypeAdapter[_Answer] = TypeAdapter(_Answer)
_CHUNK: TypeAdapter[_Chunk] = TypeAdapter(_Chunk)


class ShapeError(ValueError):
    """An upstream answer or chunk whose known fields have the wrong types."""


def check_answer(answer: Any) -> None:
    _check(_ANSWER, answer, "answer")


def check_chunk(piece: Any) -> None:
    _check(_CHUNK, piece, "stream chunk")


def _check(adapter: TypeAdapter[Any], value: Any, what: str) -> None:
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        # Locations are declared field names and list indexes only: no upstream text.
        where = ".".join(str(p) for p in error["loc"]) or "the top level"
        raise ShapeError(
            f"the upstream model sent a malformed {what} ({where}: {error['msg']})"
        ) from None
