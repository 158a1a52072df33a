"""Batch screening of JSONL records, with a tiny progress protocol the CLI renders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from swisscheese.core import Action, Content, Stage, Verdict
from swisscheese.core.errors import InputError as InputError
from swisscheese.core.jsonl import json_lines
from swisscheese.core.stats import percentile
from swisscheese.guard import Guard


class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...

    def complete(self) -> None: ...


class NullProgress:
    def update(self, n: int = 1) -> None:
        pass

    def complete(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    text: str
    stage: Stage
    id: str | None = None
    expect: Action | None = None


def examples_path() -> Path:
    return Path(str(resources.files("swisscheese.examples").joinpath("inputs.jsonl")))


def read_jsonl(
    lines: Iterable[str], source: str, *, field_name: str = "text", stage: Stage = Stage.INPUT
) -> Iterator[Record]:
    """Records from JSONL: ``{"text": ..., "stage"?: ..., "id"?: ..., "expect"?: action}``.

    A bare JSON string is a record too. Blank lines are skipped; anything else that is not a
    record raises ``InputError`` naming the line.
    """
    for number, value in json_lines(lines, source):
        if isinstance(value, str):
            yield Record(number, value, stage)
            continue
        if not isinstance(value, dict):
            raise InputError(source, number, "expected a JSON object or string")
        text = value.get(field_name)
        if not isinstance(text, str):
            raise InputError(source, number, f"field {field_name!r} missing or not a string")
        try:
            record_stage = Stage(value.get("stage", stage))
            expect = Action(value["expect"]) if "expect" in value else None
        except ValueError as exc:
            raise InputError(source, number, str(exc)) from None
        rid = value.get("id")
        yield Record(number, text, record_stage, None if rid is None else str(rid), expect)


@dataclass
class ScanSummary:
    total: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    expected: int = 0
    matched: int = 0
    mismatches: list[tuple[Record, Verdict]] = field(default_factory=list)
    durations_ms: list[float] = field(default_factory=list)

    def add(self, record: Record, verdict: Verdict) -> None:
        self.total += 1
        self.by_action[verdict.action.value] += 1
        for f in verdict.findings:
            self.by_category[f.category] += 1
        self.durations_ms.append(verdict.duration_ms)
        if record.expect is not None:
            self.expected += 1
            if record.expect is verdict.action:
                self.matched += 1
            else:
                self.mismatches.append((record, verdict))

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0-1) of the per-record screening time, in ms."""
        return percentile(self.durations_ms, q * 100)


def scan(
    guard: Guard, records: Iterable[Record], progress: Progress | None = None
) -> Iterator[tuple[Record, Verdict]]:
    """Screen each record at its stage; yields as it goes so output streams."""
    progress = progress or NullProgress()
    for record in records:
        content = Content(record.text, stage=record.stage)
        verdict = guard.check_sync(record.stage, content)
        progress.update(1)
        yield record, verdict
    progress.complete()


def verdict_line(record: Record, verdict: Verdict) -> str:
    out: dict[str, Any] = {"line": record.line}
    if record.id is not None:
        out["input_id"] = record.id
    if record.expect is not None:
        out["expect"] = record.expect.value
    out.update(verdict.to_dict())
    return json.dumps(out, ensure_ascii=False)
