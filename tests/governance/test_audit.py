"""Audit bundles: exported from a real log, verified offline with the public key alone, and
every kind of alteration named."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from swisscheese.governance.audit import export_bundle, verify_bundle
from swisscheese.recorder import Recorder
from swisscheese.recorder.note import Signer
from swisscheese.store import LogStore
from swisscheese.store._schema import log_entries, payloads

DOCS = {"framework.yaml": b"version: 1\n"}


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    rec = Recorder(LogStore(f"sqlite:///{tmp_path}/log.db"), signer=Signer.generate("test-log"))
    for i in range(37):
        rec.submit(rec.prepare("test", {"i": i}, {"data": f"payload {i}"})).result()
    return rec


def failed(path: Path, rec: Recorder) -> dict[str, str]:
    assert rec.signer is not None
    return {c.name: c.detail for c in verify_bundle(path, rec.signer.verifier) if not c.ok}


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 37))
def test_any_range_verifies_against_the_signed_root(
    recorder: Recorder, tmp_path: Path, first: int
) -> None:
    path = tmp_path / f"bundle-{first}.tar"
    manifest = export_bundle(recorder, path, first, DOCS)
    assert manifest["first"] == first
    assert failed(path, recorder) == {}


def test_erased_payloads_pass_and_missing_ones_are_named(
    recorder: Recorder, tmp_path: Path
) -> None:
    entry = recorder.store.entry(3)
    assert entry is not None
    assert entry.payload_digest is not None
    recorder.erase(entry.payload_digest, "subject request")
    export_bundle(recorder, tmp_path / "b.tar", 0, DOCS)
    assert failed(tmp_path / "b.tar", recorder) == {}
    victim = recorder.store.entry(5)
    assert victim is not None
    with recorder.store.writer.begin() as conn:
        conn.execute(delete(payloads).where(payloads.c.digest == victim.payload_digest))
    export_bundle(recorder, tmp_path / "c.tar", 0, DOCS)
    assert failed(tmp_path / "c.tar", recorder) == {
        "payloads": "entry 5: payload missing, no erasure recorded"
    }


def test_an_event_altered_in_the_store_does_not_recompute_the_root(
    recorder: Recorder, tmp_path: Path
) -> None:
    with recorder.store.writer.begin() as conn:
        forged = json.dumps({"v": 1, "type": "test", "i": 999}).encode()
        conn.execute(update(log_entries).where(log_entries.c.idx == 30).values(event=forged))
    export_bundle(recorder, tmp_path / "b.tar", 20, DOCS)
    assert "tree" in failed(tmp_path / "b.tar", recorder)


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    with tarfile.open(src) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    for name, data in change.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    with tarfile.open(dst, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_files_altered_added_or_removed_after_export_are_named(
    recorder: Recorder, tmp_path: Path
) -> None:
    export_bundle(recorder, tmp_path / "b.tar", 10, DOCS)
    cases: dict[str, dict[str, bytes | None]] = {
        "altered": {"governance/framework.yaml": b"version: 2\n"},
        "extra": {"notes.txt": b"trust me"},
        "missing": {"checkpoint.txt": None},
    }
    for word, change in cases.items():
        _rewrite(tmp_path / "b.tar", tmp_path / "x.tar", change)
        found = failed(tmp_path / "x.tar", recorder)
        assert word in found.get("files", ""), (word, found)
    # A forged manifest cannot be signed without the log key.
    _rewrite(tmp_path / "b.tar", tmp_path / "x.tar", {"manifest.json": b"{}"})
    assert "manifest signature" in failed(tmp_path / "x.tar", recorder)
    other = Signer.generate("test-log")
    checks = verify_bundle(tmp_path / "b.tar", other.verifier)
    assert [c.name for c in checks if not c.ok] == ["manifest signature"]
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    assert [c.name for c in verify_bundle(tmp_path / "junk.tar", other.verifier)] == ["bundle"]
