"""Model signatures in OpenSSF model-signing's format, with the tensor fingerprint and lineage.

The signature is a Sigstore bundle (v0.3) holding a DSSE envelope over an in-toto Statement v1
of predicate type ``https://model_signing/signature/v1.0``: a SHA-256 per file of the model, in
the "files" serialization, and as subject the SHA-256 over those digests in name order. That is
exactly what ``model_signing verify key`` checks, so their verifier accepts our signatures.
Beside their fields the predicate carries ours under ``swisscheese`` (v1.0 verifiers ignore
other fields): the tensor fingerprint, so a repacked copy of the same weights can be recognised,
and, for a fine-tune, the parent's fingerprint and how many of its tensors were kept.

The key is ECDSA P-256, not Ed25519 like the log's: model-signing's key method verifies only
the NIST curves (P-256/384/521), and interoperability is the point of using its format.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from swisscheese.common.files import file_sha256
from swisscheese.provenance.fingerprint import Fingerprint, ModelFileError, fingerprint
from swisscheese.provenance.statements import PAYLOAD_TYPE, STATEMENT_TYPE, Check

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGNATURE_NAME = "model.sig"
DEFAULT_IGNORED = (".git", ".github", ".gitattributes", ".gitignore")
_CHUNK = 1 << 20


class ModelSignatureError(ValueError):
    """A key or signature that cannot be used (the message says which and why)."""


class ModelSigningKey:
    """An ECDSA P-256 key that signs models."""

    def __init__(self, private: ec.EllipticCurvePrivateKey) -> None:
        if private.curve.name != "secp256r1":
            raise ModelSignatureError(f"model keys are P-256, not {private.curve.name}")
        self._private = private

    @classmethod
    def generate(cls) -> ModelSigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes, where: str = "the key") -> ModelSigningKey:
        try:
            private = serialization.load_pem_private_key(pem, None)
        except (ValueError, TypeError) as exc:
            raise ModelSignatureError(f"{where}: not a PEM private key ({exc})") from None
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ModelSignatureError(f"{where}: not an ECDSA P-256 key")
        return cls(private)

    def private_pem(self) -> str:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public(self) -> ModelVerifyingKey:
        return ModelVerifyingKey(self._private.public_key())

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data, ec.ECDSA(hashes.SHA256()))


class ModelVerifyingKey:
    def __init__(self, public: ec.EllipticCurvePublicKey) -> None:
        if public.curve.name != "secp256r1":
            raise ModelSignatureError(f"model keys are P-256, not {public.curve.name}")
        self._public = public

    @classmethod
    def from_pem(cls, pem: bytes, where: str = "the key") -> ModelVerifyingKey:
        try:
            public = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise ModelSignatureError(f"{where}: not a PEM public key ({exc})") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ModelSignatureError(f"{where}: not an ECDSA P-256 public key")
        return cls(public)

    def pem(self) -> str:
        return self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def hint(self) -> str:
        """model-signing's key identifier: the SHA-256 of the PEM public key."""
        return hashlib.sha256(self.pem().encode()).hexdigest()

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self._public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def pae(payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    header = f"DSSEv1 {len(PAYLOAD_TYPE)} {PAYLOAD_TYPE} {len(payload)} "
    return header.encode() + payload


def _ignored(relative: PurePosixPath, ignore: tuple[str, ...]) -> bool:
    return any(relative == PurePosixPath(p) or PurePosixPath(p) in relative.parents
               for p in ignore)  # fmt: skip


def file_resources(model: Path, ignore: tuple[str, ...]) -> list[dict[str, str]]:
    """model-signing's "files" serialization: every file under ``model`` (or ``model`` itself,
    named "."), with its SHA-256, sorted by name. Symbolic links are refused, as theirs are."""
    if model.is_symlink():
        raise ModelFileError(f"{model}: is a symbolic link")
    if model.is_file():
        return [{"algorithm": "sha256", "name": ".", "digest": file_sha256(model)}]
    if not model.is_dir():
        raise ModelFileError(f"{model}: no such file or directory")
    resources = []
    for path in sorted(model.rglob("*")):
        relative = PurePosixPath(path.relative_to(model).as_posix())
        if _ignored(relative, ignore):
            continue
        if path.is_symlink():
            raise ModelFileError(f"{path}: is a symbolic link (model-signing refuses them)")
        if path.is_file():
            resources.append(
                {"algorithm": "sha256", "name": str(relative), "digest": file_sha256(path)}
            )
    return sorted(resources, key=lambda r: r["name"])


def _root(resources: list[dict[str, str]]) -> str:
    digest = hashlib.sha256()
    for resource in resources:
        digest.update(bytes.fromhex(resource["digest"]))
    return digest.hexdigest()


def default_signature_path(model: Path) -> Path:
    return model / SIGNATURE_NAME if model.is_dir() else model.with_name(model.name + ".sig")


def _ignore_for(model: Path, signature: Path) -> tuple[str, ...]:
    ignore = list(DEFAULT_IGNORED)
    inside = model.is_dir() and signature.resolve().is_relative_to(model.resolve())
    if inside:
        ignore.append(signature.resolve().relative_to(model.resolve()).as_posix())
    return tuple(ignore)


def lineage(child: Fingerprint, parent: Fingerprint) -> dict[str, Any]:
    """What a fine-tune keeps of its parent: the parent's fingerprint and the tensor counts."""
    diff = child.diff(parent)
    return {
        "parent": parent.digest,
        "relation": "derived",
        "tensors_identical": len(diff.same),
        "tensors_changed": len(diff.changed),
        "tensors_added": len(diff.added),
        "tensors_removed": len(diff.removed),
    }


def model_statement(
    model: Path,
    signature: Path,
    fp: Fingerprint,
    parent: Fingerprint | None = None,
) -> dict[str, Any]:
    ignore = _ignore_for(model, signature)
    resources = file_resources(model, ignore)
    ours: dict[str, Any] = {"fingerprint": fp.as_dict(tensors=False)}
    if parent is not None:
        ours["lineage"] = lineage(fp, parent)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model.resolve().name, "digest": {"sha256": _root(resources)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": list(ignore),
            },
            "resources": resources,
            "swisscheese": ours,
        },
    }


