"""What an evaluation sends: items of a corpus, and the documents some of them arrive in."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from swisscheese.core import Role
from swisscheese.core.errors import InputError, SwisscheeseError
from swisscheese.core.jsonl import json_lines

__all__ = ["DEFAULT_TASK", "FORMS", "CorpusError", "Document", "Item", "json_records"]

DEFAULT_TASK = "Summarise this for me."
"""The user's task for a fetched document whose corpus gives none."""


class CorpusError(SwisscheeseError, ValueError):
    """A corpus spec or file that cannot be read; the message names the spec, file and line."""


def json_records(text: str, source: str) -> list[tuple[int, Any]]:
    """(line number, value) for each non-blank JSON line of a corpus file's ``text``; a line
    that is not JSON is a ``CorpusError`` naming ``source`` and the line."""
    try:
        return list(json_lines(text.splitlines(), source))
    except InputError as exc:
        raise CorpusError(str(exc)) from None


def _as_page(document: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in document.split("\n") if line)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Result</title>'
        '<link rel="stylesheet" href="/static/site.css"></head><body><nav><a href="/">Home</a> '
        f'<a href="/search">Search</a></nav><main>{paragraphs}</main><footer>'
        '<a href="/privacy">Privacy</a></footer></body></html>'
    )


FORMS: dict[str, Callable[[str], str]] = {
    "text": lambda document: document,
    "json": lambda document: json.dumps(
        {"status": "ok", "results": [{"id": 1, "title": "Result", "content": document}]}
    ),
    "repr": lambda document: repr({"result": document}),
    "html": _as_page,
    "yaml": lambda document: yaml.safe_dump(
        [{"id": 1, "title": "Result", "content": document}], sort_keys=False
    ),
}
"""How a tool hands the document over: as it is, as a JSON search result (lines escaped), as a
Python dict's repr (some agent frameworks' tools), as a web page (each line a paragraph), or as
YAML (AgentDojo's tools, some MCP servers: long strings folded over lines, quoted, escaped
where they must be)."""


@dataclass(frozen=True, slots=True)
class Document:
    """Where an item arrives when nobody types it: inside a document the assistant fetches (a
    tool result) for the user's ``task``. The item's text (or the attacker's mutation of it)
    is read at offset ``at`` of ``carrier``; a clean document is its item's text alone. The tool
    returns it in ``form`` (``FORMS``)."""

    task: str
    carrier: str = ""
    at: int = 0
    form: str = "text"

    def read(self, text: str) -> str:
        """The tool result with ``text`` planted in it."""
        return FORMS[self.form](f"{self.carrier[: self.at]}{text}{self.carrier[self.at :]}")


@dataclass(frozen=True, slots=True)
class Item:
    """One prompt of a corpus. ``id`` is stable across runs: it seeds the attacker per goal."""

    id: str
    text: str
    attack: bool
    source: str
    category: str = ""
    role: Role = "user"
    """Who sends it: ``user``, or ``system`` for an operator's system prompt (sent with a
    user's greeting after it)."""
    document: Document | None = None
    """Set when the text arrives in a fetched document rather than from the user, who sends
    the document's task."""
