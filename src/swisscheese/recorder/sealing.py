"""What the recorder keeps of screened content: the redacted text in the clear, the original
sealed (AES-256-GCM) under a key the operator holds, or the original in the clear.

The payload key never enters the log; destroying it makes every sealed original unreadable
while the log, its proofs and the redacted texts stay intact (erasure by key destruction).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from swisscheese.core.errors import SwisscheeseError

ContentMode = Literal["redacted", "clear"]
CONTENT_MODES: tuple[ContentMode, ...] = ("redacted", "clear")
DEFAULT_PAYLOAD_KEY = Path(".swisscheese") / "payload.key"
_HEADER = "swisscheese-payload-key v1"
_ALG = "A256GCM"
_AAD = b"swisscheese payload v1"


class SealError(SwisscheeseError, ValueError):
    """A payload key that cannot be read, or a sealed text it cannot open."""


@dataclass(frozen=True)
class PayloadKey:
    """A 256-bit AES-GCM key; its id (a digest prefix) names it in every sealed text."""

    secret: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"swisscheese payload key\n" + self.secret).hexdigest()[:16]

    @classmethod
    def generate(cls) -> PayloadKey:
        return cls(AESGCM.generate_key(bit_length=256))

    def encode(self) -> str:
        return f"{_HEADER} {self.key_id} {base64.b64encode(self.secret).decode()}"

    @classmethod
    def parse(cls, text: str, source: str = "payload key") -> PayloadKey:
        parts = text.strip().split(" ")
        if len(parts) != 4 or " ".join(parts[:2]) != _HEADER:
            raise SealError(f"{source}: not a swisscheese payload key")
        try:
            secret = base64.b64decode(parts[3], validate=True)
        except ValueError:
            raise SealError(f"{source}: the key is not base64") from None
        key = cls(secret)
        if len(secret) != 32 or key.key_id != parts[2]:
            raise SealError(f"{source}: damaged key (length or id does not match)")
        return key

    def seal(self, text: str) -> dict[str, str]:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.secret).encrypt(nonce, text.encode("utf-8"), _AAD)
        return {
            "alg": _ALG,
            "kid": self.key_id,
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(sealed).decode(),
        }

    def open(self, sealed: dict[str, Any]) -> str:
        if sealed.get("alg") != _ALG:
            raise SealError(f"unknown sealing algorithm {sealed.get('alg')!r}")
        if sealed.get("kid") != self.key_id:
            raise SealError(f"sealed under key {sealed.get('kid')}, not {self.key_id}")
        try:
            nonce = base64.b64decode(str(sealed["nonce"]))
            data = base64.b64decode(str(sealed["ciphertext"]))
            return AESGCM(self.secret).decrypt(nonce, data, _AAD).decode("utf-8")
        except (KeyError, ValueError, InvalidTag):
            raise SealError("the sealed text is damaged or was altered") from None


def load_payload_key(path: str | Path) -> PayloadKey:
    location = Path(path)
    try:
        return PayloadKey.parse(location.read_text(encoding="utf-8"), str(location))
    except FileNotFoundError:
        raise SealError(
            f"no payload key at {location}; create one with `swisscheese keys init-payload`"
        ) from None
    except OSError as exc:
        raise SealError(f"{location}: {exc.strerror}") from None


def write_private(location: Path, text: str, *, force: bool) -> None:
    """Write a key file readable by its owner only; FileExistsError unless ``force``."""
    if location.exists() and not force:
        raise FileExistsError(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(location, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def write_payload_key(key: PayloadKey, path: str | Path, *, force: bool = False) -> Path:
    location = Path(path)
    try:
        write_private(location, key.encode(), force=force)
    except FileExistsError:
        raise SealError(f"{location} exists; refusing to replace a payload key") from None
    return location


@dataclass(frozen=True)
class ContentRecord:
    """How screened text goes into a verdict's payload.

    ``redacted`` (the default): the text with every span a monitor marked as redactable
    (secrets, personal data, the canary) replaced, plus the original sealed under ``key`` when
    there is one and it differs. ``clear``: the original as it arrived.
    """

    mode: ContentMode = "redacted"
    key: PayloadKey | None = None

    @classmethod
    def from_settings(cls) -> ContentRecord:
        """From SWISSCHEESE_RECORD_CONTENT and SWISSCHEESE_PAYLOAD_KEY; the default key file
        is used when it exists, a key file that was named must exist (SealError)."""
        from swisscheese.config.settings import Settings

        settings = Settings()
        if settings.payload_key is not None:
            key: PayloadKey | None = load_payload_key(settings.payload_key)
        elif DEFAULT_PAYLOAD_KEY.is_file():
            key = load_payload_key(DEFAULT_PAYLOAD_KEY)
        else:
            key = None
        return cls(settings.record_content, key)

    def fields(self, original: str, redacted: str) -> dict[str, Any]:
        if self.mode == "clear":
            return {"text": original}
        out: dict[str, Any] = {"text": redacted}
        if redacted != original:
            out["redacted"] = True
            if self.key is not None:
                out["sealed_text"] = self.key.seal(original)
        return out
