"""Corpus shards: JSONL and Parquet files found from a file, a directory or a glob, read as a
stream of records (bounded memory whatever the shard's size) and written back in the format
they came in. Bad input names the file and the line or row."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from swisscheese.core.errors import SwisscheeseError

Format = Literal["jsonl", "parquet"]
SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".parquet": "parquet"}
BATCH_ROWS = 1024


class ShardError(SwisscheeseError, ValueError):
    """A shard that cannot be read: the message names the file and the line or row."""


@dataclass(frozen=True, slots=True)
class Shard:
    path: Path
    name: str
    """Its path relative to the source root: outputs keep the layout."""
    format: Format


def find_shards(source: str) -> list[Shard]:
    """The shards of a file, a directory (recursively) or a glob, in a stable order."""
    path = Path(source)
    if path.is_file():
        files, root = [path], path.parent
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        root = path
    else:
        files = sorted(Path(p) for p in glob.glob(source, recursive=True))
        files = [p for p in files if p.suffix in SUFFIXES and p.is_file()]
        root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else Path(".")
    if not files:
        raise ShardError(f"{source}: no .jsonl or .parquet shards found")
    unknown = [p for p in files if p.suffix not in SUFFIXES]
    if unknown:
        raise ShardError(f"{unknown[0]}: not a .jsonl or .parquet shard")
    return [Shard(p, str(p.relative_to(root)), SUFFIXES[p.suffix]) for p in files]


def read_records(shard: Shard, field: str) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line or row number from 1, the record, its text) for every record of the shard."""
    if shard.format == "jsonl":
        yield from _read_jsonl(shard.path, field)
    else:
        yield from _read_parquet(shard.path, field)


def _read_jsonl(path: Path, field: str) -> Iterator[tuple[int, dict[str, Any], str]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                raise ShardError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ShardError(
                    f"{path}:{number}: a line is a JSON object, not {type(record).__name__}"
                )
            text = record.get(field)
            if not isinstance(text, str):
                raise ShardError(f"{path}:{number}: no text field {field!r}")
            yield number, record, text


def _read_parquet(path: Path, field: str) -> Iterator[tuple[int, dict[str, Any], str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ShardError(f"{path}: not a readable Parquet file ({exc})") from None
    if field not in reader.schema_arrow.names:
        raise ShardError(
            f"{path}: no text column {field!r} (columns: {', '.join(reader.schema_arrow.names)})"
        )
    row = 0
    try:
        for batch in reader.iter_batches(batch_size=BATCH_ROWS):
            for record in batch.to_pylist():
                row += 1
                text = record.get(field)
                if not isinstance(text, str):
                    raise ShardError(f"{path}: row {row}: the text column {field!r} is not text")
                yield row, record, text
    except pa.ArrowException as exc:
        raise ShardError(f"{path}: row {row + 1}: unreadable ({exc})") from None


class ShardWriter:
    """Records into a new shard of the input's format, written beside its final name and moved
    there only when complete: nothing half-written ever looks finished."""

    def __init__(self, path: Path, format: Format, schema: Any | None = None) -> None:
        self.path = path
        self.format = format
        self.partial = path.with_name(path.name + ".partial")
        self.count = 0
        self._schema = schema
        self._rows: list[dict[str, Any]] = []
        self._jsonl: IO[bytes] | None = None
        self._parquet: Any = None
        path.parent.mkdir(parents=True, exist_ok=True)
        if format == "jsonl":
            self._jsonl = self.partial.open("wb")

    def write(self, record: dict[str, Any]) -> None:
        self.count += 1
        if self._jsonl is not None:
            self._jsonl.write(
                json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            )
            return
        self._rows.append(record)
        if len(self._rows) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self._rows, schema=self._schema)
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.partial, table.schema)
        self._parquet.write_table(table)
        self._rows = []

    def close(self) -> None:
        """Complete the shard and move it to its name (fsynced first)."""
        if self._jsonl is not None:
            self._jsonl.flush()
            os.fsync(self._jsonl.fileno())
            self._jsonl.close()
        else:
            if self._rows or self._parquet is None:
                self._flush()
            self._parquet.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
        elif self._parquet is not None:
            self._parquet.close()
        self.partial.unlink(missing_ok=True)


def parquet_schema(shard: Shard) -> Any | None:
    """The input's schema, so a Parquet output keeps its column types even when empty."""
    if shard.format != "parquet":
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(shard.path).schema_arrow
