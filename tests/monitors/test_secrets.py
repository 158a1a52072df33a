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


def _pem(kind: str = "RSA ") -> str:
    body = "\n".join(
        ("MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy" + "0AHB7MhgwMbRvI0MBZhp" + str(i))[:64]
        for i in range(10)
    )
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\nA1b2C3d4==\n-----END {kind}PRIVATE KEY-----"


def _redacted(text: str) -> str:
    from swisscheese.policy import redact

    found = MONITOR.inspect_sync(Content(text), Context())
    return redact(text, found)


@pytest.mark.parametrize("kind", ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "])
def test_a_private_key_is_redacted_whole_not_only_its_begin_line(kind: str) -> None:
    key = _pem(kind)
    out = _redacted(f"Here is the key:\n{key}\nKeep it safe.")
    assert out == "Here is the key:\n[SECRET]\nKeep it safe."


def test_a_key_in_service_account_json_is_redacted_with_its_id() -> None:
    key = _pem("").replace("\n", "\\n")
    blob = (
        '{"type": "service_account", "private_key_id": "' + "ab12" * 10 + '", '
        f'"private_key": "{key}\\n", "client_email": "x@p.iam.gserviceaccount.com"}}'
    )
    out = _redacted(blob)
    assert "ab12ab12" not in out
    assert "MIIEowIBAAKC" not in out


def test_a_key_cut_off_mid_stream_is_redacted_to_the_end() -> None:
    key = _pem()[:300]
    assert _redacted(f"ok {key}") == "ok [SECRET]"


def test_key_lines_without_their_begin_line_are_caught() -> None:
    tail = "\n".join(_pem().splitlines()[3:])
    out = _redacted(f"...\n{tail}\n")
    assert "MIIEowIBAAKC" not in out


def test_the_aws_secret_beside_its_key_id_is_redacted_too() -> None:
    text = "The key is AKIAIOSFODNN7EXAMPLE with secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert _redacted(text) == "The key is [SECRET] with secret [SECRET]"


def test_a_git_commit_hash_near_the_word_secret_is_not_a_secret() -> None:
    text = "The secret fix landed in 3f786850e387550fdab836ed7e6dc881de23001b yesterday."
    assert _redacted(text) == text


def test_azure_connection_string_keys_are_redacted() -> None:
    text = (
        "DefaultEndpointsProtocol=https;AccountName=acct;"
        "AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=;EndpointSuffix=core"
    )
    out = _redacted(text)
    assert "Zm9vYmFy" not in out
    assert "AccountName=acct" in out
