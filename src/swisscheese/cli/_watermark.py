"""`swisscheese watermark`: test a text for the deployment's keyed watermark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import JsonOption, fail, fail_issues, out

watermark_app = typer.Typer(
    help="Keyed text watermarks applied by the local model: detection.", no_args_is_help=True
)


@watermark_app.command("detect")
def detect(
    file: Annotated[Path, typer.Argument(help="The text to test (UTF-8), or - for stdin.")],
    policy: Annotated[
        Path | None,
        typer.Option(help="Take scheme, key and parameters from this policy's watermark:."),
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="The watermark key (default .swisscheese/watermark.key).")
    ] = None,
    scheme: Annotated[str, typer.Option(help="kgw or synthid (without --policy).")] = "kgw",
    model: Annotated[
        Path | None,
        typer.Option(help="The model whose tokenizer wrote the text (default: the embedded one)."),
    ] = None,
    alpha: Annotated[float, typer.Option(min=1e-12, max=0.5, help="Significance level.")] = 1e-3,
    as_json: JsonOption = False,
) -> None:
    """Whether the text carries the watermark: exact binomial p-values for the whole text and
    for its most significant window (corrected for the windows tried). Exit 0 when it does,
    1 when it does not."""
    import sys

    from swisscheese.config import PolicyError, load_policy
    from swisscheese.learned.causal_lm import LocalModelError, load_tokenizer
    from swisscheese.provenance.watermark import (
        WatermarkConfig,
        WatermarkError,
        detection_report,
    )
    from swisscheese.provenance.watermark_keys import load_watermark

    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror or exc}")
    text = raw.decode("utf-8", errors="replace")
    try:
        if policy is not None:
            chosen = load_policy(policy).policy.watermark
            if chosen is None:
                fail(f"{policy}: the policy has no watermark: section")
            config = WatermarkConfig(**chosen.model_dump(exclude={"key"}))
            key = key or Path(chosen.key)
        else:
            config = WatermarkConfig(scheme=scheme)  # type: ignore[arg-type]
        watermark = load_watermark(key, config)
        tokenizer = load_tokenizer(model)
    except PolicyError as exc:
        fail_issues(exc)
    except (WatermarkError, LocalModelError) as exc:
        fail(str(exc))
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    report = detection_report(watermark, ids, alpha)
    if as_json:
        print(json.dumps(report))
    else:
        whole, best = report["whole"], report["windowed"]["best"]
        start, end = report["windowed"]["span"]
        out.print(
            f"{report['scheme']} key {report['key_id']}: {report['tokens']} tokens, "
            f"{whole['scored']} scored; whole text z {whole['z']:.2f}, p {whole['p_value']:.3g}; "
            f"best window [{start}, {end}) z {best['z']:.2f}, p {report['p_value']:.3g} "
            f"corrected over {report['windowed']['windows']} windows",
            highlight=False,
        )
        out.print("watermarked" if report["watermarked"] else "no watermark found", highlight=False)
    raise typer.Exit(0 if report["watermarked"] else 1)
