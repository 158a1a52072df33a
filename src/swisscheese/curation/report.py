"""The curation report: per-category counts, examples and score histograms, and suspected
poisoning, as JSON and as HTML (deterministic: a rerun writes the same bytes)."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from swisscheese.curation.filtering import BINS, ShardResult


def report_document(
    results: Sequence[ShardResult],
    filters: Mapping[str, Any],
    skipped: Sequence[Mapping[str, str]],
    poisoning: Mapping[str, Any] | None,
    root: str,
) -> dict[str, Any]:
    by_category: Counter[str] = Counter()
    histograms: dict[str, list[int]] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(results, key=lambda r: r.name):
        by_category.update(r.by_category)
        for category, bins in r.histograms.items():
            total = histograms.setdefault(category, [0] * BINS)
            histograms[category] = [a + b for a, b in zip(total, bins, strict=True)]
        for category, shown in r.examples.items():
            examples.setdefault(category, []).extend(shown)
    return {
        "schema": "swisscheese.curate-report/1",
        "root": root,
        "records": sum(r.records for r in results),
        "kept": sum(r.kept for r in results),
        "removed": sum(r.removed for r in results),
        "modified": sum(r.modified for r in results),
        "removed_by_category": dict(sorted(by_category.items())),
        "score_histograms": dict(sorted(histograms.items())),
        "examples": {k: v[:10] for k, v in sorted(examples.items())},
        "shards": [
            {"name": r.name, "records": r.records, "kept": r.kept, "removed": r.removed}
            for r in sorted(results, key=lambda r: r.name)
        ],
        "skipped": list(skipped),
        "filters": dict(filters),
        "poisoning": dict(poisoning) if poisoning is not None else None,
    }


def _bars(bins: Sequence[int]) -> str:
    top = max(bins) or 1
    cells = "".join(
        f"<td title='{i / BINS:.1f}-{(i + 1) / BINS:.1f}: {n}'>"
        f"<div style='height:{max(1, round(40 * n / top))}px'></div></td>"
        for i, n in enumerate(bins)
    )
    return f"<table class='hist'><tr>{cells}</tr></table>"


def render_html(doc: Mapping[str, Any]) -> str:
    e = html.escape
    hist = doc["score_histograms"]
    rows = "".join(
        f"<tr><td>{e(c)}</td><td>{n}</td><td>{_bars(hist.get(c, [0] * BINS))}</td></tr>"
        for c, n in doc["removed_by_category"].items()
    )
    examples = "".join(
        f"<h3>{e(c)}</h3><ul>"
        + "".join(
            f"<li><code>{e(x['shard'])}:{x['line']}</code> {e(x['text'])}</li>" for x in shown
        )
        + "</ul>"
        for c, shown in doc["examples"].items()
    )
    poisoning = doc.get("poisoning")
    suspects = ""
    if poisoning:
        suspects = "<h2>Suspected poisoning</h2>" + (
            "".join(
                f"<h3>trigger <code>{e(t['trigger'])}</code> ({e(t['family'])}, "
                f"{t['documents']} documents)</h3><p>{e(t['evidence'])}</p><ul>"
                + "".join(
                    f"<li><code>{e(d['shard'])}:{d['line']}</code></li>" for d in t["examples"]
                )
                + "</ul>"
                for t in poisoning["triggers"]
            )
            or "<p>No trigger found.</p>"
        )
        suspects += (
            f"<p>{poisoning['near_duplicate_clusters']} clusters of near-duplicate documents "
            f"(MinHash LSH, Jaccard ≥ {poisoning['jaccard']}).</p>"
        )
    skipped = "".join(f"<li>{e(s['shard'])}: {e(s['error'])}</li>" for s in doc["skipped"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>swisscheese curation report</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:1100px}}
table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ccc;padding:3px 8px;vertical-align:bottom}}
table.hist td{{border:0;padding:0 1px;width:8px}}table.hist div{{background:#1f5fa8;width:8px}}
code{{font-size:12px}}</style></head><body>
<h1>Curation report</h1>
<p>{doc["records"]:,} records: {doc["kept"]:,} kept ({doc["modified"]:,} of them redacted),
{doc["removed"]:,} removed. Dataset root <code>{e(doc["root"])}</code>; policy
<code>{e(str(doc["filters"].get("policy_digest", "")))}</code>.</p>
<h2>Removed, by category</h2>
<table><tr><th>category</th><th>records</th><th>finding scores (0 to 1)</th></tr>{rows}</table>
{suspects}
<h2>Examples</h2>{examples or "<p>None removed.</p>"}
{f"<h2>Skipped shards</h2><ul>{skipped}</ul>" if skipped else ""}
</body></html>
"""


def write_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
