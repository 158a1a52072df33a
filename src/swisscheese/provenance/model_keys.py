"""The model-signing key in the key store, and its history in the flight recorder.

The private key is a PKCS#8 PEM file readable by its owner only. Every key adopted or revoked
and every model signed is an event in the log, so a verifier that trusts the log can find the
key of a signature by its hint, and a signature made before a key's revocation still verifies
after it (the log, not the signer's clock, says when it was made).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swisscheese.provenance.model_signature import (
    ModelSignatureError,
    ModelSigningKey,
    ModelVerifyingKey,
)
from swisscheese.provenance.statements import Check
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import ModelKey, ModelSigned
from swisscheese.recorder.sealing import write_private

DEFAULT_MODEL_KEY = Path(".swisscheese") / "model.key"


def load_model_key(path: Path | None = None) -> ModelSigningKey:
    location = path or DEFAULT_MODEL_KEY
    try:
        pem = location.read_bytes()
    except OSError as exc:
        raise ModelSignatureError(
            f"{location}: cannot read the model key ({exc.strerror or exc}; create one with "
            "`swisscheese keys init-model`)"
        ) from None
    return ModelSigningKey.from_pem(pem, str(location))


def write_model_key(key: ModelSigningKey, path: Path | None = None, *, force: bool) -> Path:
    location = path or DEFAULT_MODEL_KEY
    try:
        write_private(location, key.private_pem(), force=force)
    except FileExistsError:
        raise ModelSignatureError(
            f"{location} exists; refusing to replace a model key (rotate it instead)"
        ) from None
    return location


def adopt(recorder: Recorder, key: ModelVerifyingKey) -> int:
    return recorder.record(ModelKey(hint=key.hint, public_key=key.pem(), status="adopted")).index


@dataclass(frozen=True)
class RecordedKey:
    key: ModelVerifyingKey
    adopted_at: int
    revoked_at: int | None
    reason: str | None


def recorded_keys(recorder: Recorder) -> dict[str, RecordedKey]:
    """Every model key the log adopted, by hint, with its revocation if any."""
    keys: dict[str, RecordedKey] = {}
    for entry in recorder.store.entries_of_type("model_key"):
        event = ModelKey.model_validate_json(entry.event)
        known = keys.get(event.hint)
        if event.status == "adopted" and known is None:
            verifying = ModelVerifyingKey.from_pem(event.public_key.encode(), "a recorded key")
            keys[event.hint] = RecordedKey(verifying, entry.index, None, None)
        elif event.status == "revoked" and known is not None and known.revoked_at is None:
            keys[event.hint] = RecordedKey(known.key, known.adopted_at, entry.index, event.reason)
    return keys


def revoke(recorder: Recorder, hint: str, reason: str, by: str) -> int:
    known = recorded_keys(recorder).get(hint)
    if known is None:
        raise ModelSignatureError(f"{hint}: not a model key this log adopted")
    if known.revoked_at is not None:
        raise ModelSignatureError(f"{hint}: already revoked at entry {known.revoked_at}")
    event = ModelKey(hint=hint, public_key=known.key.pem(), status="revoked", reason=reason, by=by)
    return recorder.record(event).index


def record_signature(
    recorder: Recorder, statement: Mapping[str, Any], key: ModelVerifyingKey
) -> int:
    ours = statement["predicate"]["swisscheese"]
    event = ModelSigned(
        model=statement["subject"][0]["name"],
        subject=statement["subject"][0]["digest"]["sha256"],
        fingerprint=ours["fingerprint"]["digest"],
        key=key.hint,
        parent=ours.get("lineage", {}).get("parent"),
    )
    return recorder.record(event).index


def signed_at(recorder: Recorder, subject: str, hint: str) -> int | None:
    """The first entry recording a signature of ``subject`` by the key ``hint``."""
    for entry in recorder.store.entries_of_type("model_signed"):
        event = ModelSigned.model_validate_json(entry.event)
        if event.subject == subject and event.key == hint:
            return entry.index
    return None


def log_check(recorder: Recorder, known: RecordedKey, subject: str) -> Check:
    """Whether the log vouches for a signature by ``known`` over ``subject``."""
    at = signed_at(recorder, subject, known.key.hint)
    where = f"signed at entry {at}" if at is not None else "signature not recorded"
    if known.revoked_at is None:
        return Check("log", True, f"key adopted at entry {known.adopted_at}, not revoked; {where}")
    if at is not None and at < known.revoked_at:
        return Check("log", True, f"{where}, before the key's revocation at {known.revoked_at}")
    return Check(
        "log", False, f"the key was revoked at entry {known.revoked_at} ({known.reason}); {where}"
    )


def check_served_model(
    recorder: Recorder,
    deployment: str,
    model: Path,
    public_key: Path,
    signature: Path | None = None,
) -> str:
    """Verify the model a gateway is about to serve and record the outcome; returns its
    fingerprint, or raises ModelSignatureError (after recording the refusal)."""
    import json

    from swisscheese.provenance.model_signature import default_signature_path, verify_model
    from swisscheese.recorder.events import ModelChecked

    source = signature or default_signature_path(model)
    try:
        key = ModelVerifyingKey.from_pem(public_key.read_bytes(), str(public_key))
        bundle = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(bundle, dict):
            raise ValueError("not a signature bundle")
        result = verify_model(model, bundle, key)
        reason = result.failure()
    except ModelSignatureError as exc:
        reason, result = str(exc), None
    except OSError as exc:
        reason, result = f"{exc.filename}: cannot read: {exc.strerror or exc}", None
    except ValueError as exc:
        reason, result = f"{source}: {exc}", None
    fp = result.fingerprint.digest if result is not None and result.fingerprint else None
    if result is None or not result.ok:
        recorder.record(
            ModelChecked(
                deployment=deployment,
                model=str(model),
                outcome="refused",
                fingerprint=fp,
                reason=reason,
            )
        )
        raise ModelSignatureError(f"refusing to serve {model}: {reason}")
    recorder.record(
        ModelChecked(deployment=deployment, model=str(model), outcome="verified", fingerprint=fp)
    )
    return fp or ""
