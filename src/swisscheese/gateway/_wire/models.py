"""The chat completion request as the gateway accepts it: every field it forwards is
declared, and unknown fields are refused at every level."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swisscheese.core import Stage


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


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


def parts_text(parts: list[dict[str, Any]]) -> str:
    """The text of validated content parts (``text`` and ``refusal``), one per line."""
    return "\n".join(p.get("text") or p.get("refusal") or "" for p in parts)


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
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=16)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
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


class WatermarkDetectRequest(_Strict):
    text: str = Field(max_length=1_000_000)


def first_error(exc: ValidationError) -> tuple[str, str | None]:
    """The first validation problem as (message, param), the param in dotted form."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field: the gateway forwards nothing it does not screen"
    return (f"{where}: {message}" if where else message), (where or None)
