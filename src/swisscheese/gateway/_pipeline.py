"""One chat request through the layers: screen what the model reads, call it, screen what it
answers, intervene, and build the client's answer from screened text.

Each step returns a typed decision (``Intervention``); HTTP headers are made from them once, at
the end, by the route.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from swisscheese.core import Action, Content, Receipt, Stage, Verdict
from swisscheese.gateway import _wire as wire
from swisscheese.gateway._access import AccessControl
from swisscheese.gateway._agents import CALLER, Caller
from swisscheese.gateway._errors import ApiError, unrecorded
from swisscheese.gateway._metrics import Metrics
from swisscheese.gateway._upstream import Upstream
from swisscheese.guard import Guard, approval_excerpt, with_receipt
from swisscheese.recorder import Recorder, RecordError
from swisscheese.recorder.events import CapabilityDenied, Event, StreamClosed, UpstreamFailed
from swisscheese.store import NewEntry

Durability = Literal["request", "stage"]


class Records:
    """The flight-recorder writes of one request, durable before it is answered.

    ``request`` (the default): the request's verdicts and events are written together, in one
    transaction (one fsync), when it is about to be answered. ``stage``: each stage's verdicts
    are submitted as soon as they exist (the input's overlap the model call), so a crash during
    the model call still leaves them on record; two writes a request. Either way the client
    gets no byte that is not on record, on disk, first.
    """

    def __init__(self, recorder: Recorder | None, durability: Durability = "request") -> None:
        self.recorder = recorder
        self.durability = durability
        self._unsent: list[tuple[Verdict | None, NewEntry]] = []
        self._sent: list[tuple[list[tuple[Verdict | None, NewEntry]], Future[int]]] = []
        self.indexes: dict[bytes, int] = {}
        """Leaf index of each settled entry, by leaf hash (not for entries still spooled)."""

    def add(self, verdict: Verdict | None, entry: NewEntry | None) -> None:
        """A verdict's entry (or, with ``verdict`` None, an event's) to write."""
        if entry is None:
            return
        self._unsent.append((verdict, entry))

    def end_stage(self) -> None:
        """A stage's verdicts are all added: in ``stage`` mode they are written now, together."""
        if self.durability == "stage":
            self._send()

    def add_event(self, event: Event, payload: Any = None) -> None:
        if self.recorder is not None:
            self.add(None, self.recorder.prepare_event(event, payload))

    def _send(self) -> None:
        if self._unsent and self.recorder is not None:
            group, self._unsent = self._unsent, []
            self._sent.append((group, self.recorder.submit_group([e for _, e in group])))

    async def settle(self) -> list[Verdict]:
        """Write what is unsent, wait until all is durable; the verdicts with their receipts."""
        self._send()
        sent, self._sent = self._sent, []
        out: list[Verdict] = []
        try:
            for group, future in sent:
                first = await asyncio.wrap_future(future)
                for offset, (verdict, entry) in enumerate(group):
                    index = first if first == Receipt.QUEUED else first + offset
                    if index != Receipt.QUEUED:
                        self.indexes[entry.leaf_hash] = index
                    if verdict is not None:
                        out.append(with_receipt(verdict, entry, index))
        except RecordError as exc:
            raise unrecorded(exc) from None
        return out

    async def discard(self) -> None:
        """On an error path: write what is pending all the same (it stays in the record)."""
        with contextlib.suppress(ApiError):
            await self.settle()


@dataclass
class Intervention:
    """What the policy's verdicts mean for this request."""

    refusal: str | None = None
    """The text to send instead of the content; None: go on."""
    reason: str | None = None
    approval: str | None = None


@dataclass
class Outcome:
    """A finished (non-streaming or buffered) exchange: the body and what decided it."""

    body: dict[str, Any]
    verdicts: dict[str, list[Verdict]]
    intervention: Intervention = field(default_factory=Intervention)
    label: str = "completed"


