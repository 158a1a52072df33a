"""`swisscheese incidents` on a real store: open, update, due, export; halts and failed log
verifications open incidents themselves."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_operator_cli import db as db
from tests.cli.test_operator_cli import run


def incident_file(path: Path, aware: dt.datetime, **extra: object) -> Path:
    body = {
        "id": "inc-1",
        "title": "Canary token in an answer",
        "what": "The system prompt's canary appeared in an answer.",
        "occurred_at": (aware - dt.timedelta(hours=2)).isoformat(),
        "aware_at": aware.isoformat(),
        "where": ["EU", "US-NY"],
        "system": {"deployment": "default"},
        "harms": [{"type": "security", "severity": "serious"}],
        "flags": ["frontier_developer"],
        "events": [0],
        **extra,
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_an_incident_is_due_until_reported_under_each_regime(db: str, tmp_path: Path) -> None:
    aware = dt.datetime.now(dt.UTC) - dt.timedelta(hours=80)
    assert (
        run("incidents", "open", str(incident_file(tmp_path / "i.json", aware)), "--db", db)[0] == 0
    )
    code, _, err = run("incidents", "open", str(tmp_path / "i.json"), "--db", db)
    assert code == 2
    assert "incident 'inc-1' exists" in err

    code, out, _ = run("incidents", "due", "--db", db, "--json")
    rows = {r["regime"]: r for r in json.loads(out)}
    assert set(rows) == {"us-ny-raise", "eu-ai-act-art73"}
    assert rows["us-ny-raise"]["overdue"] is True  # 72 hours since awareness have passed
    assert rows["eu-ai-act-art73"]["overdue"] is False
    assert rows["us-ny-raise"]["due"] == (aware + dt.timedelta(hours=72)).isoformat()
    code, out, _ = run("incidents", "due", "--db", db)
    assert "OVERDUE" in out

    code, _, err = run(
        "incidents", "update", "inc-1", "--status", "mitigated", "--action", "canary rotated",
        "--reported", "us-ny-raise", "--db", db,
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(run("incidents", "due", "--db", db, "--json")[1])
    assert [r["regime"] for r in rows] == ["eu-ai-act-art73"]
    (listed,) = json.loads(run("incidents", "list", "--db", db, "--json")[1])
    assert listed["status"] == "mitigated"
    assert listed["actions"] == ["canary rotated"]
    assert "us-ny-raise" in listed["reported"]

    code, out, _ = run("incidents", "export", "inc-1", "--regime", "eu-ai-act-art73", "--db", db)
    report = json.loads(out)
    assert report["rule"] == "Art. 73(2)"
    assert report["incident"]["harms"][0]["severity"] == "serious"
    # Both revisions are in the log, and the log verifies.
    shown = run("log", "show", "--db", db, "--json")[1]
    revisions = [json.loads(line)["event"] for line in shown.splitlines() if '"incident"' in line]
    assert [e["revision"] for e in revisions if e["type"] == "incident"] == [1, 2]
    assert run("log", "verify", "--db", db)[0] == 0


def test_bad_input_is_a_clear_error(db: str, tmp_path: Path) -> None:
    naive = tmp_path / "naive.yaml"
    naive.write_text(
        "id: x\ntitle: t\nwhat: w\noccurred_at: 2026-11-30T10:00:00\n"
        "aware_at: 2026-11-30T10:00:00Z\nwhere: [EU]\nsystem: {deployment: default}\n"
    )
    code, _, err = run("incidents", "open", str(naive), "--db", db)
    assert code == 2
    assert f"{naive}:4: occurred_at: Input should have timezone info" in err
    code, _, err = run("incidents", "update", "nosuch", "--status", "closed", "--db", db)
    assert code == 2
    assert "no incident 'nosuch'" in err
    code, _, err = run("incidents", "export", "x", "--regime", "mars", "--db", db)
    assert code == 2
    assert "unknown regime 'mars'" in err


def test_a_halt_and_a_failed_verification_open_incidents(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWISSCHEESE_JURISDICTIONS", "EU")
    code, out, _ = run("deployment", "halt", "default", "--reason", "leak", "--db", db)
    assert code == 0
    assert "incident halt-" in out
    (halt,) = json.loads(run("incidents", "list", "--db", db, "--json")[1])
    assert halt["where"] == ["EU"]
    assert halt["system"]["deployment"] == "default"
    assert "leak" in halt["what"]
    assert len(halt["events"]) == 1

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE log_entries SET event = ? WHERE idx = 0", (b'{"v":1,"type":"x"}',))
    code, out, _ = run("log", "verify", "--db", db, "--json")
    assert code == 1
    opened = json.loads(out)["incident"]
    assert opened.startswith("tamper-")
    listed = json.loads(run("incidents", "list", "--db", db, "--json")[1])
    tamper = next(i for i in listed if i["id"] == opened)
    assert tamper["harms"][0]["severity"] == "serious"
    assert tamper["what"].startswith("log verify found: ")
    assert "0" in tamper["what"]  # the bad index is named
