"""Where learned tiers keep what is slow to make and cheap to keep: the embedding tier's ONNX
export and the local model converted from its GGUF file. Per user, never per request; every
entry is named after what it was made from, so an upgrade makes a new one."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from swisscheese.config.settings import Settings

__all__ = ["CACHE_ENV", "cache_dir", "one_maker"]

log = logging.getLogger(__name__)

CACHE_ENV = "SWISSCHEESE_CACHE_DIR"


def cache_dir() -> Path:
    """``$SWISSCHEESE_CACHE_DIR``, else ``$XDG_CACHE_HOME/swisscheese`` (~/.cache/swisscheese)."""
    root = Settings().cache_dir or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "swisscheese"
    )
    return Path(root)


@contextmanager
def one_maker(entry: Path) -> Iterator[None]:
    """Held while this process makes ``entry``: processes that start together (a gateway's
    workers, replicas on one host) wait for the first to make it and then load it, instead of
    each spending the time and the cores on its own copy. An advisory lock on ``ENTRY.lock``;
    where none can be taken (no ``fcntl``, a read-only cache), each process makes its own, as
    it would without the lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    lock = entry.with_name(entry.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a")
    except OSError as exc:
        log.debug("no lock on %s (%s): making it without one", lock, exc)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes, or the process dies
        yield
