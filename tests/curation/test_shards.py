"""Shards: found from a file, a directory or a glob; read as a stream; bad input named by file
and line or row; written whole or not at all."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swisscheese.curation.shards import Shard, ShardError, ShardWriter, find_shards, read_records


def test_shards_are_found_in_a_stable_order_with_their_layout(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.parquet").write_bytes(b"")
    (tmp_path / "1.jsonl").write_text("")
    (tmp_path / "notes.txt").write_text("not a shard")
    names = [(s.name, s.format) for s in find_shards(str(tmp_path))]
    assert names == [("1.jsonl", "jsonl"), ("b/2.parquet", "parquet")]
    assert [s.name for s in find_shards(str(tmp_path / "*.jsonl"))] == ["1.jsonl"]
    with pytest.raises(ShardError, match=r"no \.jsonl or \.parquet shards"):
        find_shards(str(tmp_path / "nothing-*.jsonl"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "fine"}\n{"text": "cut', ":2: not JSON"),
        ('{"text": "fine"}\n["a list"]\n', ":2: a line is a JSON object"),
        ('{"text": "fine"}\n\n{"body": "no text"}\n', ":3: no text field 'text'"),
    ],
)
def test_a_bad_jsonl_line_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    shard = Shard(path, "bad.jsonl", "jsonl")
    with pytest.raises(ShardError, match=message) as caught:
        list(read_records(shard, "text"))
    assert str(path) in str(caught.value)


def test_a_corrupt_or_columnless_parquet_file_is_named(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ShardError, match="not a readable Parquet file") as caught:
        list(read_records(Shard(corrupt, "corrupt.parquet", "parquet"), "text"))
    assert str(corrupt) in str(caught.value)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"body": ["x"]}), other)
    with pytest.raises(ShardError, match=r"no text column 'text' \(columns: body\)"):
        list(read_records(Shard(other, "other.parquet", "parquet"), "text"))


records = st.lists(
    st.fixed_dictionaries({"id": st.integers(0, 10**9), "text": st.text(max_size=200)}),
    max_size=30,
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records, st.sampled_from(["jsonl", "parquet"]))
def test_what_is_written_reads_back_the_same(
    tmp_path: Path, rows: list[dict[str, object]], fmt: str
) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / f"out.{fmt}"  # one directory per example
    schema = pa.schema([("id", pa.int64()), ("text", pa.string())]) if fmt == "parquet" else None
    writer = ShardWriter(path, fmt, schema)  # type: ignore[arg-type]
    for row in rows:
        writer.write(row)
    assert not path.exists()  # only the .partial file until it is complete
    writer.close()
    back = [r for _, r, _ in read_records(Shard(path, path.name, fmt), "text")]  # type: ignore[arg-type]
    assert back == rows


def test_an_aborted_shard_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "kept" / "a.jsonl"
    writer = ShardWriter(path, "jsonl")
    writer.write({"text": json.dumps("half")})
    writer.abort()
    assert list(tmp_path.rglob("*")) == [tmp_path / "kept"]
