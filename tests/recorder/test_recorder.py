from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text, update

from swisscheese.core import merkle
from swisscheese.recorder import Recorder, RecordError
from swisscheese.recorder.note import Signer, Verifier, open_checkpoint
from swisscheese.store import LogStore
from swisscheese.store._schema import checkpoints, log_entries, log_head, log_nodes, payloads
from tests.recorder import rfc9162


@pytest.fixture
def recorder(db_url: str) -> Iterator[Recorder]:
    rec = Recorder(LogStore(db_url), signer=Signer.generate("test-log"), origin="example.org/log")
    yield rec
    rec.close()


def fill(rec: Recorder, n: int) -> list[bytes]:
    """Append n events with payloads; return the canonical event bytes (the leaf data)."""
    base = rec.size()
    futures = [
        rec.submit(rec.prepare("test", {"i": base + i}, {"secret": f"data {base + i}"}))
        for i in range(n)
    ]
    indexes = [f.result() for f in futures]
    assert indexes == list(range(rec.size() - n, rec.size()))
    return [e.event for e in rec.store.entries()]


def test_appends_are_dense_and_proofs_check_out_independently(recorder: Recorder) -> None:
    data = fill(recorder, 77)
    assert recorder.size() == 77
    assert recorder.root() == rfc9162.mth(data)
    for index, size in [(0, 1), (5, 77), (76, 77), (31, 32), (40, 64)]:
        proof = recorder.prove_inclusion(index, size)
        assert list(proof.audit_path) == rfc9162.path(index, data[:size])
        root = rfc9162.root_from_inclusion(data[index], index, size, list(proof.audit_path))
        assert root == proof.root_hash == rfc9162.mth(data[:size])
    for old, new in [(1, 77), (32, 64), (33, 77), (77, 77)]:
        assert recorder.prove_consistency(old, new) == rfc9162.proof(old, data[:new])


def test_out_of_range_proofs_are_refused(recorder: Recorder) -> None:
    fill(recorder, 3)
    with pytest.raises(ValueError, match="outside"):
        recorder.prove_inclusion(0, 4)
    with pytest.raises(ValueError, match="not in a tree"):
        recorder.prove_inclusion(3)


def test_checkpoint_is_a_signed_c2sp_note(recorder: Recorder) -> None:
    data = fill(recorder, 10)
    note = recorder.checkpoint()
    body, signature = note.split("\n\n")
    origin, size, root = body.split("\n")
    assert (origin, size) == ("example.org/log", "10")
    assert base64.b64decode(root) == rfc9162.mth(data)
    assert signature.startswith("\u2014 test-log ")
    assert recorder.signer is not None
    verifier = Verifier.parse(recorder.signer.verifier.encode())
    assert open_checkpoint(note, verifier).size == 10


def test_clean_log_verifies(recorder: Recorder) -> None:
    fill(recorder, 40)
    recorder.checkpoint()
    fill(recorder, 9)
    report = recorder.verify()
    assert report.ok, report.problems
    assert (report.size, report.payloads_checked, report.checkpoints_checked) == (49, 49, 1)


def tamper(rec: Recorder, statement: object) -> None:
    with rec.store.writer.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_tampered_event_is_found_at_its_index(recorder: Recorder) -> None:
    fill(recorder, 30)
    forged = json.dumps({"v": 1, "type": "test", "i": 999}).encode()
    tamper(recorder, update(log_entries).where(log_entries.c.idx == 17).values(event=forged))
    report = recorder.verify()
    assert not report.ok
    assert report.first_bad_index == 17


def test_rewritten_leaf_and_event_break_the_subtrees(recorder: Recorder) -> None:
    fill(recorder, 30)
    forged = b'{"i":999}'
    tamper(
        recorder,
        update(log_entries)
        .where(log_entries.c.idx == 9)
        .values(event=forged, leaf_hash=merkle.leaf_hash(forged)),
    )
    report = recorder.verify()
    assert not report.ok
    assert report.first_bad_index is not None
    assert report.first_bad_index <= 9


def forge_with_its_leaf(recorder: Recorder, index: int) -> None:
    """Replace an entry's event and re-hash its leaf to match, as a careful forger would."""
    forged = json.dumps({"v": 1, "type": "test", "i": 999}).encode()
    tamper(
        recorder,
        update(log_entries)
        .where(log_entries.c.idx == index)
        .values(event=forged, leaf_hash=merkle.leaf_hash(forged)),
    )


def test_rewritten_leaf_is_named_exactly_not_the_root_of_its_subtrees(recorder: Recorder) -> None:
    fill(recorder, 52)
    forge_with_its_leaf(recorder, 20)
    assert recorder.verify().first_bad_index == 20


