"""Canary tokens: a per-deployment marker placed in the system prompt; seeing it (or a disguised
copy of it) in an output proves that the system prompt leaked.

The token is derived from a secret (HMAC-SHA256) when one is configured, so every replica of a
deployment agrees on it; otherwise each process draws a random one.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import os
import re
import secrets

from pydantic import SecretStr

from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_CORE_HEX = 20


class CanaryConfig(MonitorConfig):
    token: SecretStr | None = None
    """A fixed token to use as it is."""
    secret_env: str | None = "SWISSCHEESE_CANARY_SECRET"
    """Environment variable holding a secret the token is derived from (if set)."""
    label: str = "swisscheese-canary"
    """Distinguishes several canaries derived from one secret."""


def derive_token(secret: str, label: str) -> str:
    mac = hmac.new(secret.encode(), label.encode(), hashlib.sha256).hexdigest()
    return f"sc-{mac[:_CORE_HEX]}"


class CanaryMonitor(Inline):
    name = "canary"
    stages = frozenset({Stage.OUTPUT, Stage.REASONING, Stage.TOOL_CALL, Stage.RETRIEVED})

    def __init__(self, config: CanaryConfig) -> None:
        self.config = config
        if config.token is not None:
            token = config.token.get_secret_value()
        elif config.secret_env and os.environ.get(config.secret_env):
            token = derive_token(os.environ[config.secret_env], config.label)
        else:
            token = f"sc-{secrets.token_hex(_CORE_HEX // 2)}"
        if len(_NOT_ALNUM.sub("", token.lower())) < 12:
            raise ValueError("a canary token needs at least 12 letters or digits")
        self.token = token
        self._squeezed = _NOT_ALNUM.sub("", token.lower())
        self._core = self._squeezed[-_CORE_HEX:]
        raw = token.encode()
        # Disguised copies searched for literally: (name, text, case-sensitive?)
        self._variants: tuple[tuple[str, str, bool], ...] = (
            ("base64", base64.b64encode(raw).decode().rstrip("="), True),
            ("base64", base64.b64encode(self._core.encode()).decode().rstrip("="), True),
            ("hex", raw.hex(), False),
            ("reversed", token[::-1].lower(), False),
            ("rot13", codecs.encode(token.lower(), "rot13"), False),
        )

    def embed(self, system_prompt: str) -> str:
        """The system prompt with the canary placed where a leak would carry it along."""
        return f"{system_prompt.rstrip()}\n\n[ref:{self.token}]"

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        text = content.text
        lowered = text.lower()
        at = lowered.find(self.token.lower())
        if at >= 0:
            return [self._finding(at, at + len(self.token), "exact", 1.0)]
        for kind, variant, case_sensitive in self._variants:
            at = (text if case_sensitive else lowered).find(variant)
            if at >= 0:
                return [self._finding(at, at + len(variant), kind, 1.0)]
        squeezed = _NOT_ALNUM.sub("", lowered)
        for needle, how, score in (
            (self._core, "spaced", 1.0),
            (self._core[: _CORE_HEX // 2], "partial", 0.7),
            (self._core[_CORE_HEX // 2 :], "partial", 0.7),
        ):
            at = squeezed.find(needle)
            if at >= 0:
                start, end = _unsqueeze(lowered, at, at + len(needle))
                return [self._finding(start, end, how, score)]
        return []

    def _finding(self, start: int, end: int, how: str, score: float) -> Finding:
        return Finding(
            self.name,
            "canary_leak",
            score,
            (Span(start, end),),
            {"form": how, "replacement": "[REDACTED]"},
        )


def _unsqueeze(lowered: str, start: int, end: int) -> tuple[int, int]:
    """Map offsets in the letters-and-digits-only text back to the text."""
    positions = [m.start() for m in re.finditer(r"[0-9a-z]", lowered)]
    return positions[start], positions[end - 1] + 1


@monitor(
    "canary",
    stages=[Stage.OUTPUT, Stage.REASONING, Stage.TOOL_CALL, Stage.RETRIEVED],
    categories=("canary_leak",),
    config=CanaryConfig,
    description="Per-deployment canary token in the system prompt; detects its leakage",
)
def canary_monitor(config: CanaryConfig) -> CanaryMonitor:
    return CanaryMonitor(config)
