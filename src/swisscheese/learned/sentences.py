"""Off-task instructions: a sentence of a retrieved document that reads as an instruction to the
assistant and has nothing to do with the document around it.

An attacker who plants an ordinary request in an e-mail or a table ("What is the capital of
Brazil?", "Draft an essay on climate change") writes nothing a bag of n-grams can hold against
it: read alone, it is what users ask every day. What gives it away is where it stands. This
tier reads a document sentence by sentence (lines and table cells count as sentences): the
detector's fast head says how much each one reads like an instruction to the assistant, and the
encoder says how close each of the likeliest few is to the rest of the document around it
(cosine of its embedding with the normalised sum of the others'). A sentence's evidence is
``logit(instruction) - weight * relation``; the document's is its strongest sentence's, turned
into a calibrated probability. The weight, the calibration and the thresholds come from
``swisscheese train DETECTOR --tier sentences``; the fast head is the model file beside this
one, pinned by digest.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from swisscheese.learned.ensemble import (
    check_pinned,
    logit,
    read_model_json,
    sigmoid,
    write_model_json,
)
from swisscheese.learned.model import EMBEDDING, LinearDetector, model_filename

__all__ = [
    "CHUNK_CHARS",
    "MIN_CONTEXT",
    "SCHEMA",
    "WRAPPED_LINE_CHARS",
    "Reading",
    "SentenceReader",
    "chunks",
    "evidence",
    "read",
    "relations",
    "sentence_spans",
]

SCHEMA = "swisscheese.sentences/1"
_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*|\s*\|\s*")
_WRAPPED = re.compile(r"[ \t\r]*\n[ \t]*")
"""One line break, inside a sentence when a long line ends in a word or comma before it and a
lower-case letter follows: prose wrapped at a fixed width ("... run it when you\nneed it")."""
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n]*)", re.MULTILINE)
"""A line that opens or closes a Markdown code block: the fence, then the rest of the line."""
WRAPPED_LINE_CHARS = 40
"""Shorter lines (a heading, a code fence, a line of code) end where they end."""
MIN_CHARS = 4
MAX_SENTENCE_CHARS = 400
"""A longer run without a break (a minified line, a paragraph with no full stop) is read in
pieces this long."""
CHUNK_CHARS = 3_000
"""Sentences are related to the others of their chunk: a page of context, read in one pass."""
MAX_SENTENCES = 60
"""Per chunk; bounds one pass of the encoder."""
MAX_CHUNKS = 8
"""Bounds the cost of a huge document: the first chunks and the last are read."""

Encode = Callable[[list[str]], NDArray[np.float32]]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence, line or table cell of ``text``, in order, without the
    whitespace around it (a sentence wrapped over lines is one); pieces shorter than
    ``MIN_CHARS`` are left out. A fenced code block is one piece with the sentence just before
    it, which introduces it: "Make sure your implementation includes this:" says nothing alone,
    and neither does a line of the code it asks for."""
    spans: list[tuple[int, int]] = []
    start = 0
    for block_start, block_end in _code_blocks(text):
        spans += _prose_spans(text, start, block_start)
        lead = block_start
        if spans and spans[-1][0] >= start and not text[spans[-1][1] : block_start].strip():
            lead = spans.pop()[0]
        _add(text, lead, block_end, spans)
        start = block_end
    return spans + _prose_spans(text, start, len(text))


