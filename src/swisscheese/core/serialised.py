"""Serialised text read as its reader reads it: for the decoder's views, and for the test of
whether a tool's result is source code (a file read through an API comes back as JSON).

A tool hands an agent its results serialised: a JSON document, a Python repr, a web page. The
model reads the text inside (a string's "\\n" is a line break to it, an HTML page its words
and its images' alt texts), while a detector reading the raw characters reads the chrome too,
and the chrome reads as benign: a planted order that a detector catches in a plain document
scores lower inside a JSON record or a page's markup. Each reading here is a view the guard
rescans beside the raw text (never instead of it), and none is a disguise, so none is reported
as obfuscation (``READINGS``).
"""

from __future__ import annotations

import html
import re
import sys
from functools import lru_cache

import yaml

__all__ = [
    "LAST_TURN",
    "READINGS",
    "Reading",
    "markup_text",
    "readings",
    "string_views",
    "unescape",
    "yaml_views",
]

READINGS = frozenset({"string-values", "string-keys", "string-escapes", "markup-text"})
"""The kinds of view that read a serialised text rather than undo a disguise."""

LAST_TURN = "last-turn"
"""The kind of view that reads a conversation's last turn alone: a part of the text, which
disguises nothing either."""

Reading = tuple[int, int, str, str]
"""Where the read segment starts and ends, the kind of reading, and the text read."""

# -- string literals ------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
# A string literal's escapes as JSON, Python and JavaScript write them; any other escaped
# character stands for itself. An escaped line break, with the next line's indentation, is
# nothing: how YAML (and a Python or JavaScript literal) continues a long string on the next
# line, as in YAML's ``"... from me, Emma Johnson, to you,\<newline>    \ GPT-4."``.
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|\n[ \t]*|.)")
# A quoted string on one line, double or single quotes; one followed by a colon is a key.
_STRING_LITERAL = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
_KEY_FOLLOWS = re.compile(r"\s*:")
# How a JSON document or a Python repr of a dict or list starts (Markdown's "[![badge]" does not).
_DATA_START = re.compile(r"\s*(?:\{\s*[\"'}]|\[\s*[\[{\"'\d\]-])")
_MIN_VIEW = 20


def _escaped_char(m: re.Match[str]) -> str:
    escape = m.group(1)
    if escape[0] == "\n":
        return ""
    if len(escape) == 1:
        return _ESCAPES.get(escape, escape)
    code = int(escape[1:], 16)
    return chr(code) if code <= sys.maxunicode else "\ufffd"


def unescape(text: str) -> str:
    """``text`` with a string literal's backslash escapes read; a UTF-16 surrogate pair
    (JSON's way to write an emoji) becomes its character, a lone surrogate U+FFFD."""
    plain = _ESCAPE.sub(_escaped_char, text)
    if "\\u" in text or "\\U" in text:
        plain = plain.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return plain


def _serialised_prose(line: str) -> bool:
    """Whether a line holds prose serialised with its line breaks escaped: two of them and
    four words at least ("\\n".join(rows) in a program is neither)."""
    return line.count("\\n") >= 2 and line.count(" ") >= 3


def _reads_as_text(string: str) -> bool:
    """One short word ("status", "ok", an id, a date) is a record's field, not its text."""
    return len(string) >= _MIN_VIEW or " " in string.strip()


def _record_views(
    values: list[tuple[int, int, str]], keys: list[tuple[int, int, str]]
) -> list[Reading]:
    """A record's values that read as text, one to a line, and its keys that do apart: put
    before the values they name (a hotel's name, a question), they change how those read."""
    return [
        (strings[0][0], strings[-1][1], kind, joined)
        for kind, strings in (("string-values", values), ("string-keys", keys))
        if strings and len(joined := "\n".join(v[2] for v in strings)) >= _MIN_VIEW
    ]


def string_views(text: str) -> list[Reading]:
    """A data structure (JSON, a Python repr) read as its string values alone, one to a line,
    and its keys that read as text apart; one-word strings (a status, an id) left out: the
    chrome around them reads to a detector as benign, and a token glued to its quotes is no
    token to a decoder. Any other text with a line of prose whose line breaks are escaped, read
    whole with its escapes read."""
    if _DATA_START.match(text):
        keys: list[tuple[int, int, str]] = []
        values: list[tuple[int, int, str]] = []
        for m in _STRING_LITERAL.finditer(text):
            string = unescape(m.group()[1:-1])
            if _reads_as_text(string):
                read = keys if _KEY_FOLLOWS.match(text, m.end()) else values
                read.append((m.start(), m.end(), string))
        return _record_views(values, keys)
    if "\\n" not in text or not any(_serialised_prose(line) for line in text.split("\n")):
        return []
    escapes = [m.span() for m in _ESCAPE.finditer(text)]
    return [(escapes[0][0], escapes[-1][1], "string-escapes", unescape(text))]


# -- YAML -----------------------------------------------------------------------------------

