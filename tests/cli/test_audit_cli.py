"""`swisscheese audit` from the shell: export a bundle from a served store, verify it with the
public key alone, and refuse bad input clearly."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_operator_cli import db as db
from tests.cli.test_operator_cli import run


def test_export_and_verify_with_the_public_key(db: str, tmp_path: Path) -> None:
    assert run("keys", "init", "--db", db)[0] == 0
    code, verifier, _ = run("keys", "public")
    assert code == 0
    verifier = verifier.strip().splitlines()[-1]
    code, out, err = run("audit", "export", "--out", str(tmp_path / "b.tar"), "--db", db)
    assert code == 0, err
    assert "entries 0.." in out
    code, out, _ = run("audit", "verify", str(tmp_path / "b.tar"), "--verifier", verifier, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"tree", "payloads", "checkpoint"}
    # From a time: only what was recorded since is in the bundle, and it still verifies.
    code, _, err = run(
        "audit", "export", "--out", str(tmp_path / "late.tar"), "--since", "2100-01-01T00:00:00Z",
        "--db", db,
    )  # fmt: skip
    assert code == 0, err
    assert run("audit", "verify", str(tmp_path / "late.tar"), "--verifier", verifier)[0] == 0


def test_bad_input_is_named(db: str, tmp_path: Path) -> None:
    code, _, err = run("audit", "export", "--out", str(tmp_path / "b.tar"), "--db", db)
    assert code == 2
    assert "key" in err  # no log key yet: nothing could be signed
    assert run("keys", "init", "--db", db)[0] == 0
    code, _, err = run(
        "audit", "export", "--out", str(tmp_path / "b.tar"), "--since", "2026-01-01T00:00:00",
        "--db", db,
    )  # fmt: skip
    assert code == 2
    assert "give a time zone" in err
    code, _, err = run("audit", "verify", str(tmp_path / "b.tar"), "--verifier", "nonsense")
    assert code == 2
    assert "--verifier" in err
