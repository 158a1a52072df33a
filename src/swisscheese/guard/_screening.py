"""One screening pass: each distinct monitor of a layer's rules runs once on a text, its
normalised view and its decoded segments; findings come back placed in the caller's text.

Inline (pure, bounded) monitors run on the caller's thread with no task overhead; async monitors
run concurrently, each under its rule's deadline. A failure or a missed deadline is the
monitor's status, never a pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

import anyio

from swisscheese.core import (
    Content,
    Context,
    Finding,
    InlineMonitor,
    MonitorRun,
    Origin,
    RunStatus,
    Span,
)
from swisscheese.core.roles import Decoded, Decoder, Normalizer, View
from swisscheese.policy import CompiledLayer, CompiledRule, Instance, Outcome


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


def _drop_echoes(acc: dict[str, _Accumulator], decoder_key: str) -> None:
    """Drop what a decoded view found that its monitor also found in plain sight there, at
    least as strongly (leetspeak decoding leaves an e-mail address an e-mail address). A weaker
    finding in plain sight is no echo: spaced-out letters read as half an instruction, joined
    as a whole one, and the rule must see the whole one."""
    for key, a in acc.items():
        if key == decoder_key:
            continue
        plain = [f for f in a.findings if f.origin is None]
        if len(plain) == len(a.findings):
            continue
        kept = list(plain)
        for f in a.findings:
            if f.origin is None:
                continue
            start, end = f.origin.span.start, f.origin.span.end
            echo = any(
                p.category == f.category
                and p.score >= f.score
                and any(s.start < end and start < s.end for s in p.spans)
                for p in plain
            )
            if not echo:
                kept.append(f)
        a.findings = kept


def decoder_inputs(text: str, view: View) -> list[View]:
    """What a layer's decoder reads: the normalised view, and the caller's own text when
    normalising changed a non-ASCII text (it folds lookalike letters, which under ROT13 were
    letters of the plain text: folded first, they garble the decoding)."""
    if view.text != text and not text.isascii():
        return [view, View(text, len(text))]
    return [view]


async def screen(
    layer: CompiledLayer,
    rules: tuple[CompiledRule, ...],
    content: Content,
    text: str,
    ctx: Context,
    max_chars: int,
) -> tuple[dict[str, Outcome], list[MonitorRun]]:
    """Run each distinct monitor of ``rules`` once on ``text`` and its decoded views."""
    instances = _instances_of(rules)
    acc = {key: _Accumulator() for key in instances}

    if len(text) > max_chars:
        reason = f"content of {len(text)} characters exceeds the limit of {max_chars}"
        for a in acc.values():
            a.fail(RunStatus.SKIPPED, reason)
        return _finish(instances, acc)

    # Layer-wide roles run whether or not the current rules include them: a MODIFY rescan
    # must read the same normalised and decoded text as the first pass.
    normalizer = layer.normalizer
    decoder = layer.decoder

    view = View(text, len(text))
    if normalizer is not None:
        view = _normalize(normalizer, text, acc.get(normalizer.key))
        # Direct construction: dataclasses.replace costs ~10 µs on this path.
        ctx = Context(ctx.deployment, ctx.layer, ctx.request_id, ctx.metadata, True)
    detect = content.with_text(view.text) if view.text != content.text else content

    decoded: list[Decoded] = []
    if decoder is not None:
        for source in decoder_inputs(text, view):
            seen = {d.text for d in decoded}
            decoded += [
                d for d in _decode(decoder, source, acc.get(decoder.key)) if d.text not in seen
            ]

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
        _run_inline(task, ctx, acc[task.instance.key], view)
    if waiting:
        async with anyio.create_task_group() as tg:
            for task in waiting:
                tg.start_soon(_run_async, task, ctx, acc[task.instance.key], view)

    if decoded:
        _drop_echoes(acc, decoder.key if decoder else "")
    if decoder is not None and decoder.key in acc:
        _summarize_decoded(decoder, decoded, acc)
    return _finish(instances, acc)


def _finish(
    instances: dict[str, tuple[Instance, float]], acc: dict[str, _Accumulator]
) -> tuple[dict[str, Outcome], list[MonitorRun]]:
    outcomes = {key: a.outcome() for key, a in acc.items()}
    runs = [
        MonitorRun(instances[key][0].label, a.status, a.duration_ms, a.error)
        for key, a in acc.items()
    ]
    return outcomes, runs


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


def _summarize_decoded(
    decoder: Instance, decoded: list[Decoded], acc: dict[str, _Accumulator]
) -> None:
    for d in decoded:
        inner = [
            f
            for key, a in acc.items()
            if key != decoder.key
            for f in a.findings
            if f.origin == Origin(d.chain, d.span)
        ]
        summary = cast(Decoder, decoder.monitor).summarize(d, inner) if inner else None
        if summary is not None:
            acc[decoder.key].findings.append(summary)


def _run_inline(task: _Task, ctx: Context, acc: _Accumulator, view: View) -> None:
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
    acc.findings.extend(_place(found, task, view))


async def _run_async(task: _Task, ctx: Context, acc: _Accumulator, view: View) -> None:
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
        acc.findings.extend(_place(found, task, view))


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
                Origin(d.chain, d.span),
            )
            for f in found
        ]
    if view.offsets is None or task.raw:
        return list(found)
    out = []
    for f in found:
        spans = tuple(Span(*view.to_source(s.start, s.end)) for s in f.spans)
        out.append(Finding(f.monitor, f.category, f.score, spans, f.detail, f.origin))
    return out
