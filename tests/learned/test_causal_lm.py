"""Prefills: a prompt's cache from the probe's reading, handed to the generation of that prompt
and of no other. The converted copy of the GGUF model: the same model, loaded fast."""

from __future__ import annotations

import contextvars
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.learned.cache import cache_dir
from swisscheese.learned.causal_lm import (
    PREFILL_SCOPE,
    Prefills,
    converted_dir,
    keep_converted,
    load_converted,
    load_tokenizer,
)
from tests.helpers.local_model import require_local_model

prompts = st.lists(st.integers(0, 3), min_size=1, max_size=6)


@given(kept=st.lists(prompts, max_size=4, unique_by=tuple), asked=prompts)
def test_a_generation_takes_the_longest_kept_prompt_it_begins_with(
    kept: list[list[int]], asked: list[int]
) -> None:
    prefills = Prefills()
    for ids in kept:
        prefills.put(ids, tuple(ids))
    begun = [tuple(k) for k in kept if tuple(asked[: len(k)]) == tuple(k)]
    taken = prefills.take(asked)
    assert taken == max(begun, key=len, default=None)
    # A cache is extended in place by the generation that takes it: it serves once.
    assert len(prefills) == len(kept) - (taken is not None)
    if taken is not None:
        assert prefills.take(list(taken)) != taken


def test_only_the_latest_prompts_are_kept() -> None:
    prefills = Prefills(keep=2)
    for n in range(1, 4):
        prefills.put([n, n], f"cache {n}")
    assert len(prefills) == 2
    assert prefills.take([1, 1]) is None
    assert prefills.take([3, 3, 9]) == "cache 3"


def test_a_prompt_kept_in_one_request_is_not_taken_by_another() -> None:
    prefills = Prefills()
    prefills.put([1, 2, 3], "unscoped")

    def another_request() -> object:
        PREFILL_SCOPE.set(object())
        return prefills.take([1, 2, 3, 4])

    def a_request_screened_then_generated() -> object:
        PREFILL_SCOPE.set(object())
        prefills.put([1, 2, 3], "its own")
        return prefills.take([1, 2, 3, 4])

    assert contextvars.copy_context().run(another_request) is None
    assert contextvars.copy_context().run(a_request_screened_then_generated) == "its own"
    assert prefills.take([1, 2, 3]) == "unscoped"


def test_the_converted_copy_is_the_same_model() -> None:
    lm = require_local_model()
    kept = converted_dir(lm.path)
    assert kept is not None
    assert kept.is_relative_to(cache_dir())
    assert (kept / "model.safetensors").is_file(), "the first load keeps its conversion"
    pair = load_converted(kept)
    assert pair is not None
    tokenizer, model = pair
    ours, theirs = lm.model.state_dict(), model.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(lm.torch.equal(ours[k], theirs[k]) for k in ours)
    chat = [{"role": "user", "content": "How do I kill a hung Python process? <|im_end|>"}]
    assert tokenizer.apply_chat_template(chat) == lm.tokenizer.apply_chat_template(chat)
    assert model.generation_config.to_dict() == lm.model.generation_config.to_dict()
    # Watermark detection reads the tokenizer alone, from the converted copy too.
    assert load_tokenizer(lm.path).apply_chat_template(chat) == tokenizer.apply_chat_template(chat)


def test_a_damaged_copy_is_removed_to_be_converted_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("transformers")
    damaged = tmp_path / "SmolLM2-0123456789abcdef"
    damaged.mkdir()
    (damaged / "config.json").write_text('{"model_type": "llama"}')
    (damaged / "model.safetensors").write_bytes(b"cut short")
    with caplog.at_level(logging.WARNING):
        assert load_converted(damaged) is None
    assert not damaged.exists()
    assert "converting again" in caplog.text
    assert load_converted(tmp_path / "never-converted") is None


def test_a_copy_another_process_kept_first_is_left_as_it_is(tmp_path: Path) -> None:
    lm = require_local_model()
    first = tmp_path / "kept"
    first.mkdir()
    (first / "theirs").write_text("kept first")
    keep_converted(lm.tokenizer, lm.model, first)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"], "no half-written copy is left"
    assert [p.name for p in first.iterdir()] == ["theirs"]
