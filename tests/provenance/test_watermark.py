"""Watermark detection over token ids: calibrated without the watermark, found with it (also
inside longer unmarked text), never fooled by repetition, exact in its p-values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.provenance.watermark import (
    SCHEMES,
    Watermark,
    WatermarkConfig,
    WatermarkError,
    binomial_sf,
    detection_report,
)

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
VOCAB = 5000


def generate(watermark: Watermark, n: int, seed: int) -> list[int]:
    """Tokens from a stand-in language model (random peaked distributions over VOCAB), with
    the watermark applied the way the logits processor applies it."""
    rng = np.random.default_rng(seed)
    vocab, hashes = watermark.vocab_tables(VOCAB)
    tokens = [int(t) for t in rng.integers(0, VOCAB, watermark.config.context)]
    for _ in range(n):
        logits = rng.standard_normal(VOCAB) * 3
        context = np.array(tokens[-watermark.config.context :])
        if watermark.config.scheme == "kgw":
            logits = logits + watermark.config.delta * watermark.green_mask(context, vocab, hashes)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        if watermark.config.scheme == "synthid":
            p = watermark.tournament(p, context, hashes)
        tokens.append(int(rng.choice(VOCAB, p=p)))
    return tokens


@pytest.mark.parametrize("scheme", SCHEMES)
def test_unmarked_text_is_flagged_at_the_nominal_rate(scheme: str) -> None:
    watermark = Watermark(KEY, WatermarkConfig(scheme=scheme))  # type: ignore[arg-type]
    rng = np.random.default_rng(7)
    p_values = np.array(
        [watermark.detect(rng.integers(0, 49152, 150)).p_value for _ in range(2000)]
    )
    # The binomial test is exact but discrete, so conservative: at most the nominal rate.
    assert np.mean(p_values < 0.05) <= 0.05 + 0.015
    assert np.mean(p_values < 0.01) <= 0.01 + 0.007


@pytest.mark.parametrize("scheme", SCHEMES)
def test_marked_text_is_found_only_with_its_key(scheme: str) -> None:
    watermark = Watermark(KEY, WatermarkConfig(scheme=scheme))  # type: ignore[arg-type]
    tokens = generate(watermark, 200, seed=1)
    assert watermark.detect(tokens).p_value < 1e-10
    assert Watermark(OTHER, watermark.config).detect(tokens).p_value > 1e-3


@pytest.mark.parametrize("scheme", SCHEMES)
def test_marked_text_pasted_into_three_times_as_much_human_text(scheme: str) -> None:
    watermark = Watermark(KEY, WatermarkConfig(scheme=scheme))  # type: ignore[arg-type]
    rng = np.random.default_rng(3)
    marked = generate(watermark, 150, seed=2)
    text = [*rng.integers(0, VOCAB, 225).tolist(), *marked, *rng.integers(0, VOCAB, 225).tolist()]
    windowed = watermark.detect_windows(text)
    assert windowed.p_value < 1e-6
    start, end = windowed.span
    assert start >= 150
    assert end <= 450
    report = detection_report(watermark, text)
    assert report["watermarked"]
    assert report["p_value"] == windowed.p_value


@pytest.mark.parametrize("scheme", SCHEMES)
def test_twenty_percent_of_tokens_replaced_still_detects(scheme: str) -> None:
    watermark = Watermark(KEY, WatermarkConfig(scheme=scheme))  # type: ignore[arg-type]
    tokens = np.array(generate(watermark, 200, seed=4))
    rng = np.random.default_rng(5)
    edit = rng.choice(len(tokens), len(tokens) // 5, replace=False)
    tokens[edit] = rng.integers(0, VOCAB, len(edit))
    assert watermark.detect(tokens).p_value < 1e-4


@settings(max_examples=50, deadline=None)
@given(
    unit=st.lists(st.integers(0, 49151), min_size=1, max_size=12),
    repeats=st.integers(2, 200),
    scheme=st.sampled_from(SCHEMES),
)
def test_repeating_text_adds_no_evidence(unit: list[int], repeats: int, scheme: str) -> None:
    """A phrase repeated any number of times is scored as its distinct (context, token) pairs:
    the count of scored pairs cannot grow with the repetitions."""
    watermark = Watermark(KEY, WatermarkConfig(scheme=scheme))  # type: ignore[arg-type]
    once = watermark.detect(unit * 2 + unit[:4])
    many = watermark.detect(unit * repeats + unit[:4])
    assert many.scored <= len(unit) + watermark.config.context
    assert many.scored <= max(once.scored, len(unit))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 400), k=st.integers(0, 401), p=st.sampled_from([0.25, 0.5, 0.1]))
def test_the_binomial_tail_is_exact(n: int, k: int, p: float) -> None:
    from fractions import Fraction
    from math import comb

    q = Fraction(p)  # the reference in exact rationals: float sums lose digits deep in the tail
    exact = sum(comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(max(k, 0), n + 1))
    # Relative error within 1e-6 even at 1e-290, far below any alpha a detector uses.
    assert binomial_sf(k, n, p) == pytest.approx(min(1.0, float(exact)), rel=1e-6, abs=1e-300)


def test_bad_keys_configurations_and_inputs_are_refused() -> None:
    with pytest.raises(WatermarkError, match="32 bytes"):
        Watermark(b"short")
    with pytest.raises(WatermarkError, match="unknown scheme"):
        WatermarkConfig(scheme="nope")  # type: ignore[arg-type]
    with pytest.raises(WatermarkError, match="non-negative"):
        Watermark(KEY).detect([1, 2, -3, 4, 5, 6])
    short = Watermark(KEY).detect([1, 2, 3])
    assert short.scored == 0
    assert short.p_value == 1.0
