"""The OpenAI-compatible gateway: every request and response passes the policy's layers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from swisscheese.core import Action, Content, Stage, ToolCall, Verdict
from swisscheese.gateway._access import AccessControl
from swisscheese.gateway._errors import ApiError, error_response
from swisscheese.gateway._metrics import Metrics
from swisscheese.gateway._tracing import Tracing
from swisscheese.gateway._upstream import Upstream
from swisscheese.guard import Guard
from swisscheese.recorder import RecordError

_INPUT_ROLES = {"system", "developer", "user"}
_RETRIEVED_ROLES = {"tool", "function"}


@dataclass(frozen=True)
class GatewaySettings:
    max_body_bytes: int = 1 << 20
    max_messages: int = 256
    max_depth: int = 32
    otel: bool = True
    """Emit OpenTelemetry spans when opentelemetry-api is installed."""
    otel_content: bool = False
    """Put message content in the spans (off: only models, actions, categories, usage)."""
    stream_mode: Literal["buffer"] = "buffer"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class GuardCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Stage
    content: str


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


_Body = TypeVar("_Body", bound=BaseModel)


class _Records:
    """The durable writes of one request's verdicts, settled before it is answered."""

    def __init__(self) -> None:
        self.waiting: list[Awaitable[Verdict]] = []

    async def settle(self) -> list[Verdict]:
        waiting, self.waiting = self.waiting, []
        try:
            return list(await asyncio.gather(*waiting))
        except RecordError as exc:
            raise ApiError(503, f"the flight recorder is unavailable: {exc}") from None

    async def discard(self) -> None:
        """On an error path: let pending writes finish (they stay in the record)."""
        waiting, self.waiting = self.waiting, []
        await asyncio.gather(*waiting, return_exceptions=True)


def _summary(parts: dict[str, Sequence[Verdict]]) -> str:
    fields = []
    overall = Action.ALLOW
    for stage, verdicts in parts.items():
        if verdicts:
            action = max(v.action for v in verdicts)
            overall = max(overall, action)
            fields.append(f"{stage}={action.value}")
    return "; ".join([f"action={overall.value}", *fields])


def _records(verdicts: Sequence[Verdict]) -> str:
    return ",".join(str(v.record.get("index", "queued")) for v in verdicts if v.record)