def _public_reason(verdict: Verdict) -> str:
    """Why a verdict stopped the request, as far as a client may know: a monitor that could
    not run says so (a text over the screening limit is not an attack); what a detector
    found, and how sure it was, stays in the log, where it cannot guide an attacker."""
    for decision in verdict.decisions:
        if decision.action is verdict.action and decision.reason.startswith("monitor "):
            return f"{verdict.stage.value} not screened: {decision.reason.removeprefix('monitor ')}"
    return f"blocked by the policy at {verdict.stage.value}"


def by_stage(verdicts: Iterable[Verdict]) -> dict[str, list[Verdict]]:
    """Verdicts under their own stage's name (retrieved is not input, tool_call not output)."""
    grouped: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        grouped.setdefault(verdict.stage.value, []).append(verdict)
    return grouped


def summary(parts: Mapping[str, Sequence[Verdict]]) -> str:
    """``action=<worst>; <stage>=<worst at that stage>; ...`` for x-swisscheese-verdict."""
    fields = []
    overall = Action.ALLOW
    for stage, verdicts in parts.items():
        if verdicts:
            action = max(v.action for v in verdicts)
            overall = max(overall, action)
            fields.append(f"{stage}={action.value}")
    return "; ".join([f"action={overall.value}", *fields])


def receipts(verdicts: Sequence[Verdict]) -> str:
    return ",".join(
        "queued" if v.receipt.queued else str(v.receipt.index)
        for v in verdicts
        if v.receipt is not None
    )


