"""Every operation that changes a deployment is an event in the flight recorder, and proves."""

from __future__ import annotations

import json
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
    store = AccessStore(database)
    store.register_deployment("shop", "sha256:p", "http://model/v1")
    yield Operations(store, recorder)
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
    parse_event(entry.event)  # a well-formed event of the union
    leaf = json.loads(entry.event)
    return {k: v for k, v in leaf.items() if k not in ("v", "time", "payload")}


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


def test_a_deployment_no_gateway_served_is_an_error_not_a_silent_halt(ops: Operations) -> None:
    size = ops.recorder.size() if ops.recorder else 0
    for act in (ops.halt, ops.resume):
        with pytest.raises(OpsError, match=r"unknown deployment 'shpo' \(known: shop;"):
            act("shpo", "typo", "alice")
    assert ops.store.deployment("shpo") is None
    assert ops.recorder is not None
    assert ops.recorder.size() == size


def test_registering_again_keeps_the_halt_and_updates_what_is_served(ops: Operations) -> None:
    ops.halt("shop", "leak", "alice")
    ops.store.register_deployment("shop", "sha256:q", "local:/m.gguf")
    found = ops.known("shop")
    assert (found.halted, found.reason, found.policy_digest, found.model) == (
        True, "leak", "sha256:q", "local:/m.gguf",
    )  # fmt: skip


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
    # The name of a revoked key may be given to a new one.
    again, second, _ = ops.create_client_key("app", by="dave")
    assert again.id != key.id
    assert ops.store.authenticate(second) is not None


def test_rotation_replaces_the_secret_keeps_the_limits_and_is_recorded(ops: Operations) -> None:
    old, old_secret, _ = ops.create_client_key("app", by="dave", deployment="shop", rate=2.0)
    new, new_secret, receipt = ops.rotate_client_key("app", "erin")
    assert proven(ops, receipt) == {
        "type": "client_key_rotated", "name": "app", "old_key_id": old.id,
        "new_key_id": new.id, "by": "erin",
    }  # fmt: skip
    assert ops.store.authenticate(old_secret) is None
    current = ops.store.authenticate(new_secret)
    assert current is not None
    assert (current.deployment, current.rate) == ("shop", 2.0)
    assert [k.id for k in ops.store.client_keys()] == [new.id]
    assert {k.id for k in ops.store.client_keys(include_revoked=True)} == {old.id, new.id}
    with pytest.raises(OpsError, match="no active client key named 'nope'"):
        ops.rotate_client_key("nope", "erin")


class BrokenRecorder(Recorder):
    def __init__(self) -> None:  # no store: every record fails
        pass

    def record(self, event: object, payload: object = None) -> Receipt:
        raise RecordError("disk full")


def test_loosening_needs_the_log_tightening_does_not(tmp_path: Path) -> None:
    database = Database(str(tmp_path / "b.db"))
    ops = Operations(AccessStore(database), BrokenRecorder())
    ops.store.register_deployment("shop", "sha256:p", "m")
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
