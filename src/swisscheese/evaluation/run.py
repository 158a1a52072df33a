"""The whole evaluation: corpora in, ``results.json`` and ``report.html`` out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swisscheese.config import default_policy, load_policy
from swisscheese.evaluation.corpora import Item, load_corpora
from swisscheese.evaluation.harness import EvalConfig, run_items
from swisscheese.evaluation.overlap import training_overlap
from swisscheese.evaluation.results import SCHEMA, build_results
from swisscheese.recorder.events import EvidenceRecorded

if TYPE_CHECKING:
    from swisscheese.recorder import Receipt, Recorder

__all__ = [
    "DEFAULT_ATTACKS",
    "DEFAULT_BENIGN",
    "evaluate",
    "load_items",
    "record_evidence",
    "write_outputs",
]

DEFAULT_ATTACKS = ("builtin:attacks",)
DEFAULT_BENIGN = ("builtin:benign",)


def load_items(
    attacks: Sequence[str], benign: Sequence[str], seed: int = 0
) -> tuple[list[Item], list[Item]]:
    return (
        load_corpora(attacks, attack=True, seed=seed),
        load_corpora(benign, attack=False, seed=seed),
    )


def evaluate(
    config: EvalConfig,
    attacks: Sequence[Item],
    benign: Sequence[Item],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: Callable[[int], None] | None = None,
    specs: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Run every item and compute the results document (``swisscheese.eval/1``)."""
    started = time.perf_counter()
    items = [*attacks, *benign]
    run = run_items(config, items, workers=workers, ray_address=ray_address, progress=progress)
    loaded = load_policy(config.policy) if config.policy else default_policy()
    settings = {k: v for k, v in asdict(config).items() if k != "api_key"}
    results = build_results(
        run,
        config={
            **settings,
            "policy": config.policy or "built-in default",
            "policy_digest": loaded.policy.digest if config.target == "inprocess" else None,
            "attacks": list((specs or {}).get("attacks", [])),
            "benign": list((specs or {}).get("benign", [])),
            "workers": workers,
            "ray": ray_address,
        },
        k=config.k,
        seed=config.seed,
        workers=workers,
    )
    texts = {i.id: i.text for i in items}
    for refused in results["benign"]["refused"]:
        refused["text"] = texts[refused["id"]]
    for through in results["attacks_through"]:
        through["goal"] = texts[through["id"]][:300]
    results["training_overlap"] = training_overlap(items)
    results["latency_samples_ms"] = [round(o.latency_ms, 4) for o in run.outcomes]
    results["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["duration_s"] = round(time.perf_counter() - started, 3)
    return results


def write_outputs(results: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``results.json`` and ``report.html`` in ``out_dir``; written whole, then renamed, so a
    reader never sees half a file."""
    from swisscheese.evaluation.report import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "results.json", out_dir / "report.html")
    bodies = (json.dumps(results, indent=2, ensure_ascii=False) + "\n", render_html(results))
    for path, body in zip(paths, bodies, strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(path)
    return paths


def evidence_event(results: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures, as the evidence event that safety cases and thresholds bind to."""
    stack, asr, sc = results["stack"], results["asr"], results["swiss_cheese"]
    return {
        "kind": "evaluation",
        "schema": SCHEMA,
        "policy": results["config"].get("policy_digest"),
        "target": results["target"],
        "judge": results["judge"],
        "counts": results["counts"],
        "asr_at_1": asr["at_1"]["value"],
        "asr_at_k": asr["at_k"]["value"],
        "k": asr["k"],
        "benign_fpr": stack["fpr"]["value"],
        "stack_recall_at_1pct_fpr": stack["recall_at_1pct_fpr"]["value"],
        "observed_miss": sc["observed_miss"]["value"],
        "independent_miss": sc["independent_miss"]["value"],
        "latency_p50_ms": results["latency_ms"]["stack"]["p50"],
        "latency_p99_ms": results["latency_ms"]["stack"]["p99"],
        "created": results["created"],
    }


def record_evidence(results: Mapping[str, Any], recorder: Recorder) -> Receipt:
    """Append the evaluation to the flight recorder: headline event, full results as payload."""
    return recorder.record(EvidenceRecorded(**evidence_event(results)), dict(results))