class ChatPipeline:
    def __init__(
        self,
        guard: Guard,
        upstream: Upstream,
        access: AccessControl,
        metrics: Metrics,
        *,
        place_canary: bool = True,
    ) -> None:
        self.guard = guard
        self.upstream = upstream
        self.access = access
        self.metrics = metrics
        canary = guard.compiled.monitor("canary") if place_canary else None
        self.canary: str | None = getattr(canary, "token", None)

    # -- screening ------------------------------------------------------------------------------

    async def screen(
        self, items: Sequence[Content], records: Records | None = None
    ) -> list[Verdict]:
        """Screen concurrently. With ``records`` the durable writes go on in the background
        and the caller settles them before answering; without, each is awaited here."""
        t0 = time.perf_counter()
        guard = self.guard
        if records is None:
            try:
                verdicts = list(await asyncio.gather(*(guard.check(c.stage, c) for c in items)))
            except RecordError as exc:
                raise unrecorded(exc) from None
        else:
            results = await asyncio.gather(*(guard.check_unsubmitted(c.stage, c) for c in items))
            verdicts = [v for v, _ in results]
            for verdict, entry in results:
                records.add(verdict, entry)
            records.end_stage()
        elapsed = time.perf_counter() - t0
        for content, verdict in zip(items, verdicts, strict=True):
            self.metrics.observe(verdict, content.stage, elapsed)
        return verdicts

    def refusal(self, stage: Stage) -> str:
        layer = self.guard.compiled.layer_for(stage)
        return layer.layer.refusal if layer is not None else "I can't help with that request."

    async def intervene(self, screened: Sequence[tuple[Content, Verdict]]) -> Intervention:
        """HALT stops the deployment; ESCALATE waits for a human up to the layer's
        approval_timeout; BLOCK refuses."""
        stopping = [(c, v) for c, v in screened if v.action.stops]
        if not stopping:
            return Intervention()
        content, worst = max(stopping, key=lambda cv: cv[1].action.rank)
        message = self.refusal(worst.stage)
        if worst.action is Action.HALT:
            await self.access.halt(worst)
            return Intervention(message, "deployment halted")
        if worst.action is Action.BLOCK:
            return Intervention(message, _public_reason(worst))
        layer = self.guard.compiled.layer_for(worst.stage)
        timeout = layer.layer.approval_timeout if layer is not None else 0.0
        # The approver reads what a log would keep: no secret the client did not send on; for
        # a tool call, the rules that escalated it and the steps of the trace they cite.
        shown = approval_excerpt(worst, content)
        approved, approval_id = await self.access.escalate(worst, shown, timeout)
        if approved:
            return Intervention(approval=approval_id or None)
        return Intervention(message, "approval required", approval_id or None)

    # -- the request side -------------------------------------------------------------------------

    async def admit_request(
        self,
        request: wire.ChatRequest,
        records: Records,
        steps: Sequence[tuple[Content, ...]],
    ) -> tuple[list[Verdict], Intervention, dict[str, Any] | None]:
        """Screen everything the model would read; the body to forward, or None if refused.
        ``steps``: the request's messages as ``common.traces.message_steps`` reads them."""
        slots = wire.request_reads(request, steps)
        contents = [s.content for s in slots]
        verdicts = await self.screen(contents, records)
        decision = await self.intervene(list(zip(contents, verdicts, strict=True)))
        if decision.refusal is not None:
            return verdicts, decision, None
        try:
            forward = wire.forward_body(request, slots, [v.modified for v in verdicts])
        except wire.Unmappable as exc:
            return verdicts, Intervention(self.refusal(Stage.INPUT), str(exc)), None
        if self.canary is not None:
            forward["messages"] = self._with_canary(forward["messages"])
        return verdicts, decision, forward

    def _with_canary(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The canary goes into the first system (or developer) message: the model carries it
        along if it ever recites its instructions. Without one there is nothing to leak."""
        assert self.canary is not None
        for i, message in enumerate(messages):
            if message["role"] in ("system", "developer"):
                text = message.get("content") or ""
                if isinstance(text, list):
                    text = wire.parts_text(text)
                protected = self.guard.protect_system_prompt(text)
                return [*messages[:i], {**message, "content": protected}, *messages[i + 1 :]]
        return messages

    # -- the answer side ----------------------------------------------------------------------

    async def screen_answer(
        self,
        answer: dict[str, Any],
        model: str,
        asked: tuple[Content, ...],
        records: Records | None,
    ) -> tuple[dict[str, Any], list[Verdict], Intervention]:
        """The completion the client receives, built from the screened texts of ``answer``."""
        try:
            reads = wire.answer_reads(answer, asked)
        except ValueError as exc:
            raise ApiError(502, str(exc)) from None
        choices = wire.choices_from(answer)
        verdicts = await self.screen([s.content for _, s in reads], records)
        decision = Intervention()
        caller = CALLER.get()
        for choice in choices:
            mine = [(s, v) for (n, s), v in zip(reads, verdicts, strict=True) if n == choice.index]
            found = await self.intervene([(s.content, v) for s, v in mine])
            if found.refusal is None and caller is not None:
                found = self._capabilities(caller, [s.content for s, _ in mine], records)
            decision = found if found.refusal is not None or decision.refusal is None else decision
            if found.refusal is not None:
                wire.refuse(choice, found.refusal)
                continue
            try:
                for slot, verdict in mine:
                    if verdict.modified is not None:
                        wire.apply(choice, slot, verdict.modified)
            except wire.Unmappable as exc:
                wire.refuse(choice, self.refusal(Stage.TOOL_CALL))
                decision = Intervention(choice.content, str(exc))
        strip = (self.canary,) if self.canary else ()
        return wire.build_completion(answer, choices, model, strip), verdicts, decision

    def _capabilities(
        self, caller: Caller, contents: Sequence[Content], records: Records | None
    ) -> Intervention:
        """Refuse the answer if the agent's token does not allow a tool call in it."""
        for content in contents:
            call = content.tool_call
            if call is None:
                continue
            reason = caller.refusal(call)
            if reason is None:
                continue
            denied = CapabilityDenied(
                deployment=self.guard.deployment,
                agent=caller.grant.label(),
                tool=call.name,
                reason=reason,
            )
            if records is not None:
                records.add_event(denied)
            else:
                self.record_event(denied)
            return Intervention(self.refusal(Stage.TOOL_CALL), "capability denied")
        return Intervention()

    async def complete(
        self,
        forward: dict[str, Any],
        asked: tuple[Content, ...],
        records: Records,
        incoming: Sequence[Verdict],
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> tuple[dict[str, Any], list[Verdict], Intervention]:
        """Call the model and screen its answer. With ``gone`` (buffer mode) the answer is
        streamed and read whole before a byte of it leaves; reading stops when the client has
        gone. A failure (the upstream's, or an answer that cannot be screened) is recorded,
        next to the ``incoming`` verdicts it followed, before it is raised."""
        t0 = time.perf_counter()
        try:
            if gone is None:
                answer = await self.upstream.chat(forward)
            else:
                answer = wire.assemble(await self._read_stream(forward, gone))
            self.metrics.upstream_latency.observe(time.perf_counter() - t0)
            return await self.screen_answer(answer, forward["model"], asked, records)
        except ApiError as exc:
            failed = UpstreamFailed(
                deployment=self.guard.deployment,
                status=exc.status,
                verdicts=[v.id for v in incoming],
            )
            records.add_event(failed, {"message": exc.detail})
            await records.discard()  # the client still learns of the failure
            raise

    async def _read_stream(
        self, forward: dict[str, Any], gone: Callable[[], Awaitable[bool]]
    ) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        checked = time.monotonic()
        async for piece in self.upstream.stream(forward):
            chunks.append(piece)
            if time.monotonic() - checked > 0.25:
                checked = time.monotonic()
                if await gone():
                    raise ApiError(499, "the client closed the connection")
                await self.access.check_halt()  # a halt cuts the answer being read
        return chunks

    def record_event(self, event: Event, payload: Any = None) -> Future[int] | None:
        """Queue an event for the flight recorder; the future settles once it is durable."""
        recorder = self.guard.recorder
        if recorder is None:
            return None
        return recorder.submit(recorder.prepare_event(event, payload))


class WindowedStream:
    """Window mode: text leaves once the ``window`` characters after it were checked too; a
    violation ends the stream with finish_reason content_filter, a redaction is applied before
    release. Tool calls, refusals and reasoning are held to the end and screened whole."""

    def __init__(
        self,
        pipeline: ChatPipeline,
        forward: dict[str, Any],
        window: int,
        asked: tuple[Content, ...],
    ) -> None:
        self.pipeline = pipeline
        self.forward = forward
        self.window = window
        self.asked = asked
        self.text = ""  # as the upstream sent it
        self.sent = 0  # how much of ``text`` has been released (redacted as screened)
        self.emitted = ""  # what the client got
        self.checked: list[Verdict] = []
        self.outcome = "aborted"  # until the end is reached
        self.finish: str | None = None

    async def _release(self, final: bool = False) -> str | None:
        """Screen the unreleased text with a window of released text before it, and return
        what may leave now (None: cut the stream).

        Text up to ``window`` characters from the end is released, redacted as screened. A
        redaction that reaches past that point (a secret still arriving, such as a private
        key whose END line has not come) holds everything from its start back until a later
        check sees it whole, or the stream ends.
        """
        start = max(0, self.sent - self.window)
        region = self.text[start:]
        content = Content(region, role="assistant", stage=Stage.OUTPUT, trace=self.asked)
        (verdict,) = await self.pipeline.screen([content])
        self.checked.append(verdict)
        if (await self.pipeline.intervene([(content, verdict)])).refusal is not None:
            return None
        upto = len(self.text) if final else max(self.sent, len(self.text) - self.window)
        modified = verdict.modified
        if modified is None:
            out = self.text[self.sent : upto]
        else:
            same = _common_prefix(region, modified)
            if start + same < self.sent:
                return None  # a change reaches text already sent: stop instead
            tail = _common_suffix(region, modified, same)
            changed_end = start + len(region) - tail  # where the last change ends (raw)
            if changed_end > upto:
                upto = start + same  # hold the redacted secret back until it is whole
                out = self.text[self.sent : upto]
            else:
                shift = len(modified) - len(region)
                out = modified[self.sent - start : upto - start + shift]
        self.sent = upto
        canary = self.pipeline.canary
        out = out.replace(canary, "") if canary else out
        self.emitted += out
        return out

    async def events(self) -> AsyncIterator[bytes]:
        base: dict[str, Any] = {"model": self.forward["model"]}
        raw: list[dict[str, Any]] = []
        error: str | None = None
        try:
            yield wire.sse(wire.chunk(base, {"role": "assistant"}))
            async for piece in self.pipeline.upstream.stream(self.forward):
                halted = await self.pipeline.access.halted()
                if halted is not None:  # a halt cuts the stream mid-answer
                    self.outcome, self.finish, error = "halted", None, halted
                    yield wire.sse({"error": {"message": "deployment halted", "type": "halted"}})
                    break
                if not raw:
                    base = wire.envelope(piece, self.forward["model"])
                raw.append(piece)
                for c in piece.get("choices") or []:
                    delta = c.get("delta") if isinstance(c, dict) else None
                    if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                        self.text += delta["content"]
                if len(self.text) - self.sent >= 2 * self.window:
                    out = await self._release()
                    if out is None:
                        yield self._cut(base)
                        break
                    if out:
                        yield wire.sse(wire.chunk(base, {"content": out}))
            else:
                async for event in self._finish(base, raw):
                    yield event
        except ApiError as exc:
            # The answer has begun, so the failure goes in the stream, as OpenAI's does;
            # text not yet released is dropped unseen.
            self.outcome, self.finish, error = "error", None, exc.detail
            yield wire.sse({"error": {"message": exc.message, "type": "upstream_error"}})
        except Exception as exc:  # a fault of ours: still an error event, never a cut socket
            self.outcome, self.finish, error = "error", None, f"{type(exc).__name__}: {exc}"
            self.pipeline.metrics.errors.labels(kind="500").inc()
            yield wire.sse({"error": {"message": "internal error", "type": "server_error"}})
        else:
            yield wire.sse(None)
        finally:
            # What was emitted, next to the verdicts on what was checked.
            self.pipeline.record_event(
                StreamClosed(
                    deployment=self.pipeline.guard.deployment,
                    outcome=self.outcome,
                    finish_reason=self.finish,
                    emitted_chars=len(self.emitted),
                    checks=[v.id for v in self.checked],
                ),
                {"emitted": self.emitted, **({"error": error} if error else {})},
            )
            self.pipeline.metrics.requests.labels(outcome=f"stream_{self.outcome}").inc()

    def _cut(self, base: dict[str, Any]) -> bytes:
        """End the stream on a violation: finish_reason content_filter."""
        self.outcome, self.finish = "cut", "content_filter"
        return wire.sse(wire.chunk(base, {}, "content_filter"))

    async def _finish(
        self, base: dict[str, Any], raw: list[dict[str, Any]]
    ) -> AsyncIterator[bytes]:
        out = await self._release(final=True) if self.text else ""
        if out is None:
            yield self._cut(base)
            return
        if out:
            yield wire.sse(wire.chunk(base, {"content": out}))
        assembled = wire.assemble(raw)
        held = assembled["choices"][:1]
        finish = held[0]["finish_reason"] if held else None
        if held:
            held[0]["message"].pop("content", None)
        completion, verdicts, _ = await self.pipeline.screen_answer(
            {**assembled, "choices": held}, self.forward["model"], self.asked, None
        )
        self.checked += verdicts
        for choice in completion["choices"]:
            if choice["finish_reason"] == "content_filter":
                finish = "content_filter"
                continue
            rest = wire.delta_of(choice["message"], leave_out=("role", "content"))
            if rest:
                yield wire.sse(wire.chunk(base, rest))
        self.finish = finish or "stop"
        self.outcome = "cut" if self.finish == "content_filter" else "completed"
        yield wire.sse(wire.chunk(base, {}, self.finish))


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: str, b: str, floor: int) -> int:
    """Length of the common ending, not reaching back into the first ``floor`` characters."""
    n = min(len(a), len(b)) - floor
    i = 0
    while i < n and a[-1 - i] == b[-1 - i]:
        i += 1
    return i
