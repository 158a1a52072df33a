"""C2SP signed notes with Ed25519 keys, and tlog checkpoints carried in them.

Formats (C2SP ``signed-note`` and ``tlog-checkpoint``):

- verifier key: ``<name>+<8 hex key hash>+<base64(0x01 || public key)>``
- signer key:   ``PRIVATE+KEY+<name>+<8 hex key hash>+<base64(0x01 || seed)>``
- key hash:     first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key)
- note:         text (ending in a newline), a blank line, then one line per signature:
                ``— <name> <base64(key hash || signature of the text)>``
- checkpoint text: origin, tree size (decimal), base64 root hash, one per line.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from swisscheese.core.errors import SwisscheeseError

ED25519 = 0x01
_DASH = "\u2014 "


class NoteError(SwisscheeseError, ValueError):
    pass


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_hash(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()
    return int(struct.unpack(">I", digest[:4])[0])


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes

    @property
    def hash(self) -> int:
        return key_hash(self.name, self.public)

    def encode(self) -> str:
        blob = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.hash:08x}+{blob}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold "+"
        if len(parts) != 3 or not _valid_name(parts[0]):
            raise NoteError("a verifier key is NAME+HASH+KEY")
        name, hex_hash, blob = parts
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise NoteError("verifier key is not base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("only Ed25519 verifier keys are supported")
        verifier = cls(name, raw[1:])
        if f"{verifier.hash:08x}" != hex_hash.lower():
            raise NoteError("verifier key hash does not match its name and key")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        if not _valid_name(name):
            raise NoteError(f"invalid key name {name!r}: no spaces or '+'")
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name, seed)

    @property
    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, public)

    def encode(self) -> str:
        blob = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.hash:08x}+{blob}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)  # base64 may hold "+"
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+NAME+HASH+KEY")
        raw = base64.b64decode(parts[4])
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("only Ed25519 signer keys are supported")
        signer = cls(parts[2], raw[1:])
        if f"{signer.verifier.hash:08x}" != parts[3].lower():
            raise NoteError("signer key hash does not match its key")
        return signer

    def sign(self, text: str) -> str:
        """The signed note: ``text`` (which must end in a newline) and this key's signature."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("note text must end with a newline and hold no blank line")
        signature = self._key.sign(text.encode())
        blob = base64.b64encode(struct.pack(">I", self.verifier.hash) + signature).decode()
        return f"{text}\n{_DASH}{self.name} {blob}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of ``note`` if ``verifier`` signed it; raises NoteError otherwise."""
    text, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise NoteError("malformed note: no signature block")
    text += "\n"
    for line in sigs[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(_DASH) :].partition(" ")
        if name != verifier.name:
            continue
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise NoteError("signature is not base64") from None
        if len(raw) != 68 or struct.unpack(">I", raw[:4])[0] != verifier.hash:
            continue
        if verifier.verify(text.encode(), raw[4:]):
            return text
        raise NoteError(f"signature by {name} does not verify")
    raise NoteError(f"no signature by {verifier.name}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or not lines[0] or not lines[1].isdigit():
            raise NoteError("a checkpoint is origin, size and root hash, one per line")
        if lines[1] != str(int(lines[1])):
            raise NoteError("tree size has leading zeros")
        root = base64.b64decode(lines[2], validate=True)
        if len(root) != 32:
            raise NoteError("root hash is not 32 bytes")
        return cls(lines[0], int(lines[1]), root)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    return Checkpoint.parse(open_note(note, verifier))
