"""Signed output statements: an in-toto Statement v1 in a DSSE envelope for each released answer,
and the offline check of a bundle (statement, inclusion proof, signed checkpoint).

The statement's subject is the SHA-256 of each released text; its predicate names the model,
the policy digest, the digest of the request's verdicts, the log origin and the record: the
index of the ``answer`` event in the flight recorder (written in the request's own transaction,
before the answer left). The envelope is signed with the log's Ed25519 key, so one verifier key
checks both the statement and the checkpoint. Ed25519 signatures are deterministic: the gateway
can rebuild the same envelope from the recorded event whenever a bundle is asked for.

The envelope is ``securesystemslib``'s DSSE implementation (PAE, Ed25519 via ``CryptoSigner``
and ``SSlibKey``): it fits, and the format is then exactly what in-toto tooling reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.dsse import Envelope
from securesystemslib.signer import (  # type: ignore[attr-defined]  # re-exported at runtime
    CryptoSigner,
    SSlibKey,
)

from swisscheese.core import canonical_json, merkle
from swisscheese.recorder import Recorder
from swisscheese.recorder.note import NoteError, Signer, Verifier, open_checkpoint

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://swisscheese.dev/provenance/output/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


class ProvenanceError(ValueError):
    """A bundle or envelope that cannot be read (says what)."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def output_statement(answer: Mapping[str, Any], origin: str, record: int) -> dict[str, Any]:
    """The statement for the ``answer`` event recorded at ``record`` in log ``origin``."""
    released = list(answer["released"])
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": f"choices/{i}", "digest": {"sha256": digest}}
            for i, digest in enumerate(released)
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "deployment": answer["deployment"],
            "model": answer["model"],
            "policy": answer["policy"],
            "verdicts": answer["verdicts_digest"],
            "log": {"origin": origin, "index": record},
        },
    }


def _keyid(verifier: Verifier) -> str:
    return verifier.encode()


def _sslib_key(verifier: Verifier) -> SSlibKey:
    public = Ed25519PublicKey.from_public_bytes(verifier.public)
    return SSlibKey.from_crypto(public, keyid=_keyid(verifier))


class StatementSigner:
    """Signs statements with the log's key (a signed-note ``Signer``)."""

    def __init__(self, signer: Signer) -> None:
        self.verifier = signer.verifier
        private = Ed25519PrivateKey.from_private_bytes(signer.seed)
        self._signer = CryptoSigner(private, _sslib_key(self.verifier))

    def envelope(self, statement: Mapping[str, Any]) -> dict[str, Any]:
        envelope = Envelope(canonical_json(dict(statement)), PAYLOAD_TYPE, {})
        envelope.sign(self._signer)
        return dict(envelope.to_dict())


def compact(envelope: Mapping[str, Any]) -> str:
    """The envelope for a response header: base64url of its canonical JSON, unpadded."""
    return base64.urlsafe_b64encode(canonical_json(dict(envelope))).decode().rstrip("=")


