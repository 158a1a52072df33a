"""Where learned tiers keep what is slow to make and cheap to keep: the embedding tier's ONNX
export and the local model converted from its GGUF file. Per user, never per request; every
entry is named after what it was made from, so an upgrade makes a new one."""

from __future__ import annotations

import os
from pathlib import Path

from swisscheese.config.settings import Settings

__all__ = ["CACHE_ENV", "cache_dir"]

CACHE_ENV = "SWISSCHEESE_CACHE_DIR"


def cache_dir() -> Path:
    """``$SWISSCHEESE_CACHE_DIR``, else ``$XDG_CACHE_HOME/swisscheese`` (~/.cache/swisscheese)."""
    root = Settings().cache_dir or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "swisscheese"
    )
    return Path(root)
