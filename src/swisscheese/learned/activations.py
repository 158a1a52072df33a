"""The probe tier's features: what the embedded local model computes about a prompt.

A prompt is put in the model's chat template as the user's message, with the assistant's turn
opened, as the gateway would send it; the hidden state of the last prompt token after one late
layer is the feature vector. That token is where the model has read the whole request and is
about to decide how to answer, which is what a probe for harmful intent wants to read.
Linear heads over these vectors (``LinearDetector`` with ``PROBE`` features) are the seeds'
third kind of monitor: one that reads the model's internal computation, not its text.

When something generates with the model (the gateway serving it), a prompt read alone keeps its
key/value cache for that generation (``CausalLM.prefills``): the probe's pass is then the
prefill the model needed anyway, and costs almost nothing extra.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned.causal_lm import CausalLM, load_causal_lm, pad_token_id

__all__ = [
    "MAX_PROMPT_TOKENS",
    "PROBE_LAYER",
    "ActivationReader",
    "last_token_states",
    "prompt_ids",
]

PROBE_LAYER = 28
"""Of SmolLM2-135M's 30: the best of layers 4-28 (every fourth) in leave-one-source-out
cross-validation on harmful requests; the middle layers did worse (docs/detectors.md)."""
MAX_PROMPT_TOKENS = 512
"""Longer prompts are read from their last MAX_PROMPT_TOKENS tokens: the request's end, where the
ask usually is, stays; the cost stays bounded."""


class ActivationReader:
    """Hidden states of the local model; thread-safe; one per process (``shared()``)."""

    _shared: ActivationReader | None = None
    _lock = threading.Lock()

    def __init__(self, model: CausalLM | None = None, *, layer: int = PROBE_LAYER) -> None:
        self._lm = model or load_causal_lm()
        layers = int(self._lm.model.config.num_hidden_layers)
        if not 0 < layer <= layers:
            raise ValueError(f"layer {layer}: the model has layers 1..{layers}")
        self.layer = layer
        self.dim = int(self._lm.model.config.hidden_size)

    @classmethod
    def shared(cls, path: Path | None = None) -> ActivationReader:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls(load_causal_lm(path))
            return cls._shared

    def _ids(self, text: str) -> list[int]:
        return prompt_ids(self._lm.tokenizer, text)

    def read(
        self, texts: list[str], *, batch: int = 16, keep_cache: bool = False
    ) -> NDArray[np.float32]:
        """One vector per text: the hidden state after ``layer`` at the last prompt token.
        ``keep_cache``: one text, a user's message the model may be asked next; its cache is
        kept for that generation when something generates with the model."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        encoded = [self._ids(t) for t in texts]
        # A clipped prompt is not the one the model would be asked: its cache is of no use.
        keep = keep_cache and self._lm.prefills.enabled and len(encoded) == 1
        if keep and 1 < len(encoded[0]) <= MAX_PROMPT_TOKENS:
            return self._read_keeping_cache(encoded[0])
        return self._read_batches([ids[-MAX_PROMPT_TOKENS:] for ids in encoded], batch)

    def read_prefixes(
        self, text: str, ends: Sequence[int], *, keep_cache: bool = False
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], list[int]]:
        """``text``'s vector as ``read`` gives it, and the vector of each prompt the message
        cut at one of ``ends`` (character offsets) would make, with the ends read: one pass
        over the prompt, then the template's closing tokens after each cut, all in one row over
        the pass's cache with what follows each cut masked (a few tokens each, not a pass each).
        A cut inside a token is read at the token's end; cuts before a long prompt's last
        ``MAX_PROMPT_TOKENS`` tokens, or at its end, are not read."""
        ids = self._ids(text)
        cuts = _cut_positions(self._lm.tokenizer, text, ids, ends)
        start = max(0, len(ids) - MAX_PROMPT_TOKENS)
        kept = [(end, at - start) for end, at in cuts if at - start > 0]
        whole, cache = self._pass(ids[start:])
        states = np.zeros((0, self.dim), np.float32)
        if kept:
            closing = ids[len(ids) - _closing_length(self._lm.tokenizer) :]
            states = self._read_cuts(cache, [at for _, at in kept], closing)
        if keep_cache and self._lm.prefills.enabled and start == 0 and len(ids) > 1:
            self._keep(ids, cache)
        return whole, states, [end for end, _ in kept]

    def _read_cuts(self, cache: Any, cuts: list[int], closing: list[int]) -> NDArray[np.float32]:
        """The closing tokens after every cut, in one row over the prompt's cache: each cut's
        tokens see the prompt up to the cut and their own earlier tokens, nothing else (a 4-D
        mask), at the positions they would have. One pass, not a batch of rows over copies of
        the cache, which cost about twice as much; the tokens it appends are cropped off, so
        the cache is the prompt's again for the next use (a generation, when it is kept)."""
        torch, lm = self._lm.torch, self._lm
        n, width = len(cuts), len(closing)
        length = cache.get_seq_length()
        seen = torch.zeros((n * width, length + n * width), dtype=torch.bool)
        steps = torch.ones((width, width), dtype=torch.bool).tril()
        for i, at in enumerate(cuts):
            rows = slice(i * width, (i + 1) * width)
            seen[rows, :at] = True
            seen[rows, length + i * width : length + (i + 1) * width] = steps
        dtype = lm.model.dtype
        mask = torch.zeros(seen.shape, dtype=dtype).masked_fill(~seen, torch.finfo(dtype).min)
        positions = torch.tensor(cuts).unsqueeze(1) + torch.arange(width)
        with torch.inference_mode():
            hidden = lm.model.base_model(
                input_ids=torch.tensor([closing * n]),
                attention_mask=mask[None, None],
                position_ids=positions.reshape(1, -1),
                use_cache=True,
                output_hidden_states=True,
                **{lm.cache_keyword: cache},
            ).hidden_states
        cache.crop(-n * width)
        states: NDArray[np.float32] = hidden[self.layer][0, width - 1 :: width, :].float().numpy()
        return states

    def _read_keeping_cache(self, ids: list[int]) -> NDArray[np.float32]:
        """One whole prompt's vector, its cache kept for the generation that follows."""
        whole, cache = self._pass(ids)
        self._keep(ids, cache)
        return whole[None, :]

    def _pass(self, ids: list[int]) -> tuple[NDArray[np.float32], Any]:
        """One prompt's vector and its key/value cache."""
        torch = self._lm.torch
        with torch.inference_mode():
            out = self._lm.model.base_model(
                input_ids=torch.tensor([ids]), use_cache=True, output_hidden_states=True
            )
        whole = out.hidden_states[self.layer][0, -1, :].float().numpy()
        return whole, out[self._lm.cache_keyword]

    def _keep(self, ids: list[int], cache: Any) -> None:
        cache.crop(-1)  # the last token is generation's first step
        self._lm.prefills.put(ids, cache)

    def _read_batches(self, encoded: list[list[int]], batch: int) -> NDArray[np.float32]:
        return last_token_states(self._lm, encoded, (self.layer,), batch)[:, 0, :]


