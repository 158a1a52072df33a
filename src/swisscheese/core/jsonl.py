"""JSON Lines, parsed one way everywhere: blank lines skipped, every error names its line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from swisscheese.core.errors import InputError


def json_lines(lines: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; ``InputError`` names a line that is not
    JSON."""
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(source, number, f"not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise InputError(source, number, "JSON nested too deeply") from None
