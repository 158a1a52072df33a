"""`swisscheese ai-text`: how likely a language model wrote a text, without a watermark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import JsonOption, fail, out, read_text

CAUTION = (
    "weak evidence: short texts, other models than the scorer, paraphrase and formulaic human "
    "writing all move the score (README: AI-written text)"
)


def register(app: typer.Typer) -> None:
    app.command("ai-text")(ai_text)


def ai_text(
    files: Annotated[list[Path], typer.Argument(help="Texts to score (UTF-8), or - for stdin.")],
    model: Annotated[
        Path | None,
        typer.Option(help="The scoring model (default: the embedded one; needs [local])."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score each text with the local model's sampling discrepancy (Fast-DetectGPT): the
    criterion in standard deviations and the calibrated probability that a model wrote it.
    Texts under 24 tokens get no probability."""
    from swisscheese.learned.ai_text import AITextDetector
    from swisscheese.learned.causal_lm import LocalModelError

    texts = [read_text(f) for f in files]
    try:
        detector = AITextDetector.shared(model)
    except LocalModelError as exc:
        fail(str(exc))
    scores = detector.score_batch([text for text, _ in texts])
    rows = [
        {
            "file": name,
            "tokens": s.tokens,
            "criterion": round(s.criterion, 4),
            "probability_machine": None if s.probability is None else round(s.probability, 4),
            "mean_log_likelihood": round(s.log_likelihood, 4),
            "mean_entropy": round(s.entropy, 4),
        }
        for (_, name), s in zip(texts, scores, strict=True)
    ]
    if as_json:
        print(json.dumps({"scorer": detector.model_name, "results": rows}))
        return
    for row in rows:
        p = row["probability_machine"]
        verdict = "too short to say" if p is None else f"P(machine) {p:.2f}"
        out.print(
            f"{row['file']}: {row['tokens']} tokens, criterion {row['criterion']:.2f}, {verdict}",
            highlight=False,
        )
    out.print(CAUTION, highlight=False)
