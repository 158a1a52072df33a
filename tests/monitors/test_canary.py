from __future__ import annotations

import base64

import pytest

from swisscheese.core import Content, Context
from swisscheese.monitors.canary import CanaryConfig, CanaryMonitor, derive_token


@pytest.fixture
def canary() -> CanaryMonitor:
    return CanaryMonitor(CanaryConfig(token="sc-0123456789abcdef0123"))  # type: ignore[arg-type]


def forms(token: str) -> dict[str, str]:
    return {
        "exact": f"the ref is {token}.",
        "upper": token.upper(),
        "spaced": " ".join(token),
        "base64": base64.b64encode(token.encode()).decode(),
        "hex": token.encode().hex(),
        "reversed": token[::-1],
        "partial": "leaked 0123456789 only",
    }


@pytest.mark.parametrize("form", sorted(forms("x")))
def test_leaks_are_detected_in_every_form(canary: CanaryMonitor, form: str) -> None:
    text = forms(canary.token)[form]
    (f,) = canary.inspect_sync(Content(text), Context())
    assert f.category == "canary_leak"
    assert f.score >= (0.7 if form == "partial" else 1.0)
    assert 0 <= f.spans[0].start < f.spans[0].end <= len(text)


def test_no_leak(canary: CanaryMonitor) -> None:
    assert canary.inspect_sync(Content("A normal answer about 0x1234."), Context()) == []


def test_embed_places_the_token(canary: CanaryMonitor) -> None:
    assert canary.token in canary.embed("You are a bot.")


def test_secret_derived_tokens_agree_across_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWISSCHEESE_CANARY_SECRET", "s3cret")
    a, b = CanaryMonitor(CanaryConfig()), CanaryMonitor(CanaryConfig())
    assert a.token == b.token == derive_token("s3cret", "swisscheese-canary")
    monkeypatch.delenv("SWISSCHEESE_CANARY_SECRET")
    assert CanaryMonitor(CanaryConfig()).token != CanaryMonitor(CanaryConfig()).token
