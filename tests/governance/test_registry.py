"""The registry read from the log: policy versions with diffs, the framework and case a
deployment is held to, models with their fingerprints; exported as a validated CycloneDX BOM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swisscheese.gateway import build_app
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import ModelChecked, ModelSigned
from swisscheese.store import AccessStore, Database, LogStore
from tests.cli.test_operator_cli import run

POLICY = """
version: 1
deployment: bank
layers:
  input:
    rules:
      - {monitor: signatures, action: block}
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two gateway starts of one deployment with different policies, and a signed model."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWISSCHEESE_DB", raising=False)
    url = str(tmp_path / "ops.db")
    for i, action in enumerate(["block", "block", "flag"]):  # the second start changes nothing
        path = tmp_path / f"p{i}.yaml"
        path.write_text(POLICY.replace("action: block", f"action: {action}"))
        _, guard = build_app("http://127.0.0.1:9/v1", policy=path, db=url)
        guard.recorder.close()  # type: ignore[union-attr]
    recorder = Recorder(LogStore(url))
    fingerprint = "sha256:" + "ab" * 32
    recorder.record(ModelSigned(model="smollm2", subject="sha256:" + "cd" * 32,
                                fingerprint=fingerprint, key="k1"))  # fmt: skip
    recorder.record(ModelChecked(deployment="bank", model="smollm2", outcome="verified",
                                 fingerprint=fingerprint))  # fmt: skip
    recorder.close()
    return url


def test_policy_versions_are_what_the_gateways_recorded_with_diffs(db: str) -> None:
    from swisscheese.governance.registry import read_registry

    database = Database(db)
    registry = read_registry(LogStore(database), AccessStore(database))
    bank = registry.deployments["bank"]
    assert len(bank.versions) == 2
    diff = bank.diff()
    assert "-    - action: block" in diff
    assert "+    - action: flag" in diff
    model = registry.models["smollm2"]
    assert model.fingerprint == "sha256:" + "ab" * 32
    assert model.checks == ("verified",)


def test_the_cli_shows_diffs_and_exports_a_validated_cyclonedx_bom(db: str, tmp_path: Path) -> None:
    code, out, _ = run("registry", "show", "--db", db, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["deployments"][0]["name"] == "bank"
    assert len(shown["deployments"][0]["policy_versions"]) == 2
    code, out, _ = run("registry", "diff", "bank", "--db", db)
    assert "+    - action: flag" in out
    code, out, err = run("registry", "export", "--out", str(tmp_path / "bom.json"), "--db", db)
    assert code == 0, err
    bom = json.loads((tmp_path / "bom.json").read_text())
    assert bom["specVersion"] == "1.6"
    kinds = {c["bom-ref"]: c["type"] for c in bom["components"]}
    assert kinds["model:smollm2"] == "machine-learning-model"
    assert kinds["deployment:bank"] == "application"
    assert kinds["detector:injection"] == "machine-learning-model"
    model = next(c for c in bom["components"] if c["bom-ref"] == "model:smollm2")
    assert model["hashes"] == [{"alg": "SHA-256", "content": "cd" * 32}]
    code, _, err = run("registry", "export", "--out", "x.spdx", "--format", "spdx", "--db", db)
    assert code == 2
    assert "only cyclonedx" in err
    code, _, err = run("registry", "diff", "nosuch", "--db", db)
    assert code == 2
    assert "unknown deployment 'nosuch'" in err
