"""Operators' decisions are signed with their own keys, and `log verify` checks each one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swisscheese.ops import Operations
from swisscheese.recorder import Recorder
from swisscheese.recorder.decisions import verify_decisions
from swisscheese.recorder.note import Signer
from swisscheese.store import AccessStore, Database, LogStore
from tests.cli.test_operator_cli import db as db
from tests.cli.test_operator_cli import run


def pending_approval(db: str) -> str:
    database = Database(db)
    with Recorder(LogStore(database)) as recorder:
        approval, _ = Operations(AccessStore(database), recorder).request_approval(
            "default", "tool_call", "v1", "escalate at tool_call", '{"call": "..."}'
        )
    return approval


def test_an_approval_is_signed_by_the_approver_and_verified(db: str, tmp_path: Path) -> None:
    code, verifier, err = run("keys", "init-operator", "alice", "--db", db)
    assert code == 0, err
    assert verifier.startswith("alice+")
    assert (tmp_path / ".swisscheese/operators/alice.key").stat().st_mode & 0o777 == 0o600
    approval = pending_approval(db)
    code, out, err = run(
        "approvals", "approve", approval, "--by", "alice", "--reason", "known user", "--db", db
    )
    assert code == 0, err
    assert "approved" in out
    code, out, _ = run("log", "verify", "--db", db, "--json")
    report = json.loads(out)
    assert (report["ok"], report["decisions_signed"]) == (True, 1)  # the reason is signed too
    shown = [
        json.loads(line)["event"]
        for line in run("log", "show", "--db", db, "--json")[1].splitlines()
    ]
    assert next(e for e in shown if e["type"] == "approval_decided")["reason"] == "known user"


def test_an_approval_without_the_approvers_key_is_refused(db: str) -> None:
    approval = pending_approval(db)
    code, _, err = run("approvals", "deny", approval, "--by", "mallory", "--db", db)
    assert code == 2
    assert "keys init-operator mallory" in err
    code, _, err = run("approvals", "deny", approval, "--db", db)
    assert code == 2  # the approver must be named


def test_another_operators_key_cannot_sign_in_their_name(db: str, tmp_path: Path) -> None:
    assert run("keys", "init-operator", "bob", "--db", db)[0] == 0
    approval = pending_approval(db)
    bobs = str(tmp_path / ".swisscheese/operators/bob.key")
    code, _, err = run("approvals", "approve", approval, "--by", "alice", "--key", bobs, "--db", db)
    assert code == 2
    assert "is the key of 'bob', not of 'alice'" in err


def test_a_halt_is_signed_when_the_operator_has_a_key(db: str) -> None:
    assert run("keys", "init-operator", "ops", "--db", db)[0] == 0
    assert run("deployment", "halt", "default", "--by", "ops", "--db", db)[0] == 0
    assert run("deployment", "resume", "default", "--by", "someone", "--db", db)[0] == 0
    report = json.loads(run("log", "verify", "--db", db, "--json")[1])
    assert (report["decisions_signed"], report["decisions_unsigned"]) == (1, 1)


def _event(kind: str, signer: Signer, **fields: str) -> dict[str, object]:
    from swisscheese.recorder.decisions import sign_decision

    return {"type": kind, **fields, "signed": sign_decision(signer, kind, fields)}


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda e: {**e, "decision": "approved"}, "the signed statement is not this"),
        (lambda e: {**e, "by": "eve"}, "no key"),
        (lambda e: {**e, "signed": e["signed"].replace("denied", "approved")}, "signature is bad"),
    ],
)
def test_a_forged_or_altered_decision_fails_verification(tamper: object, problem: str) -> None:
    alice = Signer.generate("alice")
    registered = {"type": "operator_key", "name": "alice", "verifier": alice.verifier.encode()}
    decided = _event("approval_decided", alice, approval="a1", decision="denied", by="alice")
    assert verify_decisions([(0, registered), (1, decided)]).signed == 1
    report = verify_decisions([(0, registered), (1, tamper(decided))])  # type: ignore[operator]
    assert report.signed == 0
    assert problem in report.problems[0][1]
