"""RFC 8785 canonical JSON and the digests built on it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Serialise plain JSON data (dict, list, str, int, float, bool, None) per RFC 8785."""
    return bytes(rfc8785.dumps(value))


def json_text(value: Any) -> str:
    """Stable JSON text of a structured value for monitors to read (keys sorted, compact,
    UTF-8). Unlike RFC 8785 it takes integers of any size: a client's tool schema or a
    model's tool-call arguments may hold them, and screening must not fail on them."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """The ``sha256:<hex>`` digest of the canonical JSON of ``value``."""
    return "sha256:" + sha256_hex(canonical_json(value))


def text_digest(text: str) -> str:
    """The ``sha256:<hex>`` digest of a text's UTF-8 bytes."""
    return "sha256:" + sha256_hex(text.encode("utf-8", "surrogatepass"))
