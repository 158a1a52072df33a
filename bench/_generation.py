"""Text for the provenance benches: human texts that installed packages ship, prompts, and
answers sampled from the embedded model."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).parent / relative


def human_texts(n: int, rng: random.Random) -> list[str]:
    chat = json.loads(package_file("chitchat-dataset", "chitchat_dataset/dataset.json").read_text())
    texts = [
        " ".join(" ".join(m["text"] for m in group) for group in convo["messages"])
        for convo in chat.values()
    ]
    bench = package_file("inspect-evals", "inspect_evals/writingbench/benchmark_all.jsonl")
    texts += [json.loads(line)["query"] for line in bench.read_text().splitlines() if line]
    texts = [t for t in texts if len(t.split()) >= 30]
    rng.shuffle(texts)
    return texts[:n]


def prompts(n: int, rng: random.Random) -> list[str]:
    bench = package_file("inspect-evals", "inspect_evals/writingbench/benchmark_all.jsonl")
    asks = [json.loads(line)["query"] for line in bench.read_text().splitlines() if line]
    asks = [a for a in asks if len(a) < 400]
    openers = [
        "Tell me about your favourite season and why.",
        "Describe a busy market in the morning.",
        "Explain how a bicycle gear system works.",
        "Write a short story about a lighthouse keeper.",
        "What should I pack for a week of hiking?",
    ]
    chosen = rng.sample(asks, min(n, len(asks)))
    return [*chosen, *(openers * n)][:n]


def generate(
    lm: Any,
    asks: list[str],
    tokens: int,
    batch: int,
    processors: Any,
    *,
    temperature: float = 0.7,
    min_tokens: int | None = None,
) -> list[str]:
    """The model's answers to ``asks`` (``tokens`` new tokens each, at least ``min_tokens``)."""
    tok, model, torch = lm.tokenizer, lm.model, lm.torch
    tok.padding_side = "left"
    out: list[str] = []
    for start in range(0, len(asks), batch):
        chats = [
            tok.apply_chat_template(
                [{"role": "user", "content": a}], add_generation_prompt=True, tokenize=False
            )
            for a in asks[start : start + batch]
        ]
        enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(start)
        with torch.inference_mode():
            ids = model.generate(
                **enc, max_new_tokens=tokens, do_sample=True, temperature=temperature,
                min_new_tokens=tokens if min_tokens is None else min_tokens,
                pad_token_id=tok.eos_token_id, logits_processor=processors,
            )  # fmt: skip
        new = ids[:, enc["input_ids"].shape[1] :]
        out.extend(tok.batch_decode(new, skip_special_tokens=True))
    return out
