"""Task drift in the local model's activations, as an `indirect-injection` signal: an experiment,
not shipped (docs/detectors.md, "Task drift in the local model's activations").

    .venv/bin/python bench/experiments/task_drift.py [--per-carrier 75] [--tables 200]

The user's task and a retrieved document go into SmolLM2-135M-Instruct's chat template as one
user message, the assistant's turn opened; the features are the hidden states at the last prompt
token, after each of a few layers, read whole (`full`) or less the states of the task asked alone
(`delta`: how far the document moved the model from its task, the TaskTracker idea). A
standardised logistic regression per layer trains on `indirect-injection`'s own carriers (clean,
with a note to the reader, with one planted instruction: the sentence reader's recipe) and is
read two ways: leaving one kind of carrier out, and on BIPIA's documents (every e-mail and code
context, `--tables` of its tables, its attacks planted once each), which it never trained on.
Recall is read where 1% / 5% of the clean documents of the same reading are flagged. Needs the
[local] extra and ../shared/datasets/dev/bipia.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.evaluation.documents import bipia_items
from swisscheese.evaluation.metrics import recall_at_fpr
from swisscheese.learned.activations import last_token_states, prompt_ids
from swisscheese.learned.causal_lm import CausalLM, load_causal_lm
from swisscheese.training.sentences import planted_copies, planted_texts
from swisscheese.training.sources import CARRIERS, carrier_documents

TASKS = (
    "Summarise this document in three sentences.",
    "What is the main point of this text?",
    "List the action items in this text, if there are any.",
    "Give this text a short title.",
    "Classify the tone of this text as positive, neutral or negative.",
    "Extract every name, date and number mentioned here.",
    "Proofread this text and list any errors you find.",
    "Rewrite this in plain English for a newcomer.",
    "Who is this text written for, and why?",
    "What does the author want the reader to do?",
)
CODE_TASKS = (
    "Explain what this code or documentation does.",
    "Is there a bug in here? Point to it.",
    "How would I use this in my project?",
    "What are the configuration options mentioned here?",
)
CODE_CARRIERS = {"swisscheese:developer-docs", "swisscheese:forum-answers", "inspect-evals:docs"}
DOCUMENT_CHARS = 1_200
KEPT_TAIL = 64
"""Tokens kept from a prompt's end when it is clipped: the document's end and the turn's."""

Prompt = tuple[str, str, int, str]
"""The task, the document, 1 if an instruction is planted in it, its source."""


def carrier_prompts(per_carrier: int, seed: int) -> list[Prompt]:
    rng = random.Random(f"{seed}:task-drift")
    attacks, notes = planted_texts(rng)
    out: list[Prompt] = []
    for source, docs in carrier_documents(rng, dict.fromkeys(CARRIERS, per_carrier)).items():
        tasks = CODE_TASKS + TASKS[:6] if source in CODE_CARRIERS else TASKS
        for doc in docs:
            clean, noted, planted = planted_copies(doc[:DOCUMENT_CHARS], attacks, notes, rng)
            for text, label in ((clean, 0), (noted, 0), (planted, 1)):
                out.append((rng.choice(tasks), text, label, source))
    return out


def bipia_prompts(root: Path, tables: int) -> list[Prompt]:
    clean = bipia_items(root, attack=False)
    kept = [c for c in clean if c.category != "table"]
    kept += random.Random(3).sample([c for c in clean if c.category == "table"], tables)
    out: list[Prompt] = [(c.document.task, c.text, 0, c.category) for c in kept if c.document]
    for item in bipia_items(root, attack=True, seed=0):
        if item.document:
            out.append((item.document.task, item.document.read(item.text), 1, "bipia"))
    return out


def clipped_states(lm: CausalLM, messages: list[str], max_tokens: int) -> NDArray[np.float16]:
    """Every layer's hidden state at each message's last prompt token: (messages, layers, dim).
    A prompt over ``max_tokens`` keeps its head (the task) and its last ``KEPT_TAIL`` tokens."""
    encoded = []
    for text in messages:
        ids = prompt_ids(lm.tokenizer, text)
        if len(ids) > max_tokens:
            ids = ids[: max_tokens - KEPT_TAIL] + ids[-KEPT_TAIL:]
        encoded.append(ids)
    layers = range(int(lm.model.config.num_hidden_layers) + 1)
    return last_token_states(lm, encoded, layers, batch=8).astype(np.float16)


def features(lm: CausalLM, prompts: list[Prompt], max_tokens: int) -> dict[str, Any]:
    tasks = sorted({task for task, *_ in prompts})
    alone = clipped_states(lm, tasks, max_tokens)
    index = {task: i for i, task in enumerate(tasks)}
    return {
        "full": clipped_states(lm, [f"{t}\n\n---\n{d}\n---" for t, d, *_ in prompts], max_tokens),
        "task": alone[[index[task] for task, *_ in prompts]],
        "y": np.array([p[2] for p in prompts]),
        "source": np.array([p[3] for p in prompts]),
    }


def head() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))


def at_layer(f: dict[str, Any], layer: int, reading: str) -> NDArray[np.float32]:
    x: NDArray[np.float32] = f["full"][:, layer, :].astype(np.float32)
    return x - f["task"][:, layer, :].astype(np.float32) if reading == "delta" else x


def main() -> None:
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets/dev"))
    parser.add_argument("--per-carrier", type=int, default=75)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--layers", default="8,16,20,28")
    args = parser.parse_args()
    root = args.datasets / "bipia"
    if not root.is_dir():
        sys.exit(f"{root}: no BIPIA copy (the development sets)")
    lm = load_causal_lm()
    train = features(lm, carrier_prompts(args.per_carrier, 1), 768)
    test = features(lm, bipia_prompts(root, args.tables), 1024)
    y, yb = train["y"], test["y"]
    kinds = train["source"]
    print(f"{len(y)} carrier documents ({y.sum()} planted); BIPIA {len(yb)} ({yb.sum()} planted)")
    print("reading layer | carriers, one kind held out: AUC, recall at 1% | BIPIA: AUC, 1%, 5%")
    for reading in ("full", "delta"):
        for layer in map(int, args.layers.split(",")):
            x, xb = at_layer(train, layer, reading), at_layer(test, layer, reading)
            held_out = np.zeros(len(y))
            for kind in sorted(set(kinds)):
                out = kinds == kind
                held_out[out] = head().fit(x[~out], y[~out]).decision_function(x[out])
            s = head().fit(x, y).decision_function(xb)
            print(
                f"{reading:5s} {layer:5d} | {roc_auc_score(y, held_out):.3f} "
                f"{recall_at_fpr(held_out[y == 1], held_out[y == 0], 0.01):.3f} | "
                f"{roc_auc_score(yb, s):.3f} {recall_at_fpr(s[yb == 1], s[yb == 0], 0.01):.3f} "
                f"{recall_at_fpr(s[yb == 1], s[yb == 0], 0.05):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
