"""Model signatures: what verifies, what does not and why, and OpenSSF model-signing's verifier
accepting ours (and ours accepting theirs)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from swisscheese.provenance.fingerprint import fingerprint
from swisscheese.provenance.model_signature import (
    ModelSigningKey,
    default_signature_path,
    sign_model,
    verify_model,
)

safetensors_numpy = pytest.importorskip("safetensors.numpy")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    directory = tmp_path / "tiny-model"
    (directory / "tokenizer").mkdir(parents=True)
    rng = np.random.default_rng(1)
    safetensors_numpy.save_file(
        {"w": rng.standard_normal((8, 8)).astype(np.float32), "b": np.zeros(8, np.float32)},
        str(directory / "model.safetensors"),
    )
    (directory / "config.json").write_text('{"hidden": 8}')
    (directory / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return directory


@pytest.fixture
def key() -> ModelSigningKey:
    return ModelSigningKey.generate()


def signed(model: Path, key: ModelSigningKey, **kwargs: object) -> dict[str, Any]:
    bundle, _ = sign_model(model, key, **kwargs)  # type: ignore[arg-type]
    default_signature_path(model).write_text(json.dumps(bundle))
    return bundle


def failed(model: Path, bundle: Mapping[str, Any], key: ModelSigningKey) -> str | None:
    return verify_model(model, bundle, key.public).failure()


def test_a_signed_model_verifies_with_every_check(model: Path, key: ModelSigningKey) -> None:
    bundle = signed(model, key)
    result = verify_model(model, bundle, key.public)
    assert result.ok
    assert [c.name for c in result.checks] == ["key", "signature", "files", "fingerprint"]
    assert result.fingerprint == fingerprint(model)


def test_each_kind_of_tampering_names_what_failed(
    model: Path, key: ModelSigningKey, tmp_path: Path
) -> None:
    bundle = signed(model, key)
    assert failed(model, bundle, ModelSigningKey.generate()) is not None
    assert "signed by key" in str(failed(model, bundle, ModelSigningKey.generate()))

    forged = json.loads(json.dumps(bundle))
    statement = json.loads(base64.b64decode(forged["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    forged["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    assert failed(model, forged, key) == "signature: does not verify with this key"

    truncated = {"dsseEnvelope": {"payload": "e30="}}
    assert str(failed(model, truncated, key)).startswith("bundle: malformed")

    (model / "config.json").write_text('{"hidden": 9}')
    assert failed(model, bundle, key) == "files: config.json changed"
    (model / "config.json").write_text('{"hidden": 8}')
    (model / "extra.bin").write_bytes(b"x")
    assert failed(model, bundle, key) == "files: extra.bin not signed"
    (model / "extra.bin").unlink()
    (model / "tokenizer" / "vocab.txt").unlink()
    assert failed(model, bundle, key) == "files: tokenizer/vocab.txt missing"


def test_a_fine_tune_carries_its_parents_fingerprint(
    model: Path, key: ModelSigningKey, tmp_path: Path
) -> None:
    parent = fingerprint(model)
    child = tmp_path / "fine-tune"
    child.mkdir()
    safetensors_numpy.save_file(
        {"w": np.ones((8, 8), np.float32), "b": np.zeros(8, np.float32)},
        str(child / "model.safetensors"),
    )
    bundle = signed(child, key, parent=parent)
    result = verify_model(child, bundle, key.public)
    assert result.ok
    assert result.statement is not None
    lineage = result.statement["predicate"]["swisscheese"]["lineage"]
    assert lineage == {
        "parent": parent.digest,
        "relation": "derived",
        "tensors_identical": 1,
        "tensors_changed": 1,
        "tensors_added": 0,
        "tensors_removed": 0,
    }


def test_a_single_file_model_signs_beside_itself(model: Path, key: ModelSigningKey) -> None:
    weights = model / "model.safetensors"
    bundle = signed(weights, key)
    assert default_signature_path(weights).name == "model.safetensors.sig"
    assert verify_model(weights, bundle, key.public).ok


def model_signing_cli() -> Path:
    path = ROOT / ".venv-ms" / "bin" / "model_signing"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs the interoperability test: `make model-signing-setup` first")
        pytest.skip("OpenSSF model-signing is not installed (make model-signing-setup)")
    return path


def test_openssf_model_signing_verifies_our_signature(
    model: Path, key: ModelSigningKey, tmp_path: Path
) -> None:
    cli = model_signing_cli()
    signed(model, key)
    public = tmp_path / "model.pub"
    public.write_text(key.public.pem())

    def theirs() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cli), "verify", "key", str(model), "--signature",
             str(model / "model.sig"), "--public_key", str(public)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    accepted = theirs()
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Verification succeeded" in accepted.stdout
    (model / "config.json").write_text("{}")
    refused = theirs()
    assert refused.returncode != 0
    assert "config.json" in refused.stdout + refused.stderr


def test_we_verify_a_signature_openssf_model_signing_made(
    model: Path, key: ModelSigningKey, tmp_path: Path
) -> None:
    cli = model_signing_cli()
    private = tmp_path / "model.key"
    private.write_text(key.private_pem())
    signature = tmp_path / "theirs.sig"
    made = subprocess.run(
        [str(cli), "sign", "key", str(model), "--private_key", str(private),
         "--signature", str(signature)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    result = verify_model(model, json.loads(signature.read_text()), key.public)
    assert result.ok, result.failure()
    assert [c.name for c in result.checks] == ["key", "signature", "files"]  # no fingerprint
