"""Unicode manipulation: invisible, tag and bidi characters, mixed-script confusables.

Besides its findings, this monitor normalises the text that the layer's other monitors read
(NFKC, invisibles removed, tag characters revealed as the ASCII they hide, confusables folded),
with an offset map so that their spans still point into the caller's text.
"""

from __future__ import annotations

import re
import unicodedata

from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.core.text import REPLACEMENT
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor
from swisscheese.monitors._text import (
    _IRREGULAR,
    BIDI_ISOLATES,
    BIDI_OVERRIDES,
    CONFUSABLES,
    TAG_BASE,
    View,
    has_irregular,
    is_invisible,
    is_tag,
    normalize,
    script_of,
)

# Printable characters that still hide: variation selectors, fillers, the grapheme joiner.
_PRINTABLE_INVISIBLE = re.compile(
    "[\ufe00-\ufe0f\U000e0100-\U000e01ef\u115f\u1160\u3164\uffa0\u2800\u034f]"
)
_CONFUSABLE_CHAR = re.compile("[" + "".join(sorted(CONFUSABLES)) + "]")
_MIXED_WORD = re.compile(
    "\\w*(?:[A-Za-z]\\w*[{c}]|[{c}]\\w*[A-Za-z])\\w*".format(c="".join(sorted(CONFUSABLES)))
)
_STYLED = re.compile("[\U0001d400-\U0001d7ff]")
_EMOJI_JOINERS = frozenset("\u200d\ufe0e\ufe0f")
_JOINING_SCRIPT_CONTROLS = frozenset("\u200c\u200d")
_CANCEL_TAG = "\U000e007f"
_BLACK_FLAG = "\U0001f3f4"


class UnicodeConfig(MonitorConfig):
    confusables: bool = True
    """Report words that mix Latin letters with look-alike Cyrillic or Greek ones."""
    styled_text: bool = True
    """Report mathematical/enclosed letter styles that NFKC folds to ASCII (low score)."""


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or unicodedata.category(ch) == "So"
    )


def _is_letter_of_joining_script(ch: str) -> bool:
    return ch.isalpha() and not ch.isascii() and script_of(ch) != "LATIN"


