"""The Guard: runs a layer's rules on content and returns one explainable Verdict.

It orchestrates: the entry points (async, sync, batched, deferred recording), the policy's
decisions and the MODIFY chain (later rules rescan the redacted text), and recording. One
screening pass (normalise, decode, run the monitors) is ``_screening.screen``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from swisscheese.config import LoadedPolicy, default_policy, load_policy
from swisscheese.core import (
    Action,
    Content,
    Context,
    Finding,
    MonitorRun,
    Receipt,
    RuleDecision,
    Stage,
    ToolCall,
    Verdict,
    json_text,
    text_digest,
    valid_text,
)
from swisscheese.core.acting import ACTING_AGENT
from swisscheese.monitors import REGISTRY, Registry
from swisscheese.recorder.events import PolicyLoaded, VerdictRecorded

if TYPE_CHECKING:
    from swisscheese.recorder import Recorder
    from swisscheese.store import NewEntry
import contextlib

from swisscheese.guard._pinned import PinMatch, PinnedPrompts
from swisscheese.guard._screening import screen
from swisscheese.policy import (
    CompiledLayer,
    CompiledPolicy,
    CompiledRule,
    Outcome,
    compile_policy,
    decide,
    redact,
)

T = TypeVar("T")

DEFAULT_MAX_CHARS = 262_144
SKIPPED_AS_CODE = "not read: the text is source code (in_code: false)"


def text_of(content: Content) -> str:
    """The text a layer inspects: the content's text, or a tool call as canonical JSON."""
    if content.tool_call is not None and not content.text:
        call = content.tool_call
        return json_text({"name": call.name, "arguments": dict(call.arguments)})
    return content.text


def with_receipt(verdict: Verdict, entry: NewEntry, index: int) -> Verdict:
    """The verdict carrying its receipt in the flight recorder (or that it is spooled)."""
    return replace(verdict, receipt=Receipt(index, entry.leaf_hash, entry.payload_digest))


def _fragment(text: str, f: Finding) -> str:
    return "\x00".join(text[s.start : s.end] for s in f.spans)


def _redactable(verdict: Verdict, *, modified: bool) -> list[Finding]:
    """Findings whose monitor says how to redact them, on the original or the modified text."""
    return [
        f
        for f in verdict.findings
        if "replacement" in f.detail and (f.detail.get("text") == "modified") == modified
    ]


def redacted(verdict: Verdict, original: str) -> str:
    """What may be kept or shown of a screened text: the modified text if a rule modified it,
    else the original, with every span a monitor marked as redactable replaced either way."""
    if verdict.modified is not None:
        return redact(verdict.modified, _redactable(verdict, modified=True))
    return redact(original, _redactable(verdict, modified=False))


def _labelled(finding: Finding, label: str) -> Finding:
    """A finding of a monitor's second (third, ...) configuration names it (``instance_of``),
    so that two rules of one monitor can be told apart in the verdict."""
    if label == finding.monitor:
        return finding
    return replace(finding, detail={**finding.detail, "instance": label})


def _on_modified(f: Finding) -> Finding:
    return Finding(
        f.monitor, f.category, f.score, f.spans, {**f.detail, "text": "modified"}, f.origin
    )


def _call_content(call: ToolCall, trace: Sequence[Content]) -> Content:
    if not isinstance(call, ToolCall):
        raise TypeError(f"call must be a ToolCall, not {type(call).__name__}")
    return Content("", "assistant", Stage.TOOL_CALL, call.name, call, tuple(trace))


class _NeedsLoop(Exception):
    pass