def prompt_ids(tokenizer: Any, text: str) -> list[int]:
    """The prompt as the model is asked it: the user's message, the assistant's turn open."""
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return [int(i) for i in ids]


@functools.cache
def _closing_length(tokenizer: Any) -> int:
    """How many tokens the chat template puts after the user's message (its end, the
    assistant's turn opened)."""
    mark = "\x00"
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": mark}], add_generation_prompt=True, tokenize=False
    )
    after = str(rendered).split(mark, 1)[1]
    return len(tokenizer(after, add_special_tokens=False)["input_ids"])


def _cut_positions(
    tokenizer: Any, text: str, ids: list[int], ends: Sequence[int]
) -> list[tuple[int, int]]:
    """``(end, tokens)`` for each cut of ``text`` at a character offset in ``ends``: how many of
    the prompt's ``ids`` a prompt cut there begins with; none at or past the message's last
    token, and none at all where the message's tokens do not stand in the prompt as they stand
    alone (a template that rewrites the message)."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    tokens, offsets = list(encoded["input_ids"]), encoded["offset_mapping"]
    head = len(ids) - _closing_length(tokenizer) - len(tokens)
    if head < 0 or ids[head : head + len(tokens)] != tokens:
        return []
    stops = [stop for _, stop in offsets]
    cuts = []
    for end in sorted(set(ends)):
        inside = bisect.bisect_left(stops, end)  # the token that holds character end - 1
        if end > 0 and inside < len(tokens) - 1:
            cuts.append((end, head + inside + 1))
    return cuts


def last_token_states(
    lm: CausalLM, encoded: list[list[int]], layers: Sequence[int], batch: int = 16
) -> NDArray[np.float32]:
    """The hidden states after each of ``layers`` at each encoded prompt's last token:
    (prompts, layers, dim)."""
    torch = lm.torch
    dim = int(lm.model.config.hidden_size)
    out = np.zeros((len(encoded), len(layers), dim), np.float32)
    pad = pad_token_id(lm.tokenizer)
    # Prompts of like length share a batch; left padding puts every last token at -1.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            picked = order[start : start + batch]
            width = max(len(encoded[i]) for i in picked)
            ids = torch.full((len(picked), width), pad, dtype=torch.long)
            mask = torch.zeros((len(picked), width), dtype=torch.long)
            for row, i in enumerate(picked):
                n = len(encoded[i])
                ids[row, width - n :] = torch.tensor(encoded[i])
                mask[row, width - n :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            # The transformer without its language-model head: a probe needs no logits, and
            # projecting every position onto the vocabulary is a fifth of the cost.
            hidden = lm.model.base_model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=False,
                output_hidden_states=True,
            ).hidden_states
            out[picked] = torch.stack([hidden[k][:, -1, :] for k in layers], 1).float().numpy()
    return out
