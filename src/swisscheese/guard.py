"""The Guard: runs a layer's monitors on content and returns one explainable Verdict.

Orchestration lives here and only here: normalising, decode-and-rescan, concurrency, deadlines,
``on_error``, MODIFY chaining. Inline (pure, bounded) monitors run on the caller's thread with no
task overhead; async monitors run concurrently under their own deadlines.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Coroutine, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio

from swisscheese.config import LoadedPolicy, default_policy, load_policy
from swisscheese.core import (
    Action,
    Content,
    Context,
    Finding,
    InlineMonitor,
    MonitorRun,
    Receipt,
    RuleDecision,
    RunStatus,
    Span,
    Stage,
    Verdict,
    canonical_json,
    text_digest,
    valid_text,
)
from swisscheese.core.roles import Decoded, Decoder, Normalizer, View
from swisscheese.monitors import REGISTRY, Registry
from swisscheese.recorder.events import PolicyLoaded, VerdictRecorded

if TYPE_CHECKING:
    from swisscheese.recorder import Recorder
    from swisscheese.store import NewEntry
import contextlib

from swisscheese.policy import (
    CompiledLayer,
    CompiledPolicy,
    CompiledRule,
    Instance,
    Outcome,
    compile_policy,
    decide,
    redact,
)

T = TypeVar("T")

DEFAULT_MAX_CHARS = 262_144


def text_of(content: Content) -> str:
    """The text a layer inspects: the content's text, or a tool call as canonical JSON."""
    if content.tool_call is not None and not content.text:
        call = content.tool_call
        return canonical_json({"name": call.name, "arguments": dict(call.arguments)}).decode()
    return content.text


@dataclass
class _Accumulator:
    """Findings and timings of one instance over all the views it read."""

    status: RunStatus = RunStatus.OK
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    duration_ms: float = 0.0

    def fail(self, status: RunStatus, error: str) -> None:
        # Timeout outranks error outranks ok; the first message of the worst kind is kept.
        rank = {RunStatus.OK: 0, RunStatus.SKIPPED: 1, RunStatus.ERROR: 2, RunStatus.TIMEOUT: 3}
        if rank[status] > rank[self.status]:
            self.status, self.error = status, error

    def outcome(self) -> Outcome:
        if self.status is not RunStatus.OK:
            return Outcome(self.status, (), self.error)
        return Outcome(RunStatus.OK, tuple(self.findings))


@dataclass(frozen=True, slots=True)
class _Task:
    instance: Instance
    timeout_s: float
    content: Content
    decoded: Decoded | None  # None: the main view
    raw: bool = False  # reads the caller's text itself, so its spans need no mapping


@lru_cache(maxsize=256)
def _instances_of(rules: tuple[CompiledRule, ...]) -> dict[str, tuple[Instance, float]]:
    """Each distinct monitor of ``rules`` once, with the tightest deadline of its rules."""
    instances: dict[str, tuple[Instance, float]] = {}
    for r in rules:
        prev = instances.get(r.instance.key)
        timeout = min(prev[1], r.timeout_s) if prev else r.timeout_s
        instances[r.instance.key] = (r.instance, timeout)
    return instances


def _with_record(verdict: Verdict, entry: NewEntry, index: int) -> Verdict:
    """The verdict carrying its receipt in the flight recorder (or that it is spooled)."""
    return replace(verdict, receipt=Receipt(index, entry.leaf_hash, entry.payload_digest))


def _fragment(text: str, f: Finding) -> str:
    return "\x00".join(text[s.start : s.end] for s in f.spans)


def _on_modified(f: Finding) -> Finding:
    return Finding(f.monitor, f.category, f.score, f.spans, {**f.detail, "text": "modified"})


def _drop_echoes(acc: dict[str, _Accumulator], decoder_key: str) -> None:
    """Drop what a decoded view found that its monitor also found in plain sight there
    (leetspeak decoding leaves an e-mail address an e-mail address)."""
    for key, a in acc.items():
        if key == decoder_key:
            continue
        plain = [f for f in a.findings if "decoded_from" not in f.detail]
        if len(plain) == len(a.findings):
            continue
        kept = list(plain)
        for f in a.findings:
            if "decoded_from" not in f.detail:
                continue
            start, end = f.detail["decoded_from"]
            echo = any(
                p.category == f.category and any(s.start < end and start < s.end for s in p.spans)
                for p in plain
            )
            if not echo:
                kept.append(f)
        a.findings = kept


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


