"""Whether a text is mostly source code: read line by line, by the shape of its lines.

A coding agent reads source files, and a file that defines a prompt for an assistant ("You
are a ...") reads to an injection detector like a document carrying an injected one. A policy
rule can leave such texts to another rule (``in_code: false``). The test looks at lines, not
at one language's grammar: statements, declarations, comments, calls, assignments, brackets,
doctests and fences count as code; prose, JSON members and the inside of multi-line string
literals (where the prompts are) count as nothing. A text is code when at least half of its
counted lines are, and it has at least five; a JSON document is data, judged by the strings it
holds (``serialised``), and so is a page by its text. Whoever writes a whole
text can make it code, so a rule that skips code should have a stricter one behind it, or read
only where code comes from (the tools that read the operator's files).
"""

from __future__ import annotations

import json
import re

from swisscheese.core.serialised import readings

# Keywords count only with the syntax around them: prose lines start with "for", "if", "with",
# "return" or "use" too.
_STATEMENT = (
    r"(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[(:{<]|import\s+[\w.{*]|from\s+[\w.]+\s+import\b"
    r"|(?:if|elif|else|for|while|with|try|except|finally|switch|catch|do)\b.*[:{]\s*$"
    r"|(?:if|for|while|switch|catch)\s*\("
    r"|(?:return|raise|yield|throw|await|delete|new)\b.*[()\[\]{}=;_]"
    r"|(?:break|continue|pass|return);?\s*$|return\s+[\w.]+;?\s*$"
    r"|(?:const|let|var|val)\s+[\w{\[]+\s*[=:;]|function\*?\s*\w*\s*\("
    r"|export\s+(?:default|const|let|function|class|async|type|interface|enum|\{|\*)"
    r"|(?:interface|enum|struct|impl|trait|type)\s+\w+.*[{<=]|(?:pub\s+)?fn\s+\w+"
    r"|use\s+[\w:]+(?:::|;)|package\s+[\w.]+;?\s*$|func\s+[\w(]"
    r"|(?:public|private|protected|static|final|override)\s+[\w<>\[\], ]+[({=;]"
    r"|\#\s*(?:include|define|if|ifdef|ifndef|endif|pragma|!)"
)
_TYPE = r"[\w.]+(?:\[[^\]]*\])?"
_CODE_LINE = re.compile(
    rf"""^\s*(?:
        {_STATEMENT}
      | @[\w.]+                                         # a decorator or annotation
      | //|/\*|\*/|(?<=\s)\#|\#(?!\#*\s+[A-Z][a-z]+\s+[a-z])  # a comment, not a Markdown heading
      | [}}\])]+[;,)]*\s*$                              # closing brackets alone
      | [\w.\[\]]+\s*(?:[-+*/%|&^]|//|\*\*)?=(?!=)\s*\S  # an assignment
      | [\w.]+\(.*\)\s*;?\s*$                           # a call
      | >>>\s|\.\.\.\s|```|["']{{3}}                    # doctests, fences, string quotes
    )""",
    re.X,
)
# Shapes that wrapped prose takes too: they count only in a line without prose outside its
# string literals (four words in a row).
_LIST_LINE = re.compile(
    rf"""^\s*(?:
        .*[=:"'()\[\]{{}}][^,]*,\s*$                     # an argument or an item of a literal
      | [A-Za-z_][\w.]*,\s*$                            # a name in a list
      | [a-z_]\w*\s*:\s*{_TYPE}(?:\s*\|\s*{_TYPE})*\s*(?:=.*)?$  # an annotated name
    )|[;{{(\[]\s*$                                      # a statement or block left open
    """,
    re.X,
)
_PROSE = re.compile(r"\b[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ [A-Za-z]+\b")
_STRING = re.compile(r""""[^"\n]*"|'[^'\n]*'""")
_JSON_MEMBER = re.compile(r'^\s*"[^"\n]*"\s*:')
_QUOTES = ('"""', "'''")
MIN_LINES = 5
LINE_CHARS = 240
"""Characters of a line that are read: a line's shape shows in its start, and the cap keeps
the test linear in the text (some of the patterns backtrack over a whole line)."""


def counted_lines(text: str) -> list[str]:
    """The non-blank lines of ``text`` outside multi-line string literals (the lines that open
    and close one are counted)."""
    lines: list[str] = []
    inside: str | None = None
    for line in text.splitlines():
        if inside is not None:
            if line.count(inside) % 2:
                inside = None
                lines.append(line)
            continue
        if line.strip():
            lines.append(line)
        inside = next((q for q in _QUOTES if line.count(q) % 2), None)
    return lines


def is_code_line(line: str) -> bool:
    line = line[:LINE_CHARS]
    if _JSON_MEMBER.match(line):
        return False
    if _CODE_LINE.search(line):
        return True
    return bool(_LIST_LINE.search(line)) and not _PROSE.search(_STRING.sub('""', line))


def is_source_code(text: str) -> bool:
    """Whether at least half of the counted lines of ``text`` are code (and there are at
    least ``MIN_LINES`` of them), or of the text it serialises: a file read through an API
    that returns JSON, or a page that shows a program, is code as its reader reads it."""
    return _mostly_code(text) or any(_mostly_code(r[3]) for r in readings(text))


def _mostly_code(text: str) -> bool:
    lines = counted_lines(text)
    if len(lines) < MIN_LINES or _is_json(text):
        return False
    return 2 * sum(map(is_code_line, lines)) >= len(lines)


def _is_json(text: str) -> bool:
    """A JSON document is data, however many of its lines are brackets."""
    if text.lstrip()[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