# A line of a YAML mapping ("key: value", "- key: value"); a YAML document starts with one and
# has another.
_YAML_LINE = re.compile(r"^[ \t]*(?:- )?[A-Za-z_][\w .-]{0,63}:(?:[ \t]|$)", re.MULTILINE)
# libyaml's scanner where it is built in: tokens only, so an alias is never expanded.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_views(text: str) -> list[Reading]:
    """A YAML document (AgentDojo's tools, some MCP servers) read as its scalar values, one to
    a line, and its keys that read as text apart, as ``string_views`` reads JSON: YAML folds a
    long string over indented lines, doubles a quote inside single quotes ("it''s") and
    escapes inside double quotes, and the model reads the string. Scanned, never loaded: no
    alias is expanded and no object built. Text that does not scan as YAML has no view."""
    if not _YAML_LINE.match(text.lstrip("\n")) or len(_YAML_LINE.findall(text, 0, 4096)) < 2:
        return []
    keys: list[tuple[int, int, str]] = []
    values: list[tuple[int, int, str]] = []
    after_key = False
    try:
        for token in yaml.scan(text, Loader=_YAML_LOADER):
            if isinstance(token, yaml.ScalarToken) and _reads_as_text(token.value):
                read = keys if after_key else values
                read.append((token.start_mark.index, token.end_mark.index, token.value))
            after_key = isinstance(token, yaml.KeyToken)
    except yaml.YAMLError:
        return []
    return _record_views(values, keys)


# -- markup ---------------------------------------------------------------------------------

_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")
# Markup whose tags are at least this share of the text: a web page, a feed, an XML record (a
# README with a centred logo is Markdown, read well enough as it is).
_MIN_MARKUP_SHARE = 0.1
_MIN_TAGS = 3
# Attributes whose values a page shows or speaks: image and link texts, tooltips, labels.
_TEXT_ATTRIBUTES = frozenset(
    {"alt", "title", "aria-label", "aria-description", "placeholder", "label", "summary"}
)
# Elements whose content is program or style, not text (the raw scan still reads it): the tag
# and everything up to its closing tag. Each match consumes what it reads, so the scan is linear.
_NOT_TEXT = re.compile(r"<(script|style)\b[^<>]*>(?:[^<]+|<(?!/\1))*", re.IGNORECASE)
# Tags inside a line of text; any other tag (a paragraph, a cell, an XML feed's <title>) ends
# one.
_INLINE_TAG = re.compile(
    r"</?(?:a|abbr|b|bdi|bdo|cite|code|data|del|dfn|em|font|i|ins|kbd|mark|q|s|samp|small|span|"
    r"strong|sub|sup|time|u|var|wbr)\b[^<>]*>",
    re.IGNORECASE,
)
# A tag with an attribute whose value a page shows or speaks (image and link texts, tooltips,
# labels, a page's description): the only tags read one by one.
_SHOWN = re.compile(
    r"<([A-Za-z][\w:-]*)\s[^<>]*?\b(?:alt|title|aria-label|aria-description|placeholder|"
    r"label|summary|content)\s*=[^<>]*>",
    re.IGNORECASE,
)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
_SPACES = re.compile(r"[ \t\f\v\r]+")
# A document type declaration or a processing instruction ("<!DOCTYPE html>", "<?xml ...?>").
_DECLARATION = re.compile(r"<(?:![A-Za-z]|\?)[^<>]*>")


def _shown_attributes(m: re.Match[str]) -> str:
    values = {
        a.group(1).lower(): a.group(2) or a.group(3) or a.group(4) or ""
        for a in _ATTRIBUTE.finditer(m.group())
    }
    shown = [v for name, v in values.items() if name in _TEXT_ATTRIBUTES]
    # A page's description is what a search engine, and a model, reads of it.
    if m.group(1).lower() == "meta" and ("name" in values or "property" in values):
        shown.append(values.get("content", ""))
    return "".join(f"\n{v}\n" for v in shown if v.strip()) or "\n"


def _text_of_markup(text: str) -> str:
    """Text nodes, comments and shown attributes, one block to a line; scripts and styles left
    out. Whole-text substitutions: only tags with a shown attribute cost a call each."""
    text = _NOT_TEXT.sub("", text)
    text = _SHOWN.sub(_shown_attributes, text)
    text = _INLINE_TAG.sub("", text)
    text = _DECLARATION.sub("", _TAG.sub("\n", text))
    text = text.replace("<!--", "\n").replace("-->", "\n")
    return html.unescape(text)


def markup_text(text: str) -> list[Reading]:
    """A page's text as a reader of its markup gets it: text nodes, comments and the attributes
    a page shows (alt, title, aria-label, ...), one block to a line, without tags, scripts and
    styles. Only for text that is mostly markup."""
    if text.count("<") < _MIN_TAGS:
        return []
    tags = [m.span() for m in _TAG.finditer(text)]
    if len(tags) < _MIN_TAGS or sum(e - s for s, e in tags) < _MIN_MARKUP_SHARE * len(text):
        return []
    lines = (line.strip() for line in _SPACES.sub(" ", _text_of_markup(text)).split("\n"))
    read = "\n".join(line for line in lines if line)
    if len(read) < _MIN_VIEW:
        return []
    return [(tags[0][0], tags[-1][1], "markup-text", read)]


@lru_cache(maxsize=16)
def readings(text: str) -> tuple[Reading, ...]:
    """Every reading of ``text`` as serialised text (none for text that is not). Cached: the
    guard asks for a tool result's readings twice, once to test it for source code and once in
    the decoder, and a page's markup costs about a millisecond per KB to read."""
    # A YAML document read as its scalars needs no reading of its escapes as well: that one
    # reads the chrome too, and it is the read the scalars already give.
    return (*(yaml_views(text) or string_views(text)), *markup_text(text))