def _drive_inline(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends, without any event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise _NeedsLoop


class Guard:
    """Screens content at any stage with the layers of one policy.

    Build it once (monitors load their models here), then call ``await check(...)`` from async
    code or ``check_sync(...)`` from anywhere, including inside a running event loop.
    """

    def __init__(
        self,
        policy: LoadedPolicy | None = None,
        *,
        registry: Registry = REGISTRY,
        max_chars: int = DEFAULT_MAX_CHARS,
        recorder: Recorder | None = None,
    ) -> None:
        """``recorder``: every verdict (and the policy, once) becomes an event in this flight
        recorder; a verdict is returned only once its event is durable (or durably spooled,
        when the recorder has a spool). A recorder failure raises RecordError."""
        loaded = policy or default_policy()
        self.compiled: CompiledPolicy = compile_policy(loaded, registry)
        self.max_chars = max_chars
        self.recorder = recorder
        self.pinned = PinnedPrompts(loaded.policy.system_prompts)
        if recorder is not None:
            recorder.record(
                PolicyLoaded(
                    deployment=self.deployment, policy=self.compiled.digest, source=loaded.source
                ),
                loaded.policy.model_dump(mode="json"),
            )
        self._portal: BlockingPortal | None = None
        self._portal_stop: weakref.finalize[Any, Any] | None = None
        self._portal_lock = threading.Lock()
        self._contexts: dict[Stage, Context] = {}
        self._inline_layers = {
            name: all(r.instance.inline for r in layer.rules)
            for name, layer in self.compiled.layers.items()
        }

    @classmethod
    def from_policy(cls, path: str | Path, **kwargs: Any) -> Guard:
        return cls(load_policy(path), **kwargs)

    @property
    def policy_digest(self) -> str:
        return self.compiled.digest

    @property
    def deployment(self) -> str:
        return self.compiled.policy.deployment

    def protect_system_prompt(self, system_prompt: str) -> str:
        """The system prompt with this deployment's canary placed in it (if a rule uses one)."""
        canary = self.compiled.monitor("canary")
        embed = getattr(canary, "embed", None)
        if embed is None:
            raise LookupError("the policy has no canary rule")
        return str(embed(system_prompt))

    # -- public API ---------------------------------------------------------------------------

    async def check(
        self, stage: Stage | str, content: Content | str, ctx: Context | None = None
    ) -> Verdict:
        stage = Stage(stage)
        content = self._content(stage, content)
        return await self._check_and_record(stage, content, ctx or self._context(stage))

    async def check_call(
        self, call: ToolCall, trace: Sequence[Content] = (), ctx: Context | None = None
    ) -> Verdict:
        """Screen a tool call an agent proposes, before it runs, at the ``tool_call`` stage.

        ``trace`` is what the agent read and did before (messages, earlier calls, tool results
        with their tool's name as ``source``; ``common.traces.trace_from_messages`` builds it
        from OpenAI-style messages): the ``flow`` monitor's rules read it.
        """
        return await self.check(Stage.TOOL_CALL, _call_content(call, trace), ctx)

    def check_call_sync(
        self, call: ToolCall, trace: Sequence[Content] = (), ctx: Context | None = None
    ) -> Verdict:
        """The same decision as ``check_call``; safe with or without a running event loop."""
        return self.check_sync(Stage.TOOL_CALL, _call_content(call, trace), ctx)

    async def check_unsubmitted(
        self, stage: Stage | str, content: Content | str, ctx: Context | None = None
    ) -> tuple[Verdict, NewEntry | None]:
        """The verdict and its flight-recorder entry, not yet submitted (None without a
        recorder).

        For callers that write several verdicts together (the gateway writes a request's in
        one transaction); they must submit the entry, and see it durable, before acting on
        the verdict outside. ``with_receipt`` attaches where it landed.
        """
        stage = Stage(stage)
        content = self._content(stage, content)
        verdict = await self._check(stage, content, ctx or self._context(stage))
        if self.recorder is None:
            return verdict, None
        return verdict, self._entry(verdict, content)

    async def _check_and_record(self, stage: Stage, content: Content, ctx: Context) -> Verdict:
        verdict = await self._check(stage, content, ctx)
        if self.recorder is None:
            return verdict
        entry = self._entry(verdict, content)
        return with_receipt(verdict, entry, await asyncio.wrap_future(self.recorder.submit(entry)))

    def check_sync(
        self, stage: Stage | str, content: Content | str, ctx: Context | None = None
    ) -> Verdict:
        """The same decision as ``check``; safe with or without a running event loop."""
        stage = Stage(stage)
        content = self._content(stage, content)
        ctx = ctx or self._context(stage)
        layer = self.compiled.layer_for(stage)
        verdict: Verdict | None = None
        if layer is None or self._inline_layers[layer.name]:
            with contextlib.suppress(_NeedsLoop):
                verdict = _drive_inline(self._check(stage, content, ctx))
        if verdict is None:
            verdict = self._in_portal(self._check, stage, content, ctx)
        if self.recorder is None:
            return verdict
        entry = self._entry(verdict, content)
        return with_receipt(verdict, entry, self.recorder.submit(entry).result())

    def _entry(self, verdict: Verdict, content: Content) -> NewEntry:
        """The leaf (no content, only digests) and the erasable payload of a verdict: the
        text as the recorder's content policy keeps it (by default with what monitors mark
        as redactable replaced; the original sealed under the operator's key)."""
        assert self.recorder is not None
        record = self.recorder.content
        original = text_of(content)
        view = verdict.to_dict()
        if record.mode == "redacted" and verdict.modified is not None:
            view["modified"] = redacted(verdict, original)
        fields = record.fields(original, redact(original, _redactable(verdict, modified=False)))
        payload = {"verdict": view, **fields}
        event = VerdictRecorded.of(verdict, self.deployment, ACTING_AGENT.get())
        return self.recorder.prepare_event(event, payload)

    async def check_many(
        self,
        stage: Stage | str,
        contents: Iterable[Content | str],
        ctx: Context | None = None,
        *,
        concurrency: int = 16,
    ) -> list[Verdict]:
        """Verdicts in input order; up to ``concurrency`` contents are screened at once."""
        stage = Stage(stage)
        items = [self._content(stage, c) for c in contents]
        ctx = ctx or self._context(stage)
        layer = self.compiled.layer_for(stage)
        if self.recorder is None and (layer is None or self._inline_layers[layer.name]):
            # Inline work cannot overlap on one thread: plain iteration is fastest.
            return [await self._check(stage, c, ctx) for c in items]
        results: list[Verdict | None] = [None] * len(items)
        limiter = anyio.CapacityLimiter(max(1, concurrency))

        async def one(i: int, c: Content) -> None:
            async with limiter:
                results[i] = await self._check_and_record(stage, c, ctx)

        async with anyio.create_task_group() as tg:
            for i, c in enumerate(items):
                tg.start_soon(one, i, c)
        return [r for r in results if r is not None]

    def check_many_sync(
        self, stage: Stage | str, contents: Iterable[Content | str], ctx: Context | None = None
    ) -> list[Verdict]:
        return [self.check_sync(stage, c, ctx) for c in contents]

    def _in_portal(self, fn: Callable[[Stage, Content, Context], Awaitable[T]], *args: Any) -> T:
        """Run ``fn`` on the guard's own event-loop thread (anyio's blocking portal, started on
        first use) for sync callers whose monitors need a loop."""
        with self._portal_lock:
            if self._portal is None:
                portal_cm = start_blocking_portal(name="swisscheese-guard")
                self._portal = portal_cm.__enter__()
                # A guard never closed must not hang the interpreter at exit: stopping the
                # portal from a garbage-collected context manager during shutdown waits on a
                # loop thread that is already frozen. finalize runs at exit, before that.
                self._portal_stop = weakref.finalize(self, portal_cm.__exit__, None, None, None)
            portal = self._portal
        try:
            return portal.call(fn, *args)
        except RuntimeError as exc:
            if "event loop thread" in str(exc):
                raise RuntimeError(
                    "check_sync called from the guard's own loop; use await check()"
                ) from None
            raise

    def close(self) -> None:
        """Stop the guard's loop thread (the recorder, if any, belongs to the caller)."""
        with self._portal_lock:
            if self._portal_stop is not None:
                self._portal_stop()
            self._portal = self._portal_stop = None

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _content(stage: Stage, content: Content | str) -> Content:
        """The content to screen, at ``stage``, its text made valid Unicode: a lone surrogate
        becomes U+FFFD (which the unicode monitor reports), never a crash or a lost record."""
        if isinstance(content, str):
            content = valid_text(content)
            role = "assistant" if stage in (Stage.OUTPUT, Stage.REASONING) else "user"
            if stage is Stage.RETRIEVED:
                role = "tool"
            return Content(content, role=role, stage=stage)  # type: ignore[arg-type]
        if not isinstance(content, Content):
            raise TypeError(f"content must be a str or a Content, not {type(content).__name__}")
        text = valid_text(content.text)
        if content.stage is not stage or text is not content.text:
            return Content(
                text, content.role, stage, content.source, content.tool_call, content.trace
            )
        return content

    def _context(self, stage: Stage) -> Context:
        ctx = self._contexts.get(stage)
        if ctx is None:
            layer = self.compiled.layer_for(stage)
            ctx = Context(deployment=self.deployment, layer=layer.name if layer else "")
            self._contexts[stage] = ctx
        return ctx

    async def _check(self, stage: Stage, content: Content, ctx: Context) -> Verdict:
        started = time.perf_counter()
        original = text_of(content)
        layer = self.compiled.layer_for(stage)
        if layer is None:
            unconfigured = self.compiled.policy.unconfigured
            reason = "no layer screens this stage"
            return self._unscreened(stage, None, original, started, unconfigured, reason)
        rules, skipped = layer.reading(content)
        if not rules:
            unconfigured = self.compiled.policy.unconfigured
            reason = "no rule of the layer applies to this stage"
            return self._unscreened(stage, layer.name, original, started, unconfigured, reason)
        text = original
        pin = self.pinned.match(content, original)
        # A rule that skipped the text as source code says so: why it did not block is on
        # the record.
        decisions = [
            RuleDecision(r.index, r.rule.monitor, Action.ALLOW, SKIPPED_AS_CODE) for r in skipped
        ]
        if pin is not None:
            if not pin.slots:
                reason = pin.reason()
                return self._unscreened(stage, layer.name, original, started, Action.ALLOW, reason)
            decisions.append(RuleDecision(-1, "", Action.ALLOW, pin.reason()))
        outcomes, runs = await self._screen(layer, rules, content, text, ctx, pin)
        # Per instance, what its scans found. After a MODIFY the later rules' monitors rescan
        # the modified text; what that rescan finds anew is added, marked as such.
        reported: dict[str, list[Finding]] = {k: list(o.findings) for k, o in outcomes.items()}
        i = 0
        while i < len(rules):
            rule = rules[i]
            decision, selected = decide(rule, outcomes[rule.instance.key])
            decisions.append(decision)
            i += 1
            if decision.action is not Action.MODIFY or not selected:
                continue
            new_text = redact(text, selected)
            if new_text == text:
                continue
            text = new_text
            if i < len(rules):
                # A redaction that rewrote the template's fixed text leaves no pin: all of the
                # modified text is read.
                pin = self.pinned.match(content, text) if pin is not None else None
                more, more_runs = await self._screen(layer, rules[i:], content, text, ctx, pin)
                outcomes.update(more)
                runs.extend(more_runs)
                for key, o in more.items():
                    seen = {(f.category, _fragment(original, f)) for f in reported[key]}
                    reported[key].extend(
                        _on_modified(f)
                        for f in o.findings
                        if (f.category, _fragment(text, f)) not in seen
                    )
        findings: list[Finding] = []
        for instance in {r.instance.key: r.instance for r in rules}.values():
            findings.extend(_labelled(f, instance.label) for f in reported[instance.key])
        modified = text if text != original else None
        return self._verdict(
            stage,
            layer.name,
            original,
            started,
            decisions=decisions,
            findings=findings,
            runs=runs,
            modified=modified,
        )

    async def _screen(
        self,
        layer: CompiledLayer,
        rules: tuple[CompiledRule, ...],
        content: Content,
        text: str,
        ctx: Context,
        pin: PinMatch | None,
    ) -> tuple[dict[str, Outcome], list[MonitorRun]]:
        """One screening pass over ``text``, or over only the slots of the pin it matched."""
        if pin is None:
            return await screen(layer, rules, content, text, ctx, self.max_chars)
        # The slots hold what the application filled in, not the operator's words.
        filled = replace(content, role="user")
        outcomes, runs = await screen(layer, rules, filled, pin.view(text), ctx, self.max_chars)
        placed = {
            key: replace(o, findings=tuple(pin.place(f) for f in o.findings))
            for key, o in outcomes.items()
        }
        return placed, runs

    def _unscreened(
        self,
        stage: Stage,
        layer: str | None,
        original: str,
        started: float,
        action: Action,
        reason: str,
    ) -> Verdict:
        """A verdict no monitor took part in, and why."""
        decision = RuleDecision(-1, "", action, reason)
        return self._verdict(
            stage,
            layer,
            original,
            started,
            decisions=[decision],
            findings=[],
            runs=[],
            modified=None,
        )

    def _verdict(
        self,
        stage: Stage,
        layer: str | None,
        original: str,
        started: float,
        *,
        decisions: Sequence[RuleDecision],
        findings: Sequence[Finding],
        runs: Sequence[MonitorRun],
        modified: str | None,
    ) -> Verdict:
        action = max((d.action for d in decisions), default=Action.ALLOW)
        return Verdict(
            action=action,
            stage=stage,
            layer=layer,
            findings=tuple(findings),
            decisions=tuple(decisions),
            runs=tuple(runs),
            policy_digest=self.compiled.digest,
            content_digest=text_digest(original),
            modified=modified,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            id=uuid.uuid4().hex,
        )
