"""Credentials and secrets: API keys, tokens and private keys, found in memory.

The patterns of detect-secrets' regex plugins are reused as they are (built once, no files, no
global settings), with a few providers it lacks. High-entropy and keyword heuristics are left out
on purpose: on prose they flag ordinary words, and here a false positive redacts a user's text.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

from pydantic import Field

from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor
from swisscheese.monitors._text import claim

# Plugins whose patterns fire on ordinary text or belong to another monitor (IP addresses: pii).
_SKIPPED_PLUGINS = frozenset({"IPPublicDetector", "ArtifactoryDetector", "TwilioKeyDetector"})

_B64 = "A-Za-z0-9+/"
# Secrets caught whole. A private key is its block from BEGIN to END (or to the end of the
# text, while a stream is still arriving); credentials that come in pairs are caught with
# their partner, so that redacting the id does not leave the secret beside it.
_WHOLE: tuple[tuple[str, str], ...] = (
    (
        "Private key block",
        r"(-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?(?:-----END \2-----|\Z))",
    ),
    (
        # The last lines of a key whose BEGIN line lies outside the text read (a window).
        "Private key material",
        rf"(?m)(?:^[{_B64}=]{{4,76}}[ \t]*\r?\n)+"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    (
        "AWS secret access key",
        # Forty base64 characters, mixed case with a digit or symbol (a git hash is not one);
        # the mix is checked on each match (_MIXED), cheaper than lookaheads at every position.
        rf"(?<![{_B64}])[{_B64}]{{40}}(?![{_B64}=])",
    ),
    ("GCP service-account key id", r'"private_key_id"\s*:\s*"([0-9a-f]{40})"'),
    (
        "Azure connection-string key",
        r"(?i)(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*([^;\s\"']{16,})",
    ),
)

# Providers detect-secrets does not cover (formats published by the providers).
_EXTRA: tuple[tuple[str, str], ...] = (
    (
        "OpenAI API key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}",
    ),
    ("OpenAI project key", r"\bsk-proj-[A-Za-z0-9_-]{40,}"),
    ("Anthropic API key", r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,}"),
    ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("Hugging Face token", r"\bhf_[A-Za-z]{34}\b"),
    ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{82}\b"),
    ("Twilio API key", r"\bSK[0-9a-fA-F]{32}\b"),
    # Lines of key material: two or more full-length base64 lines in a row (PEM bodies are
    # 64 characters a line, OpenSSH 70); a key streamed past its BEGIN line is still caught.
    (
        "Key material lines",
        rf"(?m)^[{_B64}]{{60,76}}={{0,2}}\r?$(?:\n^[{_B64}]{{4,76}}={{0,2}}\r?$)+",
    ),
    ("Password in URL", r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,64}:[^\s:/@]{3,64}@[^\s/]+"),
)


def _mixed(token: str) -> bool:
    return (
        (not token.isalnum() or any(c.isdigit() for c in token))
        and not token.islower()
        and not token.isupper()
    )


# Kinds whose matches must also look random (mixed case, a digit or a symbol).
_MIXED = {"AWS secret access key": _mixed}


@dataclass(frozen=True, slots=True)
class _Pattern:
    kind: str
    regex: re.Pattern[str]


# Every token-shaped secret is a run of at least 16 such characters; prose rarely has one, so
# the token patterns only run on windows around these runs.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_+/=.:-]{16,}")
_WINDOW_BEFORE = 48
_WINDOW_AFTER = 4
# Secrets whose shape is not one long token, each with cues one of which must occur first.
_CONTEXT_CUES: dict[str, tuple[str, ...]] = {
    "Private key block": ("private key",),
    "Private Key": ("private key",),
    "Private key material": ("private key",),
    "Password in URL": ("://",),
    "Basic Auth Credentials": ("://",),
    "NPM tokens": ("_authtoken",),
    "AWS secret access key": ("akia", "asia", "aws", "secret"),
    "GCP service-account key id": ("private_key_id",),
    "Azure connection-string key": ("accountkey", "sharedaccess"),
}


def _detect_secrets_patterns() -> list[_Pattern]:
    from detect_secrets import plugins
    from detect_secrets.plugins.base import RegexBasedDetector

    found: list[_Pattern] = []
    for info in pkgutil.iter_modules(plugins.__path__):
        module = importlib.import_module(f"detect_secrets.plugins.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                not issubclass(cls, RegexBasedDetector)
                or cls is RegexBasedDetector
                or cls.__module__ != module.__name__
                or name in _SKIPPED_PLUGINS
            ):
                continue
            detector = cls()
            for pattern in detector.denylist:
                found.append(_Pattern(str(detector.secret_type), pattern))
    return found


class SecretsConfig(MonitorConfig):
    detect_secrets: bool = True
    """Use the regex plugins of detect-secrets."""
    extra_patterns: dict[str, str] = Field(default_factory=dict)
    """Your own patterns: a name for the kind of secret → a regular expression."""


class SecretsMonitor(Inline):
    name = "secrets"
    stages = frozenset(Stage)

    def __init__(self, config: SecretsConfig) -> None:
        self.config = config
        # Whole secrets first: the first pattern to claim a span keeps it, so a key block is
        # redacted whole rather than in its BEGIN line alone.
        patterns = [_Pattern(kind, re.compile(rx)) for kind, rx in _WHOLE]
        patterns += _detect_secrets_patterns() if config.detect_secrets else []
        patterns += [_Pattern(kind, re.compile(rx)) for kind, rx in _EXTRA]
        cues = _CONTEXT_CUES
        whole = {kind for kind, _ in _WHOLE}
        self._token_patterns = [p for p in patterns if p.kind not in cues and p.kind not in whole]
        self._context_patterns = [
            (p, cues.get(p.kind, ("",))) for p in patterns if p.kind in cues or p.kind in whole
        ]
        # A user's own patterns may match anything, so they read the whole text ("" always
        # occurs).
        self._context_patterns += [
            (_Pattern(kind, re.compile(rx)), ("",)) for kind, rx in config.extra_patterns.items()
        ]

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        text = content.text
        findings: list[Finding] = []
        taken: list[tuple[int, int]] = []
        lowered: str | None = None
        for pattern, cue in self._context_patterns:
            if lowered is None:
                lowered = text.lower()
            if any(c in lowered for c in cue):
                self._scan(pattern, text, 0, findings, taken)
        for offset, window in _windows(text):
            for pattern in self._token_patterns:
                self._scan(pattern, window, offset, findings, taken)
        return findings

    def _scan(
        self,
        pattern: _Pattern,
        text: str,
        offset: int,
        findings: list[Finding],
        taken: list[tuple[int, int]],
    ) -> None:
        for m in pattern.regex.finditer(text):
            if pattern.kind in _MIXED and not _MIXED[pattern.kind](m.group()):
                continue
            # Where a plugin captures the secret in a group, the span is the group.
            start, end = (m.start(1), m.end(1)) if m.lastindex else (m.start(), m.end())
            if start < 0 or end <= start:
                start, end = m.start(), m.end()
            start, end = start + offset, end + offset
            if not claim(taken, start, end):
                continue
            findings.append(
                Finding(
                    self.name,
                    "secret",
                    1.0,
                    (Span(start, end),),
                    {"kind": pattern.kind, "replacement": "[SECRET]"},
                )
            )


def _windows(text: str) -> list[tuple[int, str]]:
    """Merged windows of text around each long token run: (offset, window text)."""
    spans: list[list[int]] = []
    for m in _TOKEN_RUN.finditer(text):
        start = max(0, m.start() - _WINDOW_BEFORE)
        end = min(len(text), m.end() + _WINDOW_AFTER)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(s, text[s:e]) for s, e in spans]


@monitor(
    "secrets",
    stages=list(Stage),
    categories=("secret",),
    config=SecretsConfig,
    description="API keys, tokens and private keys (detect-secrets patterns, in memory)",
)
def secrets_monitor(config: SecretsConfig) -> SecretsMonitor:
    return SecretsMonitor(config)