def create_app(
    guard: Guard,
    upstream: Upstream,
    settings: GatewaySettings | None = None,
    access: AccessControl | None = None,
) -> FastAPI:
    """The gateway app. Without ``access`` it needs no API keys (embed it behind your own)."""
    settings = settings or GatewaySettings()
    metrics = Metrics()
    tracing = Tracing(settings.otel, settings.otel_content)
    access = access or AccessControl(None, guard.deployment, require_auth=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.aclose()

    app = FastAPI(title="swisscheese gateway", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        metrics.errors.labels(kind=str(exc.status)).inc()
        return exc.response()

    async def read_json(request: Request) -> Any:
        if "json" not in request.headers.get("content-type", ""):
            raise ApiError(415, "send the body as application/json")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise ApiError(413, f"request body over {settings.max_body_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                raise ApiError(413, f"request body over {settings.max_body_bytes} bytes")
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, f"invalid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, f"JSON nested deeper than {settings.max_depth}") from None
        if _depth(value, settings.max_depth) > settings.max_depth:
            raise ApiError(400, f"JSON nested deeper than {settings.max_depth}")
        return value

    async def screen(
        items: list[tuple[Stage, Content]], records: _Records | None = None
    ) -> list[Verdict]:
        """Screen concurrently. With ``records`` the durable writes go on in the background
        and the caller settles them before answering; without, each is awaited here."""
        t0 = time.perf_counter()
        if records is None:
            try:
                verdicts = list(await asyncio.gather(*(guard.check(s, c) for s, c in items)))
            except RecordError as exc:
                # Fail closed: nothing goes on that the record cannot prove.
                raise ApiError(503, f"the flight recorder is unavailable: {exc}") from None
        else:
            results = await asyncio.gather(*(guard.check_deferred(s, c) for s, c in items))
            verdicts = [v for v, _ in results]
            records.waiting += [r for _, r in results if r is not None]
        elapsed = time.perf_counter() - t0
        for (stage, _), verdict in zip(items, verdicts, strict=True):
            metrics.observe(verdict, stage, elapsed)
        return verdicts

    def refusal(stage: Stage) -> str:
        layer = guard.compiled.layer_for(stage)
        return layer.layer.refusal if layer is not None else "I can't help with that request."

    async def admit(request: Request) -> None:
        key = await access.authenticate(request.headers.get("authorization"))
        access.limit(key)
        await access.check_halt()

    async def admitted_body(request: Request, model: type[_Body]) -> _Body:
        """Admit the caller, then read and validate the JSON body (422 names the field)."""
        await admit(request)
        raw = await read_json(request)
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(422, _first_error(exc), param=_first_param(exc)) from None

    async def intervene(verdicts: Sequence[Verdict], headers: dict[str, str]) -> str | None:
        """The refusal to send instead of the content, or None to go on (HALT stops the
        deployment; ESCALATE waits for a human up to the layer's approval_timeout)."""
        stopping = [v for v in verdicts if v.action.stops]
        if not stopping:
            return None
        worst = max(stopping, key=lambda v: v.action.rank)
        message = refusal(worst.stage)
        if worst.action is Action.HALT:
            await access.halt(worst)
            headers["x-swisscheese-reason"] = "deployment halted"
            return message
        if worst.action is Action.BLOCK:
            return message
        layer = guard.compiled.layer_for(worst.stage)
        timeout = layer.layer.approval_timeout if layer is not None else 0.0
        approved, approval_id = await access.escalate(worst, timeout)
        if approval_id:
            headers["x-swisscheese-approval"] = approval_id
        if approved:
            return None
        headers["x-swisscheese-reason"] = "approval required"
        return message

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "deployment": guard.deployment, "policy": guard.policy_digest}

    @app.get("/metrics")
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        await admit(request)
        return await upstream.models()

    @app.post("/v1/guard/check")
    async def detect_only(request: Request) -> JSONResponse:
        body = await admitted_body(request, GuardCheckRequest)
        (verdict,) = await screen([(body.stage, Content(body.content, stage=body.stage))])
        return JSONResponse(
            verdict.to_dict(),
            headers={
                "x-swisscheese-verdict": _summary({body.stage.value: [verdict]}),
                "x-swisscheese-record": _records([verdict]),
            },
        )

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Response:
        body = await admitted_body(request, ChatRequest)
        if len(body.messages) > settings.max_messages:
            raise ApiError(400, f"more than {settings.max_messages} messages", param="messages")

        # Input side: user/system text at INPUT, tool results at RETRIEVED.
        items: list[tuple[Stage, Content]] = []
        positions: list[int] = []
        for i, message in enumerate(body.messages):
            if message.role in _INPUT_ROLES:
                stage = Stage.INPUT
            elif message.role in _RETRIEVED_ROLES:
                stage = Stage.RETRIEVED
            else:
                continue
            text = _text(message.content)
            if text:
                role = "tool" if message.role == "function" else message.role
                items.append((stage, Content(text, role=role, stage=stage)))
                positions.append(i)
        records = _Records()
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        with tracing.chat(body.model, messages) as span:
            try:
                return await _chat(body, items, positions, records, span)
            finally:
                await records.discard()

    async def _chat(
        body: ChatRequest,
        items: list[tuple[Stage, Content]],
        positions: list[int],
        records: _Records,
        span: Any,
    ) -> Response:
        # The input verdicts' durable writes overlap the model call; every write is settled
        # before the client gets an answer.
        incoming = await screen(items, records)
        tracing.verdicts(span, "input", incoming)
        headers = {"x-swisscheese-verdict": _summary({"input": incoming})}
        refused = await intervene(incoming, headers)
        if refused is not None:
            headers["x-swisscheese-record"] = _records(await records.settle())
            metrics.requests.labels(outcome="blocked_input").inc()
            return _refused(body, refused, headers)
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        for position, verdict in zip(positions, incoming, strict=True):
            if verdict.modified is not None:
                messages[position]["content"] = verdict.modified
        forward = {**body.model_dump(exclude_none=True), "messages": messages}

        # The request the answer responds to: monitors of responses read it (harmful-output).
        asked = tuple(c for _, c in items if c.role == "user")[-1:]
        if body.stream:
            return await _streamed(forward, incoming, headers, records, asked)
        t_up = time.perf_counter()
        answer = await upstream.chat(forward)
        metrics.upstream_latency.observe(time.perf_counter() - t_up)
        outgoing = await _screen_answer(answer, headers, records, asked)
        tracing.verdicts(span, "output", outgoing)
        tracing.answer(span, answer)
        headers["x-swisscheese-verdict"] = _summary({"input": incoming, "output": outgoing})
        headers["x-swisscheese-record"] = _records(await records.settle())
        metrics.requests.labels(outcome="completed").inc()
        return JSONResponse(answer, headers=headers)

    async def _screen_answer(
        answer: dict[str, Any],
        headers: dict[str, str],
        records: _Records | None = None,
        asked: tuple[Content, ...] = (),
    ) -> list[Verdict]:
        """Screen every choice's text, reasoning and tool calls; apply the verdicts in place."""
        choices = answer.get("choices")
        if not isinstance(choices, list):
            raise ApiError(502, "the upstream model answered without choices")
        verdicts: list[Verdict] = []
        for choice in choices:
            message = choice.get("message") or {}
            checks: list[tuple[Stage, Content, str]] = []
            text = _text(message.get("content"))
            if text:
                output = Content(text, role="assistant", stage=Stage.OUTPUT, trace=asked)
                checks.append((Stage.OUTPUT, output, "content"))
            for key in ("reasoning_content", "reasoning"):
                if isinstance(message.get(key), str) and message[key]:
                    checks.append(
                        (
                            Stage.REASONING,
                            Content(message[key], role="assistant", stage=Stage.REASONING),
                            key,
                        )
                    )
            for call in message.get("tool_calls") or []:
                checks.append((Stage.TOOL_CALL, _tool_call_content(call), "tool_calls"))
            found = await screen([(s, c) for s, c, _ in checks], records)
            verdicts += found
            refused = await intervene(found, headers)
            if refused is not None:
                choice["message"] = {"role": "assistant", "content": refused}
                choice["finish_reason"] = "content_filter"
                continue
            for (_, _, key), verdict in zip(checks, found, strict=True):
                if verdict.modified is not None and key != "tool_calls":
                    message[key] = verdict.modified
        return verdicts

    async def _streamed(
        forward: dict[str, Any],
        incoming: list[Verdict],
        headers: dict[str, str],
        records: _Records,
        asked: tuple[Content, ...],
    ) -> StreamingResponse:
        layer = guard.compiled.layer_for(Stage.OUTPUT)
        if layer is not None and layer.layer.stream_mode == "window" and forward.get("n", 1) == 1:
            headers["x-swisscheese-record"] = _records(await records.settle())
            return _windowed(forward, headers, layer.layer.stream_window, asked)
        # Buffer mode: the whole answer is collected and screened before a byte of it leaves.
        t_up = time.perf_counter()
        chunks = [chunk async for chunk in upstream.stream(forward)]
        metrics.upstream_latency.observe(time.perf_counter() - t_up)
        answer = _assemble(chunks)
        original = json.dumps(answer["choices"])
        outgoing = await _screen_answer(answer, headers, records, asked)
        headers["x-swisscheese-verdict"] = _summary({"input": incoming, "output": outgoing})
        headers["x-swisscheese-record"] = _records(await records.settle())
        replay = chunks if json.dumps(answer["choices"]) == original else _rechunk(answer)
        metrics.requests.labels(outcome="completed").inc()

        async def events() -> AsyncIterator[bytes]:
            for chunk in replay:
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    def _windowed(
        forward: dict[str, Any], headers: dict[str, str], window: int, asked: tuple[Content, ...]
    ) -> StreamingResponse:
        """Window mode: text leaves once the ``window`` characters after it were checked too;
        a violation ends the stream with finish_reason content_filter. Tool calls and
        reasoning are held to the end and screened whole."""
        headers["x-swisscheese-stream"] = f"window={window}"

        async def events() -> AsyncIterator[bytes]:
            text = ""
            released = 0
            raw: list[dict[str, Any]] = []
            base: dict[str, Any] = {}
            outcome = "aborted"  # until the end is reached
            finish: str | None = None
            checked: list[Verdict] = []

            def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
                body = {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
                }
                return b"data: " + json.dumps(body).encode() + b"\n\n"

            async def check() -> bool:
                """Screen the text from a window before what is released; False: cut."""
                nonlocal text
                start = max(0, released - window)
                region = text[start:]
                region_content = Content(region, role="assistant", stage=Stage.OUTPUT, trace=asked)
                (verdict,) = await screen([(Stage.OUTPUT, region_content)])
                checked.append(verdict)
                if await intervene([verdict], {}) is not None:
                    return False
                if verdict.modified is not None:
                    keep = released - start
                    if verdict.modified[:keep] != region[:keep]:
                        return False  # a change reaches text already sent: stop instead
                    text = text[:start] + verdict.modified
                return True

            try:
                yield chunk({"role": "assistant"})
                async for piece in upstream.stream(forward):
                    base = base or {k: piece.get(k) for k in ("id", "created", "model")}
                    raw.append(piece)
                    for c in piece.get("choices") or []:
                        delta = c.get("delta") or {}
                        if isinstance(delta.get("content"), str):
                            text += delta["content"]
                        finish = c.get("finish_reason") or finish
                    if len(text) - released >= 2 * window:
                        if not await check():
                            outcome, finish = "cut", "content_filter"
                            yield chunk({}, "content_filter")
                            break
                        upto = len(text) - window
                        yield chunk({"content": text[released:upto]})
                        released = upto
                else:
                    if text and not await check():
                        outcome, finish = "cut", "content_filter"
                        yield chunk({}, "content_filter")
                    else:
                        if len(text) > released:
                            yield chunk({"content": text[released:]})
                            released = len(text)
                        held = _assemble(raw)["choices"]
                        message = held[0]["message"] if held else {}
                        message.pop("content", None)
                        extra = {k: v for k, v in message.items() if k != "role"}
                        if extra:
                            choice: dict[str, Any] = {
                                "index": 0,
                                "message": message,
                                "finish_reason": finish,
                            }
                            checked += await _screen_answer({"choices": [choice]}, {}, None, asked)
                            if choice["finish_reason"] == "content_filter":
                                finish = "content_filter"
                            else:
                                held_delta: dict[str, Any] = {
                                    k: v for k, v in choice["message"].items() if k != "role"
                                }
                                for i, call in enumerate(held_delta.get("tool_calls") or []):
                                    call["index"] = i
                                yield chunk(held_delta)
                        outcome = "cut" if finish == "content_filter" else "completed"
                        yield chunk({}, finish or "stop")
                yield b"data: [DONE]\n\n"
            finally:
                # What was emitted, next to the verdicts on what was checked.
                if guard.recorder is not None:
                    recorder = guard.recorder
                    recorder.submit(
                        recorder.prepare(
                            "stream",
                            {
                                "deployment": guard.deployment,
                                "outcome": outcome,
                                "finish_reason": finish,
                                "emitted_chars": released,
                                "checks": [v.id for v in checked],
                            },
                            {"emitted": text[:released]},
                        )
                    )
                metrics.requests.labels(outcome=f"stream_{outcome}").inc()

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return app


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, counted without recursion (stops past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _tool_call_content(call: dict[str, Any]) -> Content:
    function = call.get("function") or {}
    raw = function.get("arguments") or "{}"
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        arguments = {"_raw": raw}
    if not isinstance(arguments, dict):
        arguments = {"_value": arguments}
    tool_call = ToolCall(str(function.get("name", "")), arguments, call.get("id"))
    return Content("", role="assistant", stage=Stage.TOOL_CALL, tool_call=tool_call)


def _refused(body: ChatRequest, message: str, headers: dict[str, str]) -> Response:
    completion = {
        "id": f"chatcmpl-refused-{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": message},
                "finish_reason": "content_filter",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    if not body.stream:
        return JSONResponse(completion, headers=headers)
    return StreamingResponse(
        _sse(_rechunk(completion)), media_type="text/event-stream", headers=headers
    )


async def _sse(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def _assemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A streamed answer put together as one completion (content, reasoning, tool calls)."""
    first = chunks[0] if chunks else {}
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for c in chunk.get("choices") or []:
            slot = choices.setdefault(
                int(c.get("index", 0)),
                {
                    "index": int(c.get("index", 0)),
                    "message": {"role": "assistant"},
                    "finish_reason": None,
                },
            )
            delta = c.get("delta") or {}
            message = slot["message"]
            for key in ("content", "reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str):
                    message[key] = message.get(key, "") + delta[key]
            for tc in delta.get("tool_calls") or []:
                calls = message.setdefault("tool_calls", [])
                i = int(tc.get("index", len(calls)))
                while len(calls) <= i:
                    calls.append(
                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                target = calls[i]
                if tc.get("id"):
                    target["id"] = tc["id"]
                fn = tc.get("function") or {}
                target["function"]["name"] += fn.get("name") or ""
                target["function"]["arguments"] += fn.get("arguments") or ""
            if c.get("finish_reason"):
                slot["finish_reason"] = c["finish_reason"]
    return {
        "id": first.get("id", "chatcmpl-stream"),
        "object": "chat.completion",
        "created": first.get("created", int(time.time())),
        "model": first.get("model", ""),
        "choices": [choices[i] for i in sorted(choices)],
    }


def _rechunk(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A completion as stream chunks: one delta per choice, then its finish reason."""
    base = {
        "id": answer.get("id"),
        "object": "chat.completion.chunk",
        "created": answer.get("created"),
        "model": answer.get("model"),
    }
    chunks = []
    for choice in answer["choices"]:
        delta = {k: v for k, v in choice["message"].items() if v is not None}
        for call_index, call in enumerate(delta.get("tool_calls") or []):
            call["index"] = call_index
        chunks.append(
            {**base, "choices": [{"index": choice["index"], "delta": delta, "finish_reason": None}]}
        )
        chunks.append(
            {
                **base,
                "choices": [
                    {
                        "index": choice["index"],
                        "delta": {},
                        "finish_reason": choice.get("finish_reason"),
                    }
                ],
            }
        )
    return chunks


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _first_param(exc: ValidationError) -> str | None:
    loc = exc.errors()[0]["loc"]
    return ".".join(str(p) for p in loc) or None
