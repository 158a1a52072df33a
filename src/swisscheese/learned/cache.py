"""Where learned tiers keep what is slow to make and cheap to keep: the embedding tier's ONNX
export and the local model converted from its GGUF file. Per user, never per request; every
entry is named after what it was made from, so an upgrade makes a new one."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from swisscheese.config.settings import Settings

__all__ = ["CACHE_ENV", "cache_dir", "made_once"]

log = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_ENV = "SWISSCHEESE_CACHE_DIR"


def cache_dir() -> Path:
    """``$SWISSCHEESE_CACHE_DIR``, else ``$XDG_CACHE_HOME/swisscheese`` (~/.cache/swisscheese)."""
    root = Settings().cache_dir or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "swisscheese"
    )
    return Path(root)


def made_once(entry: Path, find: Callable[[], T | None], make: Callable[[], T]) -> T:
    """The cache entry ``find`` finds, else the one ``make`` makes. Processes that start together
    (a gateway's workers, replicas on one host) make it once: the first makes it under a lock,
    the others wait for it and then find it, instead of each spending the time and the cores on
    its own copy. An entry already there is found without the lock."""
    found = find()
    if found is not None:
        return found
    with _one_maker(entry):
        found = find()  # made by another process while this one waited
        return found if found is not None else make()


@contextmanager
def _one_maker(entry: Path) -> Iterator[None]:
    """An advisory lock on ``ENTRY.lock``, released when the handle closes or the process
    dies; where none can be taken (no ``fcntl``, a read-only cache), each process makes its
    own entry, as it would without the lock."""
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
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