class UnicodeMonitor(Inline):
    name = "unicode"
    stages = frozenset(Stage)

    def __init__(self, config: UnicodeConfig) -> None:
        self.config = config

    def normalize(self, text: str) -> View:
        return normalize(text)

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        text = content.text
        if not has_irregular(text):
            return []
        findings: list[Finding] = []
        if REPLACEMENT in text:
            findings.extend(self._replaced(text))
        for run in _IRREGULAR.finditer(text):
            chars = run.group()
            # Letters of any script are printable: only runs with something else need a look.
            if not chars.isprintable() or _PRINTABLE_INVISIBLE.search(chars):
                self._scan_run(text, run.start(), chars, findings)
        if self.config.confusables and _CONFUSABLE_CHAR.search(text):
            findings.extend(self._mixed_script_words(text))
        if self.config.styled_text and _STYLED.search(text):
            findings.extend(self._styled_runs(text))
        return findings

    def _scan_run(self, text: str, offset: int, chars: str, out: list[Finding]) -> None:
        i = 0
        n = len(chars)
        while i < n:
            ch = chars[i]
            start = offset + i
            if is_tag(ch):
                j = i
                while j < n and is_tag(chars[j]):
                    j += 1
                if not self._is_flag_sequence(text, start, offset + j):
                    hidden = "".join(
                        chr(ord(c) - TAG_BASE)
                        for c in chars[i:j]
                        if 0x20 <= ord(c) - TAG_BASE <= 0x7E
                    )
                    out.append(
                        Finding(
                            self.name,
                            "unicode.tag",
                            1.0,
                            (Span(start, offset + j),),
                            {"hidden": hidden[:200], "count": j - i, "replacement": ""},
                        )
                    )
                i = j
            elif ch in BIDI_OVERRIDES or ch in BIDI_ISOLATES:
                j = i
                while j < n and (chars[j] in BIDI_OVERRIDES or chars[j] in BIDI_ISOLATES):
                    j += 1
                override = any(c in BIDI_OVERRIDES for c in chars[i:j])
                out.append(
                    Finding(
                        self.name,
                        "unicode.bidi",
                        0.9 if override else 0.6,
                        (Span(start, offset + j),),
                        {"codepoints": [f"U+{ord(c):04X}" for c in chars[i:j]], "replacement": ""},
                    )
                )
                i = j
            elif is_invisible(ch):
                j = i
                while j < n and is_invisible(chars[j]) and not is_tag(chars[j]):
                    j += 1
                score = self._invisible_score(text, start, offset + j)
                if score > 0:
                    out.append(
                        Finding(
                            self.name,
                            "unicode.invisible",
                            score,
                            (Span(start, offset + j),),
                            {
                                "codepoints": sorted({f"U+{ord(c):04X}" for c in chars[i:j]}),
                                "replacement": "",
                            },
                        )
                    )
                i = j
            else:
                i += 1

    @staticmethod
    def _is_flag_sequence(text: str, start: int, end: int) -> bool:
        """Subdivision flags (🏴 + lowercase tag letters + cancel tag) are legitimate emoji."""
        return (
            start > 0
            and text[start - 1] == _BLACK_FLAG
            and text[end - 1] == _CANCEL_TAG
            and all("a" <= chr(ord(c) - TAG_BASE) <= "z" for c in text[start : end - 1])
        )

    @staticmethod
    def _invisible_score(text: str, start: int, end: int) -> float:
        chars = text[start:end]
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        if start == 0 and chars == "\ufeff":
            return 0.0  # byte-order mark
        if set(chars) <= _EMOJI_JOINERS and before and _is_emoji(before):
            return 0.0  # emoji presentation and ZWJ sequences
        if (
            set(chars) <= _JOINING_SCRIPT_CONTROLS
            and _is_letter_of_joining_script(before)
            and _is_letter_of_joining_script(after)
        ):
            return 0.0  # ZWNJ/ZWJ inside Persian, Indic and similar words
        if chars == "\u00ad" and before.isalpha() and after.isalpha():
            return 0.2  # soft hyphen inside a word: usually typography
        if before.isalnum() and after.isalnum():
            return 0.8  # splits a word: the classic filter evasion
        return 0.6

    def _replaced(self, text: str) -> list[Finding]:
        """U+FFFD: what the entry points leave where the text was not valid Unicode (a lone
        surrogate, bytes that are not UTF-8). Legitimate text rarely holds it."""
        return [
            Finding(
                self.name,
                "unicode.invalid",
                0.6,
                (Span(m.start(), m.end()),),
                {"count": m.end() - m.start(), "replacement": ""},
            )
            for m in re.finditer(REPLACEMENT + "+", text)
        ]

    def _mixed_script_words(self, text: str) -> list[Finding]:
        findings = []
        for m in _MIXED_WORD.finditer(text):
            word = m.group()
            scripts = {script_of(c) for c in word if c.isalpha()}
            if len(scripts) > 1:
                folded = "".join(CONFUSABLES.get(c, c) for c in word)
                findings.append(
                    Finding(
                        self.name,
                        "unicode.confusable",
                        0.8,
                        (Span(m.start(), m.end()),),
                        {"folded": folded, "scripts": sorted(scripts), "replacement": folded},
                    )
                )
        return findings

    def _styled_runs(self, text: str) -> list[Finding]:
        findings = []
        for m in re.finditer(r"[\U0001d400-\U0001d7ff][\U0001d400-\U0001d7ff\s]*", text):
            plain = unicodedata.normalize("NFKC", m.group())
            findings.append(
                Finding(
                    self.name,
                    "unicode.confusable",
                    0.3,
                    (Span(m.start(), m.end()),),
                    {"folded": plain[:200], "style": "mathematical", "replacement": plain},
                )
            )
        return findings


@monitor(
    "unicode",
    stages=list(Stage),
    categories=(
        "unicode.invisible",
        "unicode.tag",
        "unicode.bidi",
        "unicode.confusable",
        "unicode.invalid",
    ),
    config=UnicodeConfig,
    description="Invisible, tag and bidi characters and confusables; normalises what others read",
)
def unicode_monitor(config: UnicodeConfig) -> UnicodeMonitor:
    return UnicodeMonitor(config)
