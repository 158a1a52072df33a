"""Rotating the log's key: old statements still verify with the old key, new ones with the new,
and `log verify` checks every checkpoint against the key in force when it was signed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swisscheese.provenance import StatementSigner, answer_bundle, text_sha256, verify_bundle
from swisscheese.recorder import Recorder, load_signer
from swisscheese.recorder.events import AnswerReleased
from tests.cli.test_operator_cli import run

TEXT = "Paris."


def answer() -> AnswerReleased:
    return AnswerReleased(
        deployment="default", model="m", policy="sha256:" + "0" * 64,
        verdicts_digest="sha256:" + "1" * 64, released=[text_sha256(TEXT)],
    )  # fmt: skip


def test_statements_and_checkpoints_survive_a_key_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db, key = str(tmp_path / "log.db"), str(tmp_path / "log.key")
    assert run("keys", "init", "--key", key, "--db", db)[0] == 0
    old = load_signer(key)
    with Recorder.open(db, key=key) as recorder:
        first = recorder.record(answer()).index
        old_bundle = answer_bundle(recorder, StatementSigner(old), first)
    code, out, err = run("keys", "rotate", "--key", key, "--db", db)
    assert code == 0, err
    new = load_signer(key)
    assert out.strip() == new.verifier.encode() != old.verifier.encode()
    assert list(tmp_path.glob("log.key.*.retired"))
    with Recorder.open(db, key=key) as recorder:
        second = recorder.record(answer()).index
        new_bundle = answer_bundle(recorder, StatementSigner(new), second)
        rebuilt = answer_bundle(recorder, StatementSigner(new), first)
    assert all(c.ok for c in verify_bundle(TEXT, old_bundle, old.verifier))
    assert all(c.ok for c in verify_bundle(TEXT, new_bundle, new.verifier))
    assert all(c.ok for c in verify_bundle(TEXT, rebuilt, new.verifier))
    assert not verify_bundle(TEXT, new_bundle, old.verifier)[0].ok
    code, out, _ = run("log", "verify", "--db", db, "--key", key, "--json")
    report = json.loads(out)
    assert code == 0, report["problems"]
    assert report["checkpoints_checked"] == 2  # one signed by each key


def test_rotating_without_a_key_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("keys", "rotate", "--key", str(tmp_path / "none.key"))
    assert code == 2
    assert "keys init" in err


def test_a_revoked_key_cannot_vouch_for_anything_after_its_revocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swisscheese.recorder.note import Checkpoint

    monkeypatch.chdir(tmp_path)
    db, key = str(tmp_path / "log.db"), str(tmp_path / "log.key")
    assert run("keys", "init", "--key", key, "--db", db)[0] == 0
    old = load_signer(key)
    with Recorder.open(db, key=key) as recorder:
        recorder.record(answer())
        recorder.checkpoint()  # signed by the old key, before any revocation
    assert run("keys", "rotate", "--key", key, "--db", db)[0] == 0
    code, _, err = run("keys", "revoke", load_signer(key).verifier.encode(), "--reason", "x",
                       "--by", "alice", "--key", key, "--db", db)  # fmt: skip
    assert code == 2
    assert "that is the key in use" in err
    code, _, err = run("keys", "revoke", "nobody+00000000+AAAA", "--reason", "x", "--by", "a",
                       "--key", key, "--db", db)  # fmt: skip
    assert code == 2
    code, _, err = run("keys", "revoke", old.verifier.encode(), "--reason", "leaked",
                       "--by", "alice", "--key", key, "--db", db)  # fmt: skip
    assert code == 0, err
    history = json.loads(run("keys", "history", "--db", db, "--json")[1])
    assert [h["revoked_at"] is not None for h in history] == [True, False]
    assert run("log", "verify", "--db", db, "--key", key)[0] == 0  # the old checkpoint stands
    with Recorder.open(db, key=key) as recorder:
        recorder.record(answer())
        size = recorder.store.size()
        forged = old.sign(Checkpoint(recorder.origin, size, recorder.root(size)).text())
        recorder.store.add_checkpoint(size, forged)
    code, out, _ = run("log", "verify", "--db", db, "--key", key, "--json")
    assert code == 1
    assert any(f"stored checkpoint {size}" in p for p in json.loads(out)["problems"])
