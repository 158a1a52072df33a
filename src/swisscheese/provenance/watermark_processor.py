"""The watermark applied while the local model samples: a transformers logits processor.

Needs the ``[local]`` extra (torch). The keyed tables over the vocabulary are built once per
processor; each step costs one vectorised pass over the vocabulary per sequence in the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from swisscheese.provenance.watermark import Watermark


class WatermarkLogitsProcessor:
    """kgw adds ``delta`` to the green tokens' logits; synthid replaces the distribution by the
    tournament's (returned as log-probabilities, so sampling and greedy decoding both see it)."""

    def __init__(self, watermark: Watermark) -> None:
        self.watermark = watermark
        self._tables: dict[int, tuple[Any, Any]] = {}

    def _vocab(self, size: int) -> tuple[Any, Any]:
        if size not in self._tables:
            self._tables[size] = self.watermark.vocab_tables(size)
        return self._tables[size]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        config = self.watermark.config
        vocab, vocab_hashes = self._vocab(int(scores.shape[-1]))
        out = scores.clone()
        contexts = input_ids[:, -config.context :].cpu().numpy().astype(np.int64)
        for row in range(scores.shape[0]):
            if config.scheme == "kgw":
                mask = self.watermark.green_mask(contexts[row], vocab, vocab_hashes)
                out[row, torch.from_numpy(mask)] += config.delta
            else:
                probs = torch.softmax(scores[row].double(), dim=-1).cpu().numpy()
                p = self.watermark.tournament(probs, contexts[row], vocab_hashes)
                with np.errstate(divide="ignore"):  # zero probability stays -inf
                    out[row] = torch.from_numpy(np.log(p)).to(scores.dtype)
        return out
