"""One shard through the policy's ``corpus`` stage: each record kept (possibly redacted) or
removed, by category, with the counts, score histograms and examples the report shows."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swisscheese.common.files import file_sha256
from swisscheese.core import Action, Stage, Verdict
from swisscheese.curation.shards import (
    Shard,
    ShardWriter,
    parquet_schema,
    read_records,
)
from swisscheese.guard import Guard

BATCH = 256
EXAMPLES = 5
EXCERPT = 300
BINS = 10


@dataclass
class ShardResult:
    name: str
    format: str
    input_sha256: str
    records: int = 0
    kept: int = 0
    removed: int = 0
    modified: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    """Removed records by the categories that removed them (a record may count in several)."""
    histograms: dict[str, list[int]] = field(default_factory=dict)
    """Per category, findings' scores in ten bins from 0 to 1 (kept and removed records)."""
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removed_lines: list[tuple[int, list[str]]] = field(default_factory=list)
    """Each removed record's line or row and the categories that removed it."""
    kept_sha256: str = ""
    removed_sha256: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardResult:
        lines = [(int(n), list(c)) for n, c in data.get("removed_lines", [])]
        return cls(**(data | {"removed_lines": lines}))


def removing_categories(verdict: Verdict) -> list[str]:
    """The categories of the findings whose rules decided the verdict's action."""
    deciding = {d.monitor for d in verdict.decisions if d.action == verdict.action}
    return sorted({f.category for f in verdict.findings if f.monitor in deciding})


def curate_shard(guard: Guard, shard: Shard, field_name: str, out: Path) -> ShardResult:
    """Screen every record; write ``out/kept/NAME`` and ``out/removed/NAME`` (same format)."""
    started = time.perf_counter()
    result = ShardResult(shard.name, shard.format, file_sha256(shard.path))
    schema = parquet_schema(shard)
    kept = ShardWriter(out / "kept" / shard.name, shard.format, schema)
    removed = ShardWriter(out / "removed" / shard.name, shard.format, schema)
    categories: Counter[str] = Counter()
    try:
        batch: list[tuple[int, dict[str, Any], str]] = []
        for item in read_records(shard, field_name):
            batch.append(item)
            if len(batch) == BATCH:
                _screen(guard, batch, field_name, result, categories, kept, removed)
                batch = []
        if batch:
            _screen(guard, batch, field_name, result, categories, kept, removed)
        kept.close()
        removed.close()
    except BaseException:
        kept.abort()
        removed.abort()
        raise
    result.by_category = dict(sorted(categories.items()))
    result.kept_sha256 = file_sha256(kept.path)
    result.removed_sha256 = file_sha256(removed.path)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _screen(
    guard: Guard,
    batch: list[tuple[int, dict[str, Any], str]],
    field_name: str,
    result: ShardResult,
    categories: Counter[str],
    kept: ShardWriter,
    removed: ShardWriter,
) -> None:
    verdicts = guard.check_many_sync(Stage.CORPUS, [text for _, _, text in batch])
    for (line, record, text), verdict in zip(batch, verdicts, strict=True):
        result.records += 1
        for f in verdict.findings:
            bins = result.histograms.setdefault(f.category, [0] * BINS)
            bins[min(BINS - 1, max(0, int(f.score * BINS)))] += 1
        if verdict.action.stops:
            result.removed += 1
            removed.write(record)
            why = removing_categories(verdict) or [verdict.action.value]
            result.removed_lines.append((line, why))
            for category in why:
                categories[category] += 1
                shown = result.examples.setdefault(category, [])
                if len(shown) < EXAMPLES:
                    shown.append({"shard": result.name, "line": line, "text": text[:EXCERPT]})
            continue
        if verdict.action == Action.MODIFY and verdict.modified is not None:
            result.modified += 1
            record = {**record, field_name: verdict.modified}
        result.kept += 1
        kept.write(record)
