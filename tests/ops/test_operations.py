"""Every operation that changes a deployment is an event in the flight recorder, and proves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swisscheese.core import Receipt
from swisscheese.core.merkle import verify_inclusion
from swisscheese.ops import Operations, OpsError
from swisscheese.recorder import Recorder, RecordError
from swisscheese.recorder.events import parse_event
from swisscheese.store import AccessStore, Database, LogStore


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Operations]:
    database = Database(str(tmp_path / "ops.db"))
    recorder = Recorder(LogStore(database))
    yield Operations(AccessStore(database), recorder)
    recorder.close()
    database.close()


def proven(ops: Operations, receipt: Receipt | None) -> dict[str, object]:
    """The event behind a receipt, after checking its inclusion proof against the root."""
    assert receipt is not None
    recorder = ops.recorder
    assert recorder is not None
    proof = recorder.prove_inclusion(receipt.index)
    assert verify_inclusion(
        receipt.leaf_hash, receipt.index, proof.tree_size, proof.audit_path, recorder.root()
    )
    entry = recorder.store.entry(receipt.index)
    assert entry is not None
    return parse_event(entry.event).model_dump()


def test_halt_and_resume_are_recorded_with_who_and_why(ops: Operations) -> None:
    halted = proven(ops, ops.halt("shop", "leak suspected", "alice"))
    assert halted == {
        "type": "halt",
        "deployment": "shop",
        "reason": "leak suspected",
        "by": "alice",
    }
    assert ops.store.halted("shop") == "leak suspected"
    resumed = proven(ops, ops.resume("shop", "fixed", "bob"))
    assert (resumed["type"], resumed["by"]) == ("resume", "bob")
    assert ops.store.halted("shop") is None


def test_an_approval_request_and_its_decision_are_recorded(ops: Operations) -> None:
    approval, receipt = ops.request_approval("shop", "tool_call", "v1", "send_email to x")
    requested = proven(ops, receipt)
    assert (requested["type"], requested["approval"], requested["verdict"]) == (
        "approval_requested", approval, "v1",
    )  # fmt: skip
    decided = proven(ops, ops.decide(approval, True, "carol"))
    assert decided == {
        "type": "approval_decided", "approval": approval, "decision": "approved", "by": "carol",
    }  # fmt: skip
    with pytest.raises(OpsError, match="no pending approval"):
        ops.decide(approval, False, "carol")


def test_client_keys_are_recorded_without_their_secret(ops: Operations) -> None:
    key, secret, receipt = ops.create_client_key("app", by="dave", rate=5.0)
    created = proven(ops, receipt)
    assert (created["type"], created["key_id"], created["rate"]) == (
        "client_key_created",
        key.id,
        5.0,
    )
    assert secret not in str(created)
    assert ops.store.authenticate(secret) is not None
    revoked = proven(ops, ops.revoke_client_key("app", "dave"))
    assert revoked == {"type": "client_key_revoked", "name": "app", "by": "dave"}
    assert ops.store.authenticate(secret) is None
    with pytest.raises(OpsError):
        ops.revoke_client_key("app", "dave")


class BrokenRecorder(Recorder):
    def __init__(self) -> None:  # no store: every record fails
        pass

    def record(self, event: object, payload: object = None) -> Receipt:
        raise RecordError("disk full")


def test_loosening_needs_the_log_tightening_does_not(tmp_path: Path) -> None:
    database = Database(str(tmp_path / "b.db"))
    ops = Operations(AccessStore(database), BrokenRecorder())
    with pytest.raises(RecordError):
        ops.halt("shop", "stop", "alice")
    assert ops.store.halted("shop") == "stop"  # halted all the same
    with pytest.raises(RecordError):
        ops.resume("shop", "go", "alice")
    assert ops.store.halted("shop") == "stop"  # not resumed without a record
    with pytest.raises(RecordError):
        ops.create_client_key("app", by="alice")
    assert ops.store.pending() == []
    database.close()