class _Portal:
    """One long-lived event loop on a daemon thread, for sync callers of async monitors."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._ensure()
        if self._thread is threading.current_thread():
            coro.close()
            raise RuntimeError("check_sync called from the guard's own loop; use await check()")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="swisscheese-guard", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        with self._lock:
            if self._loop is not None and self._thread is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=5)
                self._loop.close()
            self._loop = self._thread = None


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
        if recorder is not None:
            recorder.record(
                PolicyLoaded(
                    deployment=self.deployment, policy=self.compiled.digest, source=loaded.source
                ),
                loaded.policy.model_dump(mode="json"),
            )
        self._portal = _Portal()
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

    async def check_deferred(
        self, stage: Stage | str, content: Content | str, ctx: Context | None = None
    ) -> tuple[Verdict, Awaitable[Verdict] | None]:
        """The verdict at once, and an awaitable of its recorded form (None without a recorder).

        For callers that can overlap the durable write with other work (the gateway forwards
        to the model meanwhile); they must await it before acting on the verdict outside.
        """
        stage = Stage(stage)
        content = self._content(stage, content)
        verdict = await self._check(stage, content, ctx or self._context(stage))
        if self.recorder is None:
            return verdict, None
        entry = self._entry(verdict, content)
        future = self.recorder.submit(entry)

        async def recorded() -> Verdict:
            return _with_record(verdict, entry, await asyncio.wrap_future(future))

        return verdict, recorded()

    async def _check_and_record(self, stage: Stage, content: Content, ctx: Context) -> Verdict:
        verdict = await self._check(stage, content, ctx)
        if self.recorder is None:
            return verdict
        entry = self._entry(verdict, content)
        return _with_record(verdict, entry, await asyncio.wrap_future(self.recorder.submit(entry)))

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
            verdict = self._portal.call(self._check(stage, content, ctx))
        if self.recorder is None:
            return verdict
        entry = self._entry(verdict, content)
        return _with_record(verdict, entry, self.recorder.submit(entry).result())

    def _entry(self, verdict: Verdict, content: Content) -> NewEntry:
        """The leaf (no content, only digests) and the erasable payload of a verdict."""
        assert self.recorder is not None
        payload = {"verdict": verdict.to_dict(), "text": text_of(content)}
        return self.recorder.prepare_event(VerdictRecorded.of(verdict, self.deployment), payload)

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

    def close(self) -> None:
        """Stop the guard's loop thread (the recorder, if any, belongs to the caller)."""
        self._portal.close()

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
            return self._verdict(
                stage,
                None,
                original,
                started,
                decisions=[
                    RuleDecision(
                        -1, "", self.compiled.policy.unconfigured, "no layer screens this stage"
                    )
                ],
                findings=[],
                runs=[],
                modified=None,
            )
        rules = layer.rules_for(stage)
        if not rules:
            return self._verdict(
                stage,
                layer.name,
                original,
                started,
                decisions=[
                    RuleDecision(
                        -1,
                        "",
                        self.compiled.policy.unconfigured,
                        "no rule of the layer applies to this stage",
                    )
                ],
                findings=[],
                runs=[],
                modified=None,
            )
        text = original
        outcomes, runs = await self._screen(layer, rules, content, text, ctx)
        decisions: list[RuleDecision] = []
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
                more, more_runs = await self._screen(layer, rules[i:], content, text, ctx)
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
        for key in dict.fromkeys(r.instance.key for r in rules):
            findings.extend(reported[key])
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

    async def _screen(
        self,
        layer: CompiledLayer,
        rules: tuple[CompiledRule, ...],
        content: Content,
        text: str,
        ctx: Context,
    ) -> tuple[dict[str, Outcome], list[MonitorRun]]:
        """Run each distinct monitor of ``rules`` once on ``text`` and its decoded views."""
        instances = _instances_of(rules)
        acc = {key: _Accumulator() for key in instances}

        if len(text) > self.max_chars:
            reason = f"content of {len(text)} characters exceeds the limit of {self.max_chars}"
            for a in acc.values():
                a.fail(RunStatus.SKIPPED, reason)
            return self._finish(instances, acc)

        # Layer-wide roles run whether or not the current rules include them: a MODIFY rescan
        # must read the same normalised and decoded text as the first pass.
        normalizer = layer.normalizer
        decoder = layer.decoder

        view = View(text, len(text))
        if normalizer is not None:
            view = self._normalize(normalizer, text, acc.get(normalizer.key))
            # Direct construction: dataclasses.replace costs ~10 µs on this path.
            ctx = Context(ctx.deployment, ctx.layer, ctx.request_id, ctx.metadata, True)
        detect = content.with_text(view.text) if view.text != content.text else content

        decoded: list[Decoded] = []
        if decoder is not None:
            decoded = self._decode(decoder, view, acc.get(decoder.key))

        plains = [
            cast(Normalizer, normalizer.monitor).normalize(d.text).text
            if normalizer is not None
            else d.text
            for d in decoded
        ]
        tasks: list[_Task] = []
        for instance, timeout in instances.values():
            if instance is decoder:
                continue
            if instance is normalizer:
                # Its findings concern the raw characters, so it reads the original text.
                tasks.append(_Task(instance, timeout, content.with_text(text), None, raw=True))
                continue
            tasks.append(_Task(instance, timeout, detect, None))
            tasks.extend(
                _Task(instance, timeout, content.with_text(plain), d)
                for d, plain in zip(decoded, plains, strict=True)
            )

        inline = [t for t in tasks if t.instance.inline]
        waiting = [t for t in tasks if not t.instance.inline]
        for task in inline:
            self._run_inline(task, ctx, acc[task.instance.key], view)
        if waiting:
            async with anyio.create_task_group() as tg:
                for task in waiting:
                    tg.start_soon(self._run_async, task, ctx, acc[task.instance.key], view)

        if decoded:
            _drop_echoes(acc, decoder.key if decoder else "")
        if decoder is not None and decoder.key in acc:
            self._summarize_decoded(decoder, decoded, acc)
        return self._finish(instances, acc)

    @staticmethod
    def _finish(
        instances: dict[str, tuple[Instance, float]], acc: dict[str, _Accumulator]
    ) -> tuple[dict[str, Outcome], list[MonitorRun]]:
        outcomes = {key: a.outcome() for key, a in acc.items()}
        runs = [
            MonitorRun(instances[key][0].label, a.status, a.duration_ms, a.error)
            for key, a in acc.items()
        ]
        return outcomes, runs

    @staticmethod
    def _normalize(instance: Instance, text: str, acc: _Accumulator | None) -> View:
        t0 = time.perf_counter()
        try:
            view = cast(Normalizer, instance.monitor).normalize(text)
        except Exception as exc:
            # The layer still screens the raw text; the failure shows in the normaliser's run.
            if acc is not None:
                acc.fail(RunStatus.ERROR, f"normalize: {type(exc).__name__}: {exc}")
            view = View(text, len(text))
        if acc is not None:
            acc.duration_ms += (time.perf_counter() - t0) * 1000.0
        return view

    @staticmethod
    def _decode(instance: Instance, view: View, acc: _Accumulator | None) -> list[Decoded]:
        t0 = time.perf_counter()
        try:
            found = cast(Decoder, instance.monitor).decode(view.text)
        except Exception as exc:
            if acc is not None:
                acc.fail(RunStatus.ERROR, f"decode: {type(exc).__name__}: {exc}")
            found = []
        if acc is not None:
            acc.duration_ms += (time.perf_counter() - t0) * 1000.0
        mapped = []
        for d in found:
            start, end = view.to_source(d.span.start, d.span.end)
            mapped.append(Decoded(d.text, d.chain, Span(start, end)))
        return mapped

    @staticmethod
    def _summarize_decoded(
        decoder: Instance, decoded: list[Decoded], acc: dict[str, _Accumulator]
    ) -> None:
        for d in decoded:
            inner = [
                f
                for key, a in acc.items()
                if key != decoder.key
                for f in a.findings
                if f.detail.get("decoded_from") == [d.span.start, d.span.end]
                and f.detail.get("encoding") == list(d.chain)
            ]
            if inner:
                summary = cast(Decoder, decoder.monitor).summarize(d, inner)
                acc[decoder.key].findings.append(summary)

    def _run_inline(self, task: _Task, ctx: Context, acc: _Accumulator, view: View) -> None:
        t0 = time.perf_counter()
        try:
            found = cast(InlineMonitor, task.instance.monitor).inspect_sync(task.content, ctx)
        except Exception as exc:
            acc.duration_ms += (time.perf_counter() - t0) * 1000.0
            acc.fail(RunStatus.ERROR, f"{type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - t0
        acc.duration_ms += elapsed * 1000.0
        if elapsed > task.timeout_s:
            # Inline work cannot be interrupted, but a missed deadline is still a miss.
            acc.fail(RunStatus.TIMEOUT, f"took {elapsed * 1000:.1f} ms")
            return
        acc.findings.extend(self._place(found, task, view))

    async def _run_async(self, task: _Task, ctx: Context, acc: _Accumulator, view: View) -> None:
        t0 = time.perf_counter()
        try:
            with anyio.fail_after(task.timeout_s):
                found = await task.instance.monitor.inspect(task.content, ctx)
        except TimeoutError:
            acc.fail(RunStatus.TIMEOUT, f"no answer within {task.timeout_s * 1000:.0f} ms")
            found = None
        except Exception as exc:
            acc.fail(RunStatus.ERROR, f"{type(exc).__name__}: {exc}")
            found = None
        acc.duration_ms += (time.perf_counter() - t0) * 1000.0
        if found is not None:
            acc.findings.extend(self._place(found, task, view))

    @staticmethod
    def _place(found: list[Finding], task: _Task, view: View) -> list[Finding]:
        """Move spans back into the caller's text."""
        if task.decoded is not None:
            d = task.decoded
            return [
                Finding(
                    f.monitor,
                    f.category,
                    f.score,
                    (d.span,),
                    {
                        **f.detail,
                        "encoding": list(d.chain),
                        "decoded_from": [d.span.start, d.span.end],
                        "replacement": f.detail.get("replacement", "[REDACTED]"),
                    },
                )
                for f in found
            ]
        if view.offsets is None or task.raw:
            return list(found)
        out = []
        for f in found:
            spans = tuple(Span(*view.to_source(s.start, s.end)) for s in f.spans)
            out.append(Finding(f.monitor, f.category, f.score, spans, f.detail))
        return out