def from_compact(text: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ProvenanceError(f"not a compact envelope: {exc}") from None
    if not isinstance(value, dict):
        raise ProvenanceError("not a compact envelope")
    return value


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def _envelope(data: Any) -> Envelope:
    # from_dict rewrites the signature dicts it is given: hand it a copy.
    return Envelope.from_dict(json.loads(json.dumps(data)))


def _check_signature(envelope: Envelope, key: Verifier | None) -> tuple[Verifier | None, Check]:
    """The key the envelope was checked against (``key``, else the one it names) and the
    check; no key when neither is there."""
    if key is None:
        keyids = [s.keyid for s in envelope.signatures.values()]
        try:
            key = Verifier.parse(keyids[0]) if keyids else None
        except NoteError:
            key = None
        if key is None:
            return None, Check(
                "signature", False, "no --key given and the envelope names no verifier key"
            )
    try:
        envelope.verify([_sslib_key(key)], 1)
        return key, Check("signature", True, f"signed by {key.name}")
    except Exception as exc:
        return key, Check("signature", False, f"does not verify with {key.name}: {exc}")


def open_statement(
    envelope: Mapping[str, Any], key: Verifier | None = None
) -> tuple[dict[str, Any] | None, Check]:
    """A DSSE envelope's in-toto statement and the check of its signature (against ``key``, or
    the key the envelope names: then it proves only self-consistency); no statement when the
    envelope cannot be read."""
    try:
        parsed = _envelope(envelope)
        statement = json.loads(parsed.payload)
    except Exception as exc:  # whatever the envelope parser raises on a malformed envelope
        return None, Check("envelope", False, f"malformed: {type(exc).__name__}: {exc}")
    return statement, _check_signature(parsed, key)[1]


def verify_bundle(text: str, bundle: Mapping[str, Any], key: Verifier | None = None) -> list[Check]:
    """Every check of a bundle against the released ``text``, in order; each says what it
    found. ``key``: the log's verifier key (default: the one the envelope names; then the
    signature only proves the bundle is self-consistent, not who made it)."""
    checks: list[Check] = []

    def add(name: str, ok: bool, detail: str) -> bool:
        checks.append(Check(name, ok, detail))
        return ok

    try:
        envelope = _envelope(bundle["envelope"])
        statement = json.loads(envelope.payload)
        proof = bundle["proof"]
        event_bytes = str(bundle["event"]).encode("utf-8")
        note = str(bundle["checkpoint"])
    except Exception as exc:  # whatever the envelope parser raises on a malformed bundle
        add("bundle", False, f"malformed: {type(exc).__name__}: {exc}")
        return checks
    key, signature = _check_signature(envelope, key)
    checks.append(signature)
    if key is None:
        return checks
    digest = text_sha256(text)
    subjects = [s.get("digest", {}).get("sha256") for s in statement.get("subject", [])]
    add(
        "digest",
        digest in subjects,
        "the text is a subject" if digest in subjects else f"sha256 {digest} is not a subject",
    )
    try:
        event = json.loads(event_bytes)
        log = statement["predicate"]["log"]
        index, size = int(proof["index"]), int(proof["tree_size"])
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
    except (KeyError, TypeError, ValueError) as exc:
        add("record", False, f"malformed: {exc}")
        return checks
    same = (
        event.get("type") == "answer"
        and index == log.get("index")
        and sorted(event.get("released", [])) == sorted(s for s in subjects if s)
        and event.get("policy") == statement["predicate"].get("policy")
    )
    add("record", same, f"answer event {index}" if same else "the event is not this statement's")
    leaf = merkle.leaf_hash(event_bytes)
    try:
        checkpoint = open_checkpoint(note, key)
    except NoteError as exc:
        add("checkpoint", False, str(exc))
        return checks
    add(
        "checkpoint",
        checkpoint.origin == log.get("origin") and checkpoint.size == size,
        f"{checkpoint.origin} at size {checkpoint.size}"
        if checkpoint.origin == log.get("origin") and checkpoint.size == size
        else f"checkpoint is {checkpoint.origin} size {checkpoint.size}, proof is for {size}",
    )
    ok = merkle.verify_inclusion(leaf, index, size, path, checkpoint.root)
    add("inclusion", ok, f"leaf {index} of {size}" if ok else "the proof does not reach the root")
    return checks


def make_bundle(
    envelope: Mapping[str, Any],
    event: bytes,
    index: int,
    tree_size: int,
    audit_path: Sequence[bytes],
    checkpoint: str,
) -> dict[str, Any]:
    return {
        "envelope": dict(envelope),
        "event": event.decode("utf-8"),
        "proof": {
            "index": index,
            "tree_size": tree_size,
            "audit_path": [h.hex() for h in audit_path],
        },
        "checkpoint": checkpoint,
    }


def answer_bundle(recorder: Recorder, signer: StatementSigner, record: int) -> dict[str, Any]:
    """Statement, inclusion proof and a freshly signed checkpoint for the ``answer`` event at
    ``record`` (ProvenanceError if there is none). The envelope is rebuilt from the event:
    Ed25519 is deterministic, so it is the one the gateway sent."""
    entry = recorder.store.entry(record) if record >= 0 else None
    if entry is None or entry.type != "answer":
        raise ProvenanceError(f"record {record} is not a released answer")
    if recorder.signer is None:
        raise ProvenanceError("no log key: the log cannot sign a checkpoint")
    note = recorder.checkpoint()
    checkpoint = open_checkpoint(note, recorder.signer.verifier)
    proof = recorder.prove_inclusion(record, checkpoint.size)
    statement = output_statement(json.loads(entry.event), recorder.origin, record)
    return make_bundle(
        signer.envelope(statement), entry.event, record, checkpoint.size, proof.audit_path, note
    )
