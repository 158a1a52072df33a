"""The flight recorder: a tamper-evident Merkle log (RFC 9162) with C2SP signed checkpoints.

``note`` is pure (the Merkle maths is ``swisscheese.core.merkle``); the Recorder itself
(which needs the store) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swisscheese.core import Receipt

if TYPE_CHECKING:
    from swisscheese.recorder._recorder import (
        InclusionProof,
        Recorder,
        RecordError,
        VerifyReport,
        key_path,
        load_signer,
        open_with_keys,
        write_signer,
    )

__all__ = [
    "InclusionProof",
    "Receipt",
    "RecordError",
    "Recorder",
    "VerifyReport",
    "key_path",
    "load_signer",
    "open_with_keys",
    "write_signer",
]
_LAZY = frozenset(__all__) - {"Receipt"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from swisscheese.recorder import _recorder

        return getattr(_recorder, name)
    raise AttributeError(f"module 'swisscheese.recorder' has no attribute {name!r}")
