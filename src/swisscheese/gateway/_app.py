"""The OpenAI-compatible gateway: routes over the chat pipeline. ``create_app`` only wires."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from swisscheese.agents.identity import TokenVerifier
from swisscheese.common.traces import joined, message_steps
from swisscheese.core import Content, Stage, Verdict
from swisscheese.core.acting import ACTING_AGENT
from swisscheese.gateway import _provenance as provenance
from swisscheese.gateway import _wire as wire
from swisscheese.gateway._access import AccessControl
from swisscheese.gateway._agents import CALLER, caller_of
from swisscheese.gateway._errors import ApiError, error_response
from swisscheese.gateway._limits import BodyLimits
from swisscheese.gateway._metrics import Metrics
from swisscheese.gateway._pipeline import (
    ChatPipeline,
    Durability,
    Intervention,
    Records,
    WindowedStream,
    by_stage,
    receipts,
    summary,
)
from swisscheese.gateway._tracing import Tracing
from swisscheese.gateway._upstream import Upstream
from swisscheese.guard import Guard
from swisscheese.learned.causal_lm import PREFILL_SCOPE
from swisscheese.provenance import ProvenanceError, StatementSigner, answer_bundle
from swisscheese.recorder.events import CapabilityDenied


@dataclass(frozen=True)
class GatewaySettings:
    max_body_bytes: int = 1 << 20
    max_messages: int = 256
    max_depth: int = 32
    otel: bool = True
    """Emit OpenTelemetry spans when opentelemetry-api is installed."""
    otel_content: bool = False
    """Put message content in the spans (off: only models, actions, categories, usage)."""
    body_timeout_s: float = 30.0
    """A request body not received in full within this time is refused (408)."""
    durability: Durability = "request"
    """When a request's flight-recorder entries are written: ``request``, together in one
    transaction just before the answer (one fsync); ``stage``, each stage's as soon as it is
    screened (two writes; the input is on record even if the process dies during the model
    call). Either way nothing reaches the client before it is durable."""
    public_metrics: bool = False
    """Serve /metrics and /openapi.json without an API key (when keys are required)."""
    canary: Literal["system", "off"] = "system"
    """Where the policy's canary goes: into the request's first system or developer message
    (requests without one have no instructions to leak), or nowhere."""
    provenance: StatementSigner | None = None
    """Sign an output statement for every released answer (needs the recorder's log key: the
    same key signs statements and checkpoints)."""
    watermark_detect: Callable[[str], dict[str, Any]] | None = None
    """Test a text for the policy's watermark (set when the local model applies one)."""
    agent_tokens: TokenVerifier | None = None
    """Accept agent capability tokens issued by this root (``swisscheese agents``)."""
    require_agent: bool = False
    """Refuse requests that do not act for an agent run with a valid token."""


@dataclass
class _State:
    guard: Guard
    upstream: Upstream
    access: AccessControl
    settings: GatewaySettings
    metrics: Metrics
    tracing: Tracing
    pipeline: ChatPipeline


_Body = TypeVar("_Body", bound=BaseModel)
router = APIRouter()