def sign_model(
    model: Path,
    key: ModelSigningKey,
    *,
    signature: Path | None = None,
    parent: Fingerprint | None = None,
) -> tuple[dict[str, Any], Fingerprint]:
    """The signature bundle of ``model`` (and its fingerprint); the caller writes it."""
    signature = signature or default_signature_path(model)
    fp = fingerprint(model)
    payload = json.dumps(model_statement(model, signature, fp, parent), indent=2).encode()
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key.public.hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(key.sign(pae(payload))).decode(), "keyid": ""}],
        },
    }
    return bundle, fp


@dataclass(frozen=True)
class ModelVerification:
    checks: tuple[Check, ...]
    statement: Mapping[str, Any] | None
    fingerprint: Fingerprint | None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failure(self) -> str | None:
        bad = next((c for c in self.checks if not c.ok), None)
        return f"{bad.name}: {bad.detail}" if bad else None


def verify_model(
    model: Path, bundle: Mapping[str, Any], key: ModelVerifyingKey
) -> ModelVerification:
    """Check a signature against the model on disk: the key, the signature, every file's digest
    and, when the signature has one, the tensor fingerprint. Each check says what it found."""
    checks: list[Check] = []

    def done(
        statement: Mapping[str, Any] | None = None, fp: Fingerprint | None = None
    ) -> ModelVerification:
        return ModelVerification(tuple(checks), statement, fp)

    try:
        envelope = bundle["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        sig = base64.b64decode(envelope["signatures"][0]["sig"], validate=True)
        hint = bundle.get("verificationMaterial", {}).get("publicKey", {}).get("hint")
        payload_type = envelope["payloadType"]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        checks.append(Check("bundle", False, f"malformed: {type(exc).__name__}: {exc}"))
        return done()
    if hint and hint != key.hint:
        checks.append(Check("key", False, f"signed by key {hint[:16]}…, not {key.hint[:16]}…"))
        return done()
    checks.append(Check("key", True, f"key {key.hint[:16]}…"))
    if payload_type != PAYLOAD_TYPE or not key.verify(sig, pae(payload)):
        checks.append(Check("signature", False, "does not verify with this key"))
        return done()
    checks.append(Check("signature", True, "ECDSA P-256 over the DSSE envelope"))
    try:
        statement = json.loads(payload)
        predicate = statement["predicate"]
        expected = sorted(predicate["resources"], key=lambda r: r["name"])
        ignore = tuple(predicate["serialization"].get("ignore_paths", DEFAULT_IGNORED))
        subject = statement["subject"][0]["digest"]["sha256"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        checks.append(Check("statement", False, f"malformed: {exc}"))
        return done()
    if statement.get("predicateType") != PREDICATE_TYPE or _root(expected) != subject:
        checks.append(Check("statement", False, "its resources do not hash to its subject"))
        return done(statement)
    try:
        actual = file_resources(model, ignore)
    except ModelFileError as exc:
        checks.append(Check("files", False, str(exc)))
        return done(statement)
    want = {r["name"]: r["digest"] for r in expected}
    have = {r["name"]: r["digest"] for r in actual}
    problems = [f"{n} changed" for n in sorted(want.keys() & have.keys()) if want[n] != have[n]]
    problems += [f"{n} missing" for n in sorted(want.keys() - have.keys())]
    problems += [f"{n} not signed" for n in sorted(have.keys() - want.keys())]
    checks.append(
        Check("files", not problems, "; ".join(problems) or f"{len(have)} files as signed")
    )
    ours = predicate.get("swisscheese", {}).get("fingerprint")
    if not ours:
        return done(statement)
    try:
        fp = fingerprint(model)
    except ModelFileError as exc:
        checks.append(Check("fingerprint", False, str(exc)))
        return done(statement)
    same = fp.digest == ours.get("digest")
    checks.append(
        Check("fingerprint", same, fp.digest if same else f"{fp.digest} != {ours.get('digest')}")
    )
    return done(statement, fp)
