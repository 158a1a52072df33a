"""Monitors for tests, registered in an isolated registry (never the global one)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.monitors import REGISTRY, MonitorConfig, Registry, monitor

ALL = list(Stage)


class WordConfig(MonitorConfig):
    word: str = "forbidden"
    score: float = 1.0
    category: str = "jailbreak"
    replacement: str | None = None


class WordMonitor:
    """Inline: finds a word; remembers every text it was shown."""

    name = "tests/word"
    stages = frozenset(Stage)

    def __init__(self, config: WordConfig) -> None:
        self.config = config
        self.seen: list[str] = []

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        return self.inspect_sync(content, ctx)

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        self.seen.append(content.text)
        at = content.text.find(self.config.word)
        if at < 0:
            return []
        detail = {} if self.config.replacement is None else {"replacement": self.config.replacement}
        return [
            Finding(
                self.name,
                self.config.category,
                self.config.score,
                (Span(at, at + len(self.config.word)),),
                detail,
            )
        ]


class GradedMonitor:
    """Inline, like a learned detector on disguised text: a word spelt out with spaces between
    its letters is weak evidence (0.3), the word itself strong (0.9)."""

    name = "tests/graded"
    stages = frozenset(Stage)

    def __init__(self, config: WordConfig) -> None:
        self.config = config

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        return self.inspect_sync(content, ctx)

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        word = self.config.word
        for form, score in ((word, 0.9), (" ".join(word), 0.3)):
            at = content.text.find(form)
            if at >= 0:
                return [
                    Finding(self.name, self.config.category, score, (Span(at, at + len(form)),))
                ]
        return []


class SleepConfig(MonitorConfig):
    seconds: float = 0.0
    fail: bool = False


class SleepMonitor:
    """Async: sleeps, then errors or finds nothing."""

    name = "tests/sleep"
    stages = frozenset(Stage)

    def __init__(self, config: SleepConfig) -> None:
        self.config = config

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        await asyncio.sleep(self.config.seconds)
        if self.config.fail:
            raise RuntimeError("model server unreachable")
        return []


class RendezvousConfig(MonitorConfig):
    role: str = "a"


class Rendezvous:
    """Two async monitors that can only finish if they run at the same time."""

    events: ClassVar[dict[str, asyncio.Event]] = {}

    name = "tests/rendezvous"
    stages = frozenset(Stage)

    def __init__(self, config: RendezvousConfig) -> None:
        self.role = config.role

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        mine = self.events.setdefault(self.role, asyncio.Event())
        other = self.events.setdefault("b" if self.role == "a" else "a", asyncio.Event())
        mine.set()
        await other.wait()
        return []


class TraceMonitor:
    """Inline: remembers each content's source and the trace it came with; finds nothing."""

    name = "tests/trace"
    stages = frozenset(Stage)

    def __init__(self, config: MonitorConfig) -> None:
        self.shown: list[tuple[str, str | None, tuple[Content, ...]]] = []

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        return self.inspect_sync(content, ctx)

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        self.shown.append((content.text, content.source, content.trace))
        return []


def make_registry() -> Registry:
    registry = REGISTRY.child()
    monitor(
        "tests/word", stages=ALL, categories=("jailbreak",), config=WordConfig, registry=registry
    )(WordMonitor)
    monitor(
        "tests/graded", stages=ALL, categories=("jailbreak",), config=WordConfig, registry=registry
    )(GradedMonitor)
    monitor("tests/sleep", stages=ALL, categories=(), config=SleepConfig, registry=registry)(
        SleepMonitor
    )
    monitor(
        "tests/rendezvous", stages=ALL, categories=(), config=RendezvousConfig, registry=registry
    )(Rendezvous)
    monitor("tests/trace", stages=ALL, categories=(), registry=registry)(TraceMonitor)
    return registry
