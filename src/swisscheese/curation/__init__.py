"""The training-data layer: corpora through the policy's corpus stage (kept and removed shards,
a report, a signed manifest recorded in the flight recorder), and backdoor-poisoning
detection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swisscheese.core import canonical_json
from swisscheese.curation.manifest import MANIFEST, dataset_root, sign_manifest, statement
from swisscheese.curation.report import render_html, report_document, write_json
from swisscheese.curation.run import CurateConfig, CurateOutcome, curate
from swisscheese.curation.shards import ShardError, find_shards
from swisscheese.provenance import StatementSigner
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import DatasetCurated

__all__ = ["CurateConfig", "CurateOutcome", "ShardError", "curate", "find_shards", "finish"]


def finish(
    outcome: CurateOutcome,
    config: CurateConfig,
    recorder: Recorder,
    by: str,
    *,
    poisoning: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the report and the signed manifest, record the dataset; the summary.
    ``progress``: see ``detect_poisoning``."""
    import hashlib

    from swisscheese.curation.poisoning import detect_poisoning, harm_scorer

    if recorder.signer is None:
        raise ShardError("the manifest is signed with the log key: `swisscheese keys init`")
    curated = {r.name for r in outcome.results}
    suspects = (
        detect_poisoning(
            # The shards the corpus stage read: a shard skipped as unreadable is not read again.
            [s for s in find_shards(config.source) if s.name in curated],
            config.field,
            outcome.results,
            harm=harm_scorer(),
            workers=config.workers,
            progress=progress,
        ).to_dict()
        if poisoning
        else None
    )
    root = dataset_root(outcome.results)
    doc = report_document(outcome.results, outcome.filters, outcome.skipped, suspects, root)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "report.json").write_text(write_json(doc), encoding="utf-8")
    (config.out / "report.html").write_text(render_html(doc), encoding="utf-8")
    body = statement(outcome.results, outcome.filters, config.source)
    if suspects is not None:
        body["predicate"]["poisoning"] = {
            "triggers": [
                {k: t[k] for k in ("trigger", "family", "documents")} for t in suspects["triggers"]
            ],
            "near_duplicate_clusters": suspects["near_duplicate_clusters"],
        }
    manifest = sign_manifest(StatementSigner(recorder.signer), body)
    (config.out / MANIFEST).write_text(write_json(manifest), encoding="utf-8")
    receipt = recorder.record(
        DatasetCurated(
            root=root,
            statement=hashlib.sha256(canonical_json(body)).hexdigest(),
            policy=str(outcome.filters.get("policy_digest", "")),
            records=doc["records"],
            kept=doc["kept"],
            removed=doc["removed"],
            by=by,
        ),
        manifest,
    )
    return {
        "records": doc["records"],
        "kept": doc["kept"],
        "removed": doc["removed"],
        "modified": doc["modified"],
        "removed_by_category": doc["removed_by_category"],
        "resumed": outcome.resumed,
        "skipped": outcome.skipped,
        "root": root,
        "record": receipt.index,
        "triggers": suspects["triggers"] if suspects else [],
    }