def create_app(
    guard: Guard,
    upstream: Upstream,
    settings: GatewaySettings | None = None,
    access: AccessControl | None = None,
) -> FastAPI:
    """The gateway app. Without ``access`` it needs no API keys (embed it behind your own)."""
    settings = settings or GatewaySettings()
    metrics = Metrics()
    access = access or AccessControl(None, guard.deployment, require_auth=False)
    if access.ops is not None and access.ops.recorder is None:
        access.ops.recorder = guard.recorder  # halts and approvals go into the same log
    if access.store is not None:
        # Operators name deployments the gateways registered; a typo is then an error.
        served = getattr(upstream, "base_url", None) or type(upstream).__name__
        access.store.register_deployment(guard.deployment, guard.policy_digest, str(served))
    pipeline = ChatPipeline(
        guard, upstream, access, metrics, place_canary=settings.canary == "system"
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if access.watch is not None:
            access.watch.start()
        try:
            yield
        finally:
            if access.watch is not None:
                access.watch.stop()
            await upstream.aclose()

    app = FastAPI(
        title="swisscheese gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by a route of ours, behind the key unless public_metrics
    )
    app.state.gateway = _State(
        guard,
        upstream,
        access,
        settings,
        metrics,
        Tracing(settings.otel, settings.otel_content),
        pipeline,
    )
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(router)
    app.add_middleware(
        BodyLimits, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    return app


def _state(request: Request) -> _State:
    state: _State = request.app.state.gateway
    return state


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    _state(request).metrics.errors.labels(kind=str(exc.status)).inc()
    return exc.response()


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Still the OpenAI format, still counted; the request's verdicts were recorded as usual.
    _state(request).metrics.errors.labels(kind="500").inc()
    return error_response(500, f"internal error: {type(exc).__name__}")


async def _read_json(request: Request, settings: GatewaySettings) -> Any:
    """The body as JSON, no deeper than ``max_depth``, its strings valid Unicode (its size and
    arrival are limited by ``BodyLimits`` as it is read)."""
    if "json" not in request.headers.get("content-type", ""):
        raise ApiError(415, "send the body as application/json")
    body = await request.body()
    try:
        value = json.loads(body, parse_constant=_no_constants)
    except ValueError as exc:
        raise ApiError(400, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, f"JSON nested deeper than {settings.max_depth}") from None
    if _depth(value, settings.max_depth) > settings.max_depth:
        raise ApiError(400, f"JSON nested deeper than {settings.max_depth}")
    if b"\\u" in body:
        # Only a \\u escape can spell a lone surrogate in valid UTF-8 JSON.
        value = wire.clean_json(value)
    return value


def _no_constants(name: str) -> Any:
    # Python's parser takes NaN and Infinity; JSON has neither.
    raise ValueError(f"{name} is not JSON")


async def _admit(request: Request) -> None:
    access = _state(request).access
    key = await access.authenticate(request.headers.get("authorization"))
    access.limit(key)
    await access.check_halt()


async def _admitted_body(request: Request, model: type[_Body]) -> _Body:
    """Admit the caller, then read and validate the JSON body (4xx names the field)."""
    await _admit(request)
    raw = await _read_json(request, _state(request).settings)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        message, param = wire.first_error(exc)
        status = 400 if exc.errors()[0]["type"] in ("extra_forbidden", "value_error") else 422
        raise ApiError(status, message, param=param) from None


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the process answers. Whether it may take traffic is /readyz."""
    guard = _state(request).guard
    return {"status": "ok", "deployment": guard.deployment, "policy": guard.policy_digest}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> Response:
    """Readiness: 503 while the deployment is halted, so a load balancer stops sending."""
    state = _state(request)
    guard = state.guard
    body: dict[str, Any] = {"deployment": guard.deployment, "policy": guard.policy_digest}
    try:
        await state.access.check_halt()
    except ApiError as exc:
        return JSONResponse({**body, "status": "halted", "reason": exc.message}, status_code=503)
    return JSONResponse({**body, "status": "ready"})


async def _operator_read(request: Request) -> None:
    """What describes the gateway (metrics, its schema) needs a key unless made public."""
    state = _state(request)
    if not state.settings.public_metrics:
        await state.access.authenticate(request.headers.get("authorization"))


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    await _operator_read(request)
    body, content_type = _state(request).metrics.render()
    return Response(body, media_type=content_type)


@router.get("/openapi.json", include_in_schema=False)
async def openapi_schema(request: Request) -> dict[str, Any]:
    await _operator_read(request)
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/v1/provenance/{record}")
async def provenance_bundle(request: Request, record: int) -> JSONResponse:
    """The signed statement of a released answer, its inclusion proof and a signed checkpoint."""
    await _admit(request)
    state = _state(request)
    recorder, signer = state.guard.recorder, state.settings.provenance
    if recorder is None or signer is None:
        raise ApiError(404, "this gateway signs no output statements", code="not_found")
    try:
        found = await anyio.to_thread.run_sync(answer_bundle, recorder, signer, record)
    except ProvenanceError as exc:
        raise ApiError(404, str(exc), code="not_found") from None
    return JSONResponse(found)


@router.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    await _admit(request)
    return wire.model_list(await _state(request).upstream.models())


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads JSON itself (for clients and fuzzers)."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


@router.post("/v1/guard/check", openapi_extra=_json_body(wire.GuardCheckRequest))
async def detect_only(request: Request) -> JSONResponse:
    body = await _admitted_body(request, wire.GuardCheckRequest)
    pipeline = _state(request).pipeline
    (verdict,) = await pipeline.screen([Content(body.content, stage=body.stage)])
    return JSONResponse(
        verdict.to_dict(),
        headers={
            "x-swisscheese-verdict": summary(by_stage([verdict])),
            "x-swisscheese-record": receipts([verdict]),
        },
    )


@router.post("/v1/watermark/detect", openapi_extra=_json_body(wire.WatermarkDetectRequest))
async def watermark_detect(request: Request) -> JSONResponse:
    """Whether a text carries this deployment's watermark: p-values for the whole text and
    for its most significant window."""
    body = await _admitted_body(request, wire.WatermarkDetectRequest)
    detect = _state(request).settings.watermark_detect
    if detect is None:
        raise ApiError(404, "this gateway applies no watermark", code="not_found")
    report = await anyio.to_thread.run_sync(detect, body.text)
    return JSONResponse(report)


@router.post(
    "/v1/chat/completions", response_model=None, openapi_extra=_json_body(wire.ChatRequest)
)
async def chat(request: Request) -> Response:
    state = _state(request)
    body = await _admitted_body(request, wire.ChatRequest)
    if len(body.messages) > state.settings.max_messages:
        raise ApiError(400, f"more than {state.settings.max_messages} messages", param="messages")
    try:
        caller = caller_of(request, state.settings.agent_tokens, state.settings.require_agent)
    except ApiError as exc:
        denied = CapabilityDenied(
            deployment=state.guard.deployment, agent=None, tool=None, reason=exc.detail
        )
        if state.guard.recorder is not None:
            await state.guard.recorder.arecord(denied)
        raise
    CALLER.set(caller)
    ACTING_AGENT.set(caller.grant.label() if caller else None)
    PREFILL_SCOPE.set(object())  # a prompt's cache serves this request's generation only
    records = Records(state.guard.recorder, state.settings.durability)
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    with state.tracing.chat(body.model, messages) as span:
        try:
            return await _chat(request, state, body, records, span, message_steps(messages))
        finally:
            await records.discard()


async def _chat(
    request: Request,
    state: _State,
    body: wire.ChatRequest,
    records: Records,
    span: Any,
    steps: list[tuple[Content, ...]],
) -> Response:
    """``steps``: the conversation's steps per message; joined, they are the trace whose last
    user message response monitors read and which flow rules read whole."""
    pipeline, metrics = state.pipeline, state.metrics
    asked = joined(steps)
    # The input verdicts' durable writes overlap the model call; every write is settled
    # before the client gets an answer.
    incoming, decision, forward = await pipeline.admit_request(body, records, steps)
    state.tracing.verdicts(span, "input", incoming)
    verdicts = by_stage(incoming)
    if forward is None:
        assert decision.refusal is not None
        completion = wire.refusal_completion(body.model, decision.refusal)
        metrics.requests.labels(outcome="blocked_input").inc()
        return await _released(state, body, completion, incoming, records, verdicts, decision)

    layer = state.guard.compiled.layer_for(Stage.OUTPUT)
    if (
        body.stream
        and layer is not None
        and layer.layer.stream_mode == "window"
        and (body.n or 1) == 1
    ):
        headers = _headers(verdicts, decision, await records.settle())
        headers["x-swisscheese-stream"] = f"window={layer.layer.stream_window}"
        stream = WindowedStream(pipeline, forward, layer.layer.stream_window, asked)
        return StreamingResponse(stream.events(), media_type="text/event-stream", headers=headers)
    gone = request.is_disconnected if body.stream else None
    completion, outgoing, answered = await pipeline.complete(
        forward, asked, records, incoming, gone
    )
    state.tracing.verdicts(span, "output", outgoing)
    state.tracing.answer(span, completion)
    verdicts = by_stage([*incoming, *outgoing])
    if answered.refusal is None and decision.approval:
        answered = decision
    metrics.requests.labels(outcome="completed").inc()
    return await _released(
        state, body, completion, [*incoming, *outgoing], records, verdicts, answered
    )


async def _released(
    state: _State,
    body: wire.ChatRequest,
    completion: dict[str, Any],
    screened: list[Verdict],
    records: Records,
    verdicts: dict[str, list[Verdict]],
    decision: Intervention,
) -> Response:
    """Answer, with the signed statement of what was released when provenance is on."""
    signer = state.settings.provenance
    event = entry = None
    if signer is not None:
        event = provenance.answer_event(
            state.guard.deployment, body.model, state.guard.policy_digest, completion, screened
        )
        entry = provenance.stage_answer(records, event)
    headers = _headers(verdicts, decision, await records.settle())
    if signer is not None and event is not None:
        signed = provenance.header(signer, records, entry, event)
        if signed is not None:
            headers[provenance.HEADER] = signed
    return _respond(body, completion, headers)


def _headers(
    verdicts: dict[str, list[Verdict]], decision: Intervention, recorded: Iterable[Verdict]
) -> dict[str, str]:
    headers = {
        "x-swisscheese-verdict": summary(verdicts),
        "x-swisscheese-record": receipts(list(recorded)),
    }
    if decision.reason:
        headers["x-swisscheese-reason"] = decision.reason
    if decision.approval:
        headers["x-swisscheese-approval"] = decision.approval
    return headers


def _respond(
    body: wire.ChatRequest, completion: dict[str, Any], headers: dict[str, str]
) -> Response:
    if not body.stream:
        return JSONResponse(completion, headers=headers)
    if not (body.stream_options and body.stream_options.include_usage):
        completion = {k: v for k, v in completion.items() if k != "usage"}

    async def events() -> AsyncIterator[bytes]:
        for piece in wire.rechunk(completion):
            yield wire.sse(piece)
        yield wire.sse(None)

    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


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
