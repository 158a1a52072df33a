"""The one rule for text that is not valid Unicode: lone surrogates become U+FFFD.

Such text cannot be encoded as UTF-8, so it could neither be recorded nor read by every
monitor; replacing is lossless for valid text, and the unicode monitor reports the U+FFFD it
leaves (an attacker's malformed string is a finding, not a crash).
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` itself when it is valid Unicode, else a copy with each surrogate replaced."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def decode_bytes(data: bytes) -> str:
    """Bytes from outside (stdin, files) as text: invalid UTF-8 sequences become U+FFFD."""
    return data.decode("utf-8", "replace")
