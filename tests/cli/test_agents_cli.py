"""`swisscheese agents`: an operator issues a token; the agent narrows it and proves its run."""

from __future__ import annotations

import json
from pathlib import Path

from swisscheese.agents.identity import TokenVerifier, public_from_hex
from swisscheese.core import ToolCall
from swisscheese.recorder import Recorder
from tests.cli.test_operator_cli import db as db
from tests.cli.test_operator_cli import run


def test_issue_attenuate_prove_and_verify(db: str, tmp_path: Path) -> None:
    code, root_public, err = run("agents", "init-root")
    assert code == 0, err
    root_public = root_public.strip()
    assert run("agents", "init-root")[0] == 2  # never replaced by accident
    code, agent_public, err = run("agents", "register", "buyer", "--by", "alice", "--db", db)
    assert code == 0, err
    agent_public = agent_public.strip()
    code, token, err = run(
        "agents", "token", "buyer", "--key", agent_public, "--tool", "search",
        "--tool", "pay", "--bound", "pay.amount=100", "--ttl", "600", "--db", db,
    )  # fmt: skip
    assert code == 0, err
    code, narrowed, err = run(
        "agents", "attenuate", token.strip(), "--root-public", root_public, "--tool", "search",
        "--instance", "run-1",
    )  # fmt: skip
    assert code == 0, err
    key = tmp_path / ".swisscheese/agents/buyer.key"
    code, proof, err = run("agents", "prove", "run-1", "--key", str(key))
    assert code == 0, err
    verifier = TokenVerifier(public_from_hex(root_public))
    grant = verifier.verify(narrowed.strip(), "run-1", proof.strip())
    verifier.authorize(narrowed.strip(), grant, ToolCall("search", {}))
    with Recorder.open(db) as recorder:
        kinds = [json.loads(e.event) for e in recorder.store.entries()]
    issued = [e for e in kinds if e["type"] == "agent_token"]
    assert issued[0]["tools"] == ["pay", "search"]
    assert token.strip() not in json.dumps(kinds)  # the token itself is never recorded
    assert any(e["type"] == "agent" and e["key"] == agent_public for e in kinds)


def test_bad_options_are_errors(db: str) -> None:
    assert run("agents", "token", "x", "--key", "00", "--tool", "a", "--db", db)[0] == 2
    assert run("agents", "init-root")[0] == 0
    code, _, err = run("agents", "token", "x", "--key", "00", "--bound", "oops", "--db", db)
    assert code == 2
    assert "TOOL.ARGUMENT=NUMBER" in err
    code, _, err = run("agents", "token", "x", "--key", "00", "--tool", "a", "--db", db)
    assert code == 2
    assert "not an Ed25519 public key" in err
    code, _, err = run("agents", "register", "bad name", "--db", db)
    assert code == 2
    assert "invalid agent name" in err