def test_swapped_rows_are_named_by_their_pair_not_index_0(recorder: Recorder) -> None:
    fill(recorder, 40)
    a, b = recorder.store.entry(21), recorder.store.entry(34)
    assert a is not None
    assert b is not None
    for row, other in ((a, b), (b, a)):
        tamper(
            recorder,
            update(log_entries)
            .where(log_entries.c.idx == row.index)
            .values(event=other.event, leaf_hash=other.leaf_hash),
        )
    assert recorder.verify().first_bad_index == 20  # the pair (20, 21) holds the first change


def test_a_rebuilt_tree_is_placed_after_the_last_checkpoint_that_matched(
    recorder: Recorder,
) -> None:
    fill(recorder, 16)
    recorder.checkpoint()
    fill(recorder, 16)
    given = recorder.checkpoint()
    # Rewrite entry 20 and rebuild every leaf and node above it, consistently.
    forge_with_its_leaf(recorder, 20)
    leaves = [e.leaf_hash for e in recorder.store.entries()]
    for level in range(1, 6):
        leaves = [merkle.node_hash(leaves[i], leaves[i + 1]) for i in range(0, len(leaves), 2)]
        for i, h in enumerate(leaves):
            tamper(
                recorder,
                update(log_nodes)
                .where(log_nodes.c.level == level, log_nodes.c.idx == i)
                .values(hash=h),
            )
    report = recorder.verify(given)
    assert not report.ok
    assert report.first_bad_index == 16


@pytest.mark.parametrize("column", ["payload_digest", "type"])
def test_the_payload_link_and_type_are_bound_to_the_leaf(recorder: Recorder, column: str) -> None:
    fill(recorder, 8)
    given = recorder.checkpoint()
    entry = recorder.store.entry(5)
    assert entry is not None
    if column == "payload_digest":
        tamper(recorder, payloads.delete().where(payloads.c.digest == entry.payload_digest))
        tamper(
            recorder, update(log_entries).where(log_entries.c.idx == 5).values(payload_digest=None)
        )
    else:
        tamper(recorder, update(log_entries).where(log_entries.c.idx == 5).values(type="erasure"))
    report = recorder.verify(given)
    assert not report.ok
    assert report.first_bad_index == 5


def test_a_forged_payload_behind_a_repointed_link_is_found(recorder: Recorder) -> None:
    fill(recorder, 6)
    forged = b'{"secret": "forged"}'
    digest = "sha256:" + hashlib.sha256(forged).hexdigest()
    tamper(recorder, payloads.insert().values(digest=digest, data=forged))
    tamper(
        recorder, update(log_entries).where(log_entries.c.idx == 4).values(payload_digest=digest)
    )
    report = recorder.verify()
    assert not report.ok
    assert report.first_bad_index == 4


def test_tampered_node_payload_checkpoint_and_signature(recorder: Recorder) -> None:
    fill(recorder, 20)
    recorder.checkpoint()
    tamper(
        recorder,
        update(log_nodes)
        .where(log_nodes.c.level == 2, log_nodes.c.idx == 1)
        .values(hash=bytes(32)),
    )
    assert "level 2, index 1" in " ".join(recorder.verify().problems)


def test_tampered_payload_is_found(recorder: Recorder) -> None:
    fill(recorder, 5)
    digest = recorder.store.entry(3).payload_digest  # type: ignore[union-attr]
    tamper(recorder, update(payloads).where(payloads.c.digest == digest).values(data=b"{}"))
    report = recorder.verify()
    assert not report.ok
    assert report.first_bad_index == 3


def test_deleted_payload_without_erasure_is_found(recorder: Recorder) -> None:
    fill(recorder, 5)
    digest = recorder.store.entry(2).payload_digest  # type: ignore[union-attr]
    tamper(recorder, payloads.delete().where(payloads.c.digest == digest))
    report = recorder.verify()
    assert report.first_bad_index == 2
    assert "missing (not erased)" in " ".join(report.problems)


@pytest.mark.parametrize("position", ["body", "signature"])
def test_tampered_checkpoint_bytes_are_found(recorder: Recorder, position: str) -> None:
    fill(recorder, 12)
    note = recorder.checkpoint()
    body, sig = note.split("\n\n")
    if position == "body":
        changed = body.replace("\n12\n", "\n11\n") + "\n\n" + sig
    else:
        blob = sig.rsplit(" ", 1)[1].strip()
        raw = bytearray(base64.b64decode(blob))
        raw[10] ^= 1
        changed = note.replace(blob, base64.b64encode(bytes(raw)).decode())
    tamper(recorder, update(checkpoints).values(note=changed))
    report = recorder.verify()
    assert not report.ok
    assert "stored checkpoint 12" in report.problems[0]


