"""The contract every monitor implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._types import Content, Finding, Stage


@dataclass(frozen=True, slots=True)
class Context:
    """What a monitor may know about the request besides the content itself."""

    deployment: str = ""
    layer: str = ""
    request_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    normalized: bool = False
    """The text was already normalised by the layer (NFKC, invisibles removed, confusables
    folded), so a monitor need not do it again."""


@runtime_checkable
class Monitor(Protocol):
    """An inspector of content. Built once (models loaded once); safe to call concurrently.

    ``inspect`` returns findings with spans into ``content.text``. Monitors that are pure,
    bounded CPU work may also offer ``inspect_sync``; the guard then calls them inline
    instead of scheduling a task, which is what keeps tier 0 in the microseconds.
    """

    name: str
    stages: frozenset[Stage]

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]: ...


@runtime_checkable
class InlineMonitor(Monitor, Protocol):
    """A monitor whose work is pure, bounded and fast enough to run on the caller's thread."""

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]: ...


@runtime_checkable
class BatchMonitor(Monitor, Protocol):
    """A monitor that inspects many contents at once more cheaply than one by one."""

    async def inspect_many(
        self, contents: Sequence[Content], ctx: Context
    ) -> list[list[Finding]]: ...
