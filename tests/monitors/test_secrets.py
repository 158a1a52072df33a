from __future__ import annotations

import pytest

from swisscheese.core import Content, Context
from swisscheese.monitors.secrets import SecretsConfig, SecretsMonitor

MONITOR = SecretsMonitor(SecretsConfig())

SECRETS = {
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_" + "A" * 36,
    "slack": "xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJabcd",
    "stripe": "sk_live_" + "a1B2" * 6,
    "openai": "sk-proj-" + "Ab3" * 20,
    "google": "AIza" + "B" * 35,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "private-key": "-----BEGIN RSA PRIVATE KEY-----",
    "url-password": "postgres://admin:hunter22@db.internal:5432/app",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_is_found_at_its_span(kind: str) -> None:
    secret = SECRETS[kind]
    text = f"config: {secret} end"
    found = MONITOR.inspect_sync(Content(text), Context())
    assert found, kind
    span = found[0].spans[0]
    assert text[span.start : span.end] in secret or secret in text[span.start : span.end]
    assert found[0].detail["replacement"] == "[SECRET]"


@pytest.mark.parametrize(
    "text",
    [
        "The internationalization team shipped containerization support.",
        "https://example.com/docs/getting-started/installation-guide",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Call me at 10:30 about invoice 2024-00017.",
    ],
)
def test_ordinary_text_has_no_secrets(text: str) -> None:
    assert MONITOR.inspect_sync(Content(text), Context()) == []


def test_extra_patterns() -> None:
    monitor = SecretsMonitor(SecretsConfig(extra_patterns={"acme": r"ACME-[0-9]{8}"}))
    (f,) = monitor.inspect_sync(Content("token ACME-12345678"), Context())
    assert f.detail["kind"] == "acme"