def test_a_checkpoint_from_another_history_is_rejected(
    recorder: Recorder, tmp_path: object
) -> None:
    fill(recorder, 8)
    assert recorder.signer is not None
    other = recorder.signer.sign(f"example.org/log\n4\n{base64.b64encode(bytes(32)).decode()}\n")
    report = recorder.verify(other)
    assert not report.ok
    assert "given checkpoint: root does not match" in report.problems[0]


def test_truncated_head_is_found(recorder: Recorder) -> None:
    fill(recorder, 6)
    tamper(recorder, update(log_head).values(size=5))
    assert not recorder.verify().ok


def test_erasure_keeps_the_log_verifiable(recorder: Recorder) -> None:
    data = fill(recorder, 6)
    digest = recorder.store.entry(4).payload_digest  # type: ignore[union-attr]
    assert digest is not None
    receipt = recorder.erase(digest, "subject request")
    assert receipt is not None
    assert recorder.store.payload(digest) is None
    report = recorder.verify()
    assert report.ok, report.problems
    assert report.payloads_erased == 1
    proof = recorder.prove_inclusion(4)
    assert rfc9162.root_from_inclusion(data[4], 4, 7, list(proof.audit_path)) == proof.root_hash
    assert recorder.erase(digest) is None


def test_events_are_canonical_json(recorder: Recorder) -> None:
    receipt = recorder.append_sync("verdict", {"b": 1, "a": "é"}, {"x": [1, 2]})
    entry = recorder.store.entry(receipt.index)
    assert entry is not None
    event = json.loads(entry.event)
    assert list(event) == sorted(event)
    assert event["payload"] == receipt.payload_digest
    assert entry.leaf_hash == merkle.leaf_hash(entry.event) == receipt.leaf_hash


class FlakyStore(LogStore):
    broken = True

    def append(self, entries):  # type: ignore[no-untyped-def]
        if self.broken:
            raise OSError("disk unplugged")
        return super().append(entries)


def test_failure_is_an_error_the_caller_sees(tmp_path: object) -> None:
    store = FlakyStore(str(tmp_path) + "/x.db")
    with Recorder(store) as rec, pytest.raises(RecordError, match="disk unplugged"):
        rec.append_sync("test", {"i": 1})


def test_spool_keeps_events_durable_and_in_order(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    store = FlakyStore(str(base / "x.db"))
    with Recorder(store, spool=base / "spool.jsonl") as rec:
        first = rec.append_sync("test", {"i": 1})
        second = rec.append_sync("test", {"i": 2})
        assert first.queued
        assert second.queued
        assert rec.size() == 0
        store.broken = False
        third = rec.append_sync("test", {"i": 3})
        assert third.index == 2
        assert [json.loads(e.event)["i"] for e in rec.store.entries()] == [1, 2, 3]
        assert not (base / "spool.jsonl").exists()
        assert rec.verify().ok


def test_reopening_continues_the_same_tree(tmp_path: object) -> None:
    path = str(tmp_path) + "/log.db"
    with Recorder(LogStore(path)) as rec:
        data = fill(rec, 13)
    with Recorder(LogStore(path)) as rec:
        data = fill(rec, 4)  # every entry so far
        assert rec.root() == rfc9162.mth(data)
        assert rec.verify().ok


def test_postgres_schema_is_migrated_once(db_url: str) -> None:
    LogStore(db_url).close()
    store = LogStore(db_url)
    with store.reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log_head")).scalar_one() == 1
    store.close()


def test_entries_of_a_type_come_newest_first_in_chunks_below_any_index(recorder: Recorder) -> None:
    for i in range(23):
        recorder.submit(recorder.prepare("a" if i % 3 else "b", {"i": i})).result()
    every_a = [i for i in range(23) if i % 3]
    store = recorder.store
    assert [e.index for e in store.newest_of_type("a", chunk=4)] == every_a[::-1]
    assert [e.index for e in store.newest_of_type("a", before=10, chunk=4)] == [8, 7, 5, 4, 2, 1]
    assert [e.index for e in store.newest_of_type("b", before=0)] == []
    assert [e.index for e in store.latest_of_type("b", 2)] == [21, 18]


def test_a_caller_that_goes_away_loses_no_record_and_stops_no_later_one(recorder: Recorder) -> None:
    # A client that disconnects cancels the request task awaiting its record; the record is
    # still written, and the writer goes on recording everything after it.
    async def scenario() -> None:
        waiting = [
            asyncio.ensure_future(recorder.append("test", {"i": i}, {"p": i})) for i in range(50)
        ]
        await asyncio.sleep(0)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await recorder.append("test", {"i": "after"})

    asyncio.run(scenario())
    events = [json.loads(e.event) for e in recorder.store.entries()]
    assert sorted(str(e["i"]) for e in events) == sorted([str(i) for i in range(50)] + ["after"])
    assert recorder.verify().ok
