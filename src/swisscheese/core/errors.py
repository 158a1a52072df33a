"""The root of every error swisscheese raises on purpose, and the one for bad input lines.

Each error's message is what the CLI prints after ``error:``: it names the file and line, the
field, or the component, and says what to do where there is something to do.
"""

from __future__ import annotations


class SwisscheeseError(Exception):
    """Anything swisscheese refuses or cannot do; ``str(error)`` is the message for users."""


class InputError(SwisscheeseError, ValueError):
    """A bad record in an input file; names the file (or stream) and the line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source, self.line = source, line
        super().__init__(f"{source}:{line}: {message}")
