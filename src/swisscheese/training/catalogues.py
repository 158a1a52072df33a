"""Message catalogues in gettext's PO format: the translated sentences of a program's interface.

A translated interface is real text in many languages that speaks to its reader ("Enter a valid
e-mail address.", "Are you sure you want to delete ...?") without being an order to a model:
benign text for the detectors in languages where little else is. Only what a translator
finished is read: the header, untranslated and fuzzy entries (a machine's guess, awaiting
review) and obsolete ones (``#~``) are left out.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from swisscheese.evaluation.items import CorpusError

__all__ = ["Message", "fill_placeholders", "po_messages"]


@dataclass(frozen=True, slots=True)
class Message:
    source: str
    """The interface's own text (``msgid``; English in most programs)."""
    translation: str
    """The translator's text (``msgstr``, or a plural's first form)."""
    context: str = ""


_KEYWORD = re.compile(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\s*$')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b"}
_ESCAPE = re.compile(r"\\(.)")


def _string(literal: str, origin: str, line: int) -> str:
    """The text of one quoted PO string, its C escapes undone."""
    if len(literal) < 2 or not (literal.startswith('"') and literal.endswith('"')):
        raise CorpusError(f"{origin}:{line}: expected a quoted string, got {literal!r}")
    body = literal[1:-1]
    if re.search(r'(?<!\\)(?:\\\\)*"', body):
        raise CorpusError(f"{origin}:{line}: an unescaped quote inside {literal!r}")

    def undo(match: re.Match[str]) -> str:
        char = match.group(1)
        if char not in _ESCAPES:
            raise CorpusError(f"{origin}:{line}: unknown escape \\{char} in {literal!r}")
        return _ESCAPES[char]

    return _ESCAPE.sub(undo, body)


def po_messages(text: str, origin: str = "<po>") -> list[Message]:
    """The finished translations of a PO catalogue, in file order. A line that is neither a
    comment, a keyword with its string, nor a string continuing one is an error naming
    ``origin`` and the line."""
    messages: list[Message] = []
    fields: dict[str, str] = {}
    flags: set[str] = set()
    last: str | None = None

    def finish() -> None:
        nonlocal last
        source = fields.get("msgid", "")
        translation = fields.get("msgstr", fields.get("msgstr[0]", ""))
        if source and translation and "fuzzy" not in flags:
            messages.append(Message(source, translation, fields.get("msgctxt", "")))
        fields.clear()
        flags.clear()
        last = None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if last is not None and "msgstr" in last:
                finish()  # a comment after a translation begins the next entry
            if line.startswith("#,"):
                flags.update(flag.strip() for flag in line[2:].split(","))
            continue  # other comments, obsolete entries (#~) among them
        if line.startswith('"'):
            if last is None:
                raise CorpusError(f"{origin}:{number}: a string that continues no keyword")
            fields[last] += _string(line, origin, number)
            continue
        match = _KEYWORD.match(line)
        if match is None:
            raise CorpusError(f"{origin}:{number}: not a PO line: {line[:60]!r}")
        keyword, literal = match.groups()
        if keyword in {"msgctxt", "msgid"} and last is not None and "msgstr" in last:
            finish()  # entries need no blank line between them
        if keyword in fields:
            raise CorpusError(f"{origin}:{number}: {keyword} twice in one entry")
        fields[keyword] = _string(literal, origin, number)
        last = keyword
    if last is not None:
        finish()
    return messages


_PLACEHOLDER = re.compile(r"%%|%(?:\(\w+\))?[-+#0]*\d*(?:\.\d*)?[sdfir]|\{\w*\}")
_FILLERS = ("Anna", "report.pdf", "admin", "Example Ltd", "2026-12-05", "photos", "Berlin")


def fill_placeholders(text: str, rng: random.Random) -> str:
    """``text`` as the interface shows it: each placeholder (``%(name)s``, ``%d``, ``{}``)
    filled with a number or a short value, as a program fills them before the reader sees
    them."""

    def fill(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(0)[-1] in "dif":
            return str(rng.randint(2, 40))
        return rng.choice(_FILLERS)

    return _PLACEHOLDER.sub(fill, text)
