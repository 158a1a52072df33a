"""`swisscheese model` and the model key's life in the key store: signatures found by key in the
log, still valid after a rotation, and after a revocation only if the log recorded them first;
`serve` refusing a local model whose signature does not verify, and recording why."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_operator_cli import run

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def make_model(path: Path, value: float = 0.0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    safetensors_numpy.save_file(
        {"w": np.full((4, 4), value, np.float32), "b": np.zeros(4, np.float32)},
        str(path / "model.safetensors"),
    )
    return path


def log_types(db: str) -> list[str]:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        return [row[0] for row in conn.execute("SELECT type FROM log_entries ORDER BY idx")]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'log.db'}"


def test_fingerprint_diff_and_lineage_from_the_command_line(tmp_path: Path, db: str) -> None:
    base = make_model(tmp_path / "base")
    tuned = make_model(tmp_path / "tuned", 1.0)
    code, out, err = run("model", "fingerprint", str(base), "--json", "--tensors")
    assert code == 0, err
    (tmp_path / "base.json").write_text(out)
    assert json.loads(out)["tensor_count"] == 2
    code, out, _ = run("model", "diff", str(tuned), "--parent", str(tmp_path / "base.json"))
    assert code == 0
    assert "identical 1, changed 1" in out
    assert "changed  w" in out

    assert run("keys", "init-model", "--db", db)[0] == 0
    code, _, err = run("model", "sign", str(tuned), "--parent", str(base), "--db", db)
    assert code == 0, err
    assert "1 tensors identical, 1 changed" in err
    code, out, _ = run("model", "verify", str(tuned), "--db", db, "--json")
    report = json.loads(out)
    assert code == 0, report
    assert report["ok"]
    assert report["lineage"]["parent"] == json.loads((tmp_path / "base.json").read_text())["digest"]
    assert log_types(db) == ["model_key", "model_signed"]


def test_old_signatures_survive_rotation_and_revocation_only_if_recorded(
    tmp_path: Path, db: str
) -> None:
    first = make_model(tmp_path / "first")
    assert run("keys", "init-model", "--db", db)[0] == 0
    assert run("model", "sign", str(first), "--db", db)[0] == 0
    old_pem = Path(".swisscheese/model.key").read_text()
    code, _, err = run("keys", "rotate-model", "--db", db)
    assert code == 0, err
    second = make_model(tmp_path / "second", 2.0)
    assert run("model", "sign", str(second), "--db", db)[0] == 0
    for model in (first, second):
        code, out, _ = run("model", "verify", str(model), "--db", db)
        assert code == 0, out

    # A signature made with the old key but never recorded (a stolen copy of the key).
    from swisscheese.provenance.model_signature import ModelSigningKey, sign_model

    old = ModelSigningKey.from_pem(old_pem.encode())
    rogue = make_model(tmp_path / "rogue", 3.0)
    bundle, _ = sign_model(rogue, old)
    (rogue / "model.sig").write_text(json.dumps(bundle))
    assert run("model", "verify", str(rogue), "--db", db)[0] == 0  # not revoked yet

    code, _, err = run("keys", "revoke-model", old.public.hint, "--db", db)
    assert code == 2
    assert "Missing option '--reason'" in err
    current = ModelSigningKey.from_pem(Path(".swisscheese/model.key").read_bytes())
    code, _, err = run("keys", "revoke-model", current.public.hint, "--reason", "x",
                       "--by", "ana", "--db", db)  # fmt: skip
    assert code == 2
    assert "in use" in err
    code, out, err = run("keys", "revoke-model", old.public.hint, "--reason", "leaked",
                         "--by", "ana", "--db", db)  # fmt: skip
    assert code == 0, err
    code, out, _ = run("model", "verify", str(first), "--db", db)
    assert code == 0
    assert "before the key's revocation" in out
    code, out, _ = run("model", "verify", str(rogue), "--db", db)
    assert code == 1
    assert "revoked at entry" in out
    assert "leaked" in out
    assert log_types(db).count("model_key") == 3


def test_bad_input_is_a_clear_error(tmp_path: Path, db: str) -> None:
    model = make_model(tmp_path / "m")
    code, _, err = run("model", "sign", str(model), "--db", db)
    assert code == 2
    assert "keys init-model" in err
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\0\0\0\0\0\0\0{bad}")
    code, _, err = run("model", "fingerprint", str(tmp_path / "bad.safetensors"))
    assert code == 2
    assert "bad.safetensors" in err
    assert "not JSON" in err
    code, _, err = run("model", "verify", str(model), "--signature", str(tmp_path / "none.sig"))
    assert code == 2
    assert "none.sig" in err
    (tmp_path / "junk.sig").write_text("{")
    code, _, err = run("model", "verify", str(model), "--signature", str(tmp_path / "junk.sig"))
    assert code == 2
    assert "not JSON" in err


POLICY = """\
version: 1
deployment: signed-only
model:
  public_key: {public}
  signature: {signature}
layers:
  input:
    rules:
      - monitor: secrets
        action: block
"""


def test_the_gateway_refuses_a_local_model_whose_signature_fails(tmp_path: Path, db: str) -> None:
    from swisscheese.gateway import build_app
    from swisscheese.provenance.model_signature import ModelSigningKey, sign_model

    weights = tmp_path / "weights.gguf"
    weights.write_bytes(b"GGUF not really")  # refused before anything loads it
    key = ModelSigningKey.generate()
    (tmp_path / "model.pub").write_text(key.public.pem())
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        POLICY.format(public=tmp_path / "model.pub", signature=tmp_path / "weights.sig")
    )
    with pytest.raises(ValueError, match=r"refusing to serve .*weights\.sig: cannot read"):
        build_app(f"local:{weights}", policy=policy, db=db, require_auth=False)

    model = make_model(tmp_path / "model")
    bundle, _ = sign_model(model / "model.safetensors", ModelSigningKey.generate())
    (tmp_path / "weights.sig").write_text(json.dumps(bundle))  # by someone else's key
    with pytest.raises(ValueError, match=r"refusing to serve .*key: signed by key"):
        build_app(f"local:{model / 'model.safetensors'}", policy=policy, db=db, require_auth=False)
    assert log_types(db)[-1] == "model_check"
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        events = [json.loads(r[0]) for r in conn.execute(
            "SELECT event FROM log_entries WHERE type = 'model_check' ORDER BY idx")]  # fmt: skip
    assert [e["outcome"] for e in events] == ["refused", "refused"]
    assert events[0]["deployment"] == "signed-only"
    assert "cannot read" in events[0]["reason"]


def test_a_model_whose_signature_verifies_is_served_and_recorded(tmp_path: Path, db: str) -> None:
    from swisscheese.provenance.model_keys import check_served_model
    from swisscheese.provenance.model_signature import ModelSigningKey, sign_model
    from swisscheese.recorder import Recorder

    model = make_model(tmp_path / "model")
    key = ModelSigningKey.generate()
    bundle, fp = sign_model(model, key)
    (model / "model.sig").write_text(json.dumps(bundle))
    (tmp_path / "model.pub").write_text(key.public.pem())
    with Recorder.open(db, create=True) as recorder:
        assert check_served_model(recorder, "d", model, tmp_path / "model.pub") == fp.digest
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        (event,) = [json.loads(r[0]) for r in conn.execute(
            "SELECT event FROM log_entries WHERE type = 'model_check'")]  # fmt: skip
    assert event["outcome"] == "verified"
    assert event["fingerprint"] == fp.digest
