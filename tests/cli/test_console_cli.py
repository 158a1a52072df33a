"""`swisscheese users` and `swisscheese console` at the command line: every change recorded,
bad input refused with a message that says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swisscheese.cli import app

runner = CliRunner()
PASSWORD = "correct horse battery staple"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWISSCHEESE_DB", raising=False)
    return str(tmp_path / "ops.db")


def test_users_are_added_listed_changed_and_removed_on_the_record(db: str) -> None:
    code, _, err = run(
        "users", "add", "ada", "--role", "admin", "--password-stdin", "--db", db, stdin=PASSWORD
    )
    assert code == 0, err
    assert "ada's operator key" in err
    assert Path(".swisscheese/operators/ada.key").exists()
    code, _, err = run("users", "add", "vera", "--password-stdin", "--db", db, stdin=PASSWORD)
    assert code == 0, err
    assert not Path(".swisscheese/operators/vera.key").exists()  # viewers decide nothing
    listed = json.loads(run("users", "list", "--json", "--db", db)[1])
    assert [(u["name"], u["role"]) for u in listed] == [("ada", "admin"), ("vera", "viewer")]
    assert run("users", "set-role", "vera", "--role", "approver", "--db", db)[0] == 0
    assert (
        run("users", "passwd", "vera", "--password-stdin", "--db", db, stdin=PASSWORD + "!")[0] == 0
    )
    assert run("users", "remove", "vera", "--by", "ada", "--db", db)[0] == 0
    assert [u["name"] for u in json.loads(run("users", "list", "--json", "--db", db)[1])] == ["ada"]
    shown = [
        json.loads(line)["event"]
        for line in run("log", "show", "--db", db, "--json")[1].splitlines()
    ]
    changes = [(e["user"], e["change"]) for e in shown if e["type"] == "console_user"]
    assert changes == [
        ("ada", "added"), ("vera", "added"), ("vera", "role"), ("vera", "password"),
        ("vera", "removed"),
    ]  # fmt: skip
    assert any(e["type"] == "operator_key" and e["name"] == "ada" for e in shown)
    assert all(
        "password" not in json.dumps(e).lower().replace('"change": "password"', "") for e in shown
    )


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("users", "add", "bob", "--password-stdin"), "short", "at least 12 characters"),
        (
            ("users", "add", "bob", "--role", "root", "--password-stdin"),
            PASSWORD,
            "unknown role 'root'",
        ),
        (("users", "add", "bad name", "--password-stdin"), PASSWORD, "a user name is"),
        (("users", "remove", "nobody"), None, "no database at"),  # a typo makes no store
        (("console", "--case", "missing.yaml"), None, "missing.yaml: no such file"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    db: str, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    code, _, err = run(*args, "--db", db, stdin=stdin)
    assert code == 2
    assert message in err


def test_a_name_is_taken_once_and_unknown_users_are_named(db: str) -> None:
    assert run("users", "add", "ada", "--password-stdin", "--db", db, stdin=PASSWORD)[0] == 0
    code, _, err = run("users", "remove", "nobody", "--db", db)
    assert (code, "no user named 'nobody'" in err) == (2, True)
    code, _, err = run("users", "add", "ada", "--password-stdin", "--db", db, stdin=PASSWORD)
    assert code == 2
    assert "exists" in err