def _code_blocks(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each fenced code block, fences included, as Markdown has them: a
    fence line with a line after it, closed by the next line that holds a fence of the same
    character, at least as long, and nothing else; an opening fence never closed is no block.
    Each opening fence looks its close up among the closing lines, so a page of unclosed fences
    costs about what its length does (a regular expression that scanned on from each one to
    seek its close took 9 s for 80 KB of them)."""
    fences = list(_FENCE.finditer(text))
    # Closing lines by fence character and length, each list in document order.
    closers: dict[tuple[str, int], list[int]] = {}
    for i, m in enumerate(fences):
        if not m.group(2).strip(" \t"):
            closers.setdefault((m.group(1)[0], len(m.group(1))), []).append(i)
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(fences):
        opening = fences[i]
        char, length = opening.group(1)[0], len(opening.group(1))
        closes = [
            later[k]
            for (c, n), later in closers.items()
            if c == char and n >= length and (k := bisect_right(later, i)) < len(later)
        ]
        if opening.end() < len(text) and closes:
            close = min(closes)
            blocks.append((opening.start(), fences[close].end()))
            i = close + 1
        else:
            i += 1
    return blocks


def _prose_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _BREAK.finditer(text, start, end):
        if _wrapped(text, m):
            continue
        _add(text, start, m.start(), spans)
        start = m.end()
    _add(text, start, end, spans)
    return spans


def _wrapped(text: str, m: re.Match[str]) -> bool:
    """A line break that only wraps a sentence: reading each line alone would score the
    fragments ("when you") as instructions out of their context."""
    before, after = m.start() - 1, m.end()
    line_start = text.rfind("\n", 0, m.start()) + 1
    return (
        _WRAPPED.fullmatch(m.group()) is not None
        and m.start() - line_start >= WRAPPED_LINE_CHARS
        and after < len(text)
        and (text[before].isalpha() or text[before] == ",")
        and text[after].islower()
    )


def _add(text: str, start: int, end: int, into: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    for s in range(start, end, MAX_SENTENCE_CHARS):
        e = min(s + MAX_SENTENCE_CHARS, end)
        if e - s >= MIN_CHARS:
            into.append((s, e))


def chunks(spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive sentences in chunks of at most ``CHUNK_CHARS`` characters and
    ``MAX_SENTENCES`` sentences; at most ``MAX_CHUNKS`` chunks, the first ones and the last."""
    out: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for span in spans:
        if current and (span[1] - current[0][0] > CHUNK_CHARS or len(current) >= MAX_SENTENCES):
            out.append(current)
            current = []
        current.append(span)
    if current:
        out.append(current)
    if len(out) > MAX_CHUNKS:
        out = out[: MAX_CHUNKS - 1] + out[-1:]
    return out


MIN_CONTEXT = 4
"""Fewer sentences than this are too little document to stand apart from: a short tool result,
or a decoded view that is the planted text alone. They are read without the relation (0), as
the fast head reads them, never discounted."""


def relations(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Each row's cosine with the normalised sum of the other rows (rows unit-length), at least
    0: a sentence at odds with its document is as unrelated to it as one about something else,
    and never more of an instruction for it. So relation only ever lowers a sentence's evidence,
    which is what lets ``read`` leave out chunks that cannot matter. 0 for every row of fewer
    than ``MIN_CONTEXT``."""
    if len(vectors) < MIN_CONTEXT:
        return np.zeros(len(vectors), dtype=np.float32)
    rest = vectors.sum(axis=0, keepdims=True) - vectors
    rest /= np.linalg.norm(rest, axis=1, keepdims=True) + 1e-9
    out: NDArray[np.float32] = np.maximum((vectors * rest).sum(axis=1), 0.0).astype(np.float32)
    return out


def evidence(
    instruction: NDArray[np.float64], relation: NDArray[np.float32], weight: float
) -> NDArray[np.float64]:
    """Each sentence's evidence of being an off-task instruction."""
    p = np.clip(instruction, 1e-7, 1 - 1e-7)
    out: NDArray[np.float64] = np.log(p / (1 - p)) - weight * relation
    return out


@dataclass(frozen=True)
class Reading:
    """What the tier read in one document: each candidate sentence's span, instruction score
    and relation to the rest of its chunk."""

    spans: list[tuple[int, int]]
    instruction: NDArray[np.float64]
    relation: NDArray[np.float32]

    def strongest(self, weight: float) -> tuple[float, tuple[int, int] | None]:
        if not self.spans:
            return -math.inf, None
        e = evidence(self.instruction, self.relation, weight)
        i = int(np.argmax(e))
        return float(e[i]), self.spans[i]


def read(
    text: str, head: LinearDetector, encode: Encode, candidates: int, *, floor: float = 0.0
) -> Reading:
    """The ``candidates`` likeliest instructions of each chunk of ``text``, each related to the
    rest of its chunk. One encoder pass per chunk, over its sentences; none for a chunk too short
    to relate, or whose likeliest instruction scores below ``floor`` (its sentences are left
    unrelated, 0: relation could only lower them further)."""
    spans: list[tuple[int, int]] = []
    instruction: list[float] = []
    relation: list[NDArray[np.float32]] = []
    for chunk in chunks(sentence_spans(text)):
        sentences = [text[s:e] for s, e in chunk]
        scores = np.array([head.predict(s).score for s in sentences])
        picked = np.argsort(-scores, kind="stable")[:candidates]
        if len(chunk) < MIN_CONTEXT or scores[picked[0]] < floor:
            rel = np.zeros(len(picked), dtype=np.float32)
        else:
            rel = relations(encode(sentences))[picked]
        spans += [chunk[int(i)] for i in picked]
        instruction += [float(scores[int(i)]) for i in picked]
        relation.append(rel)
    return Reading(
        spans,
        np.array(instruction, dtype=np.float64),
        np.concatenate(relation) if relation else np.zeros(0, np.float32),
    )


@dataclass(frozen=True)
class SentenceReader:
    """The fitted parameters of the tier, and the fast head they were fitted with."""

    detector: str
    weight: float
    """How much relation to the document counts against a sentence's instruction score."""
    candidates: int
    """Sentences per chunk, the likeliest instructions, that are embedded."""
    calibration: tuple[float, float]
    """Platt scaling of a document's evidence: p = sigmoid(a * evidence + b)."""
    head_digest: str
    thresholds: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    encoder: str = EMBEDDING
    """The features of the encoder that relates sentences (``model.EMBEDDING`` or
    ``model.MULTILINGUAL``): the weight and calibration were fitted on its cosines."""

    def probability(self, strongest: float) -> float:
        if strongest == -math.inf:
            return 0.0
        a, b = self.calibration
        return sigmoid(a * strongest + b)

    def instruction_floor(self, min_score: float) -> float:
        """The instruction score below which a sentence cannot bring its document to
        ``min_score``: its evidence is at most the logit of that score, since relation is never
        negative. ``read(..., floor=...)`` need not relate chunks whose sentences all score
        below it; 0 (relate every chunk) where the calibration gives no such bound."""
        a, b = self.calibration
        if a <= 0 or self.weight < 0 or not 0 < min_score < 1:
            return 0.0
        return sigmoid((logit(min_score) - b) / a)

    def head_path(self, path: Path) -> Path:
        return path.parent / model_filename(self.detector, "fast")

    def load_head(self, path: Path) -> LinearDetector:
        """The fast head beside ``path``, once checked to be the one this tier was fitted with."""
        head = self.head_path(path)
        check_pinned(
            path,
            head,
            self.head_digest,
            "fast head",
            f"the tier was fitted (retrain it: swisscheese train {self.detector} --tier sentences)",
        )
        return LinearDetector.load(head)

    def score(self, reading: Reading) -> tuple[float, tuple[int, int] | None]:
        strongest, span = reading.strongest(self.weight)
        return self.probability(strongest), span

    def save(self, path: Path) -> None:
        body = {
            "detector": self.detector,
            "weight": self.weight,
            "candidates": self.candidates,
            "calibration": list(self.calibration),
            "head_digest": self.head_digest,
            "encoder": self.encoder,
            "thresholds": self.thresholds,
            "meta": self.meta,
        }
        write_model_json(path, SCHEMA, body)

    @classmethod
    def load(cls, path: Path) -> SentenceReader:
        body = read_model_json(path, SCHEMA)
        a, b = body["calibration"]
        return cls(
            detector=str(body["detector"]),
            weight=float(body["weight"]),
            candidates=int(body["candidates"]),
            calibration=(float(a), float(b)),
            head_digest=str(body["head_digest"]),
            thresholds={str(k): float(v) for k, v in body.get("thresholds", {}).items()},
            meta=dict(body.get("meta", {})),
            # Readers written before the choice related with the English encoder.
            encoder=str(body.get("encoder", EMBEDDING)),
        )
