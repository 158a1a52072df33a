"""Curated training datasets: each `curate` run the log recorded, with its counts, what was
removed and why, the poisoning triggers it found, and the signed manifest's Merkle root (the
record page verifies the entry itself)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from swisscheese.console._web import render, require, state
from swisscheese.console.auth import Permission
from swisscheese.store import LogStore, StoredEntry

router = APIRouter()

SHOWN = 25
"""Newest runs shown: each reads its manifest, which lists every shard."""


@dataclass(frozen=True)
class Dataset:
    index: int
    time: str
    event: dict[str, Any]
    source: str = ""
    removed_by_category: dict[str, int] = field(default_factory=dict)
    triggers: list[dict[str, Any]] | None = None
    """None when the run did not look for poisoning."""
    clusters: int | None = None


def _dataset(log: LogStore, entry: StoredEntry) -> Dataset:
    event = json.loads(entry.event)
    predicate: dict[str, Any] = {}
    if entry.payload_digest:
        data = log.payload(entry.payload_digest)
        manifest = json.loads(data) if data is not None else {}
        statement = manifest.get("statement") if isinstance(manifest, dict) else None
        if isinstance(statement, dict) and isinstance(statement.get("predicate"), dict):
            predicate = statement["predicate"]
    poisoning = predicate.get("poisoning")
    return Dataset(
        index=entry.index,
        time=str(event.get("time", "")),
        event=event,
        source=str(predicate.get("source", "")),
        removed_by_category=dict(predicate.get("removed_by_category") or {}),
        triggers=list(poisoning.get("triggers", [])) if isinstance(poisoning, dict) else None,
        clusters=poisoning.get("near_duplicate_clusters") if isinstance(poisoning, dict) else None,
    )


@router.get("/datasets", name="datasets")
def datasets(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    log = state(request).log
    shown: list[Dataset] = []
    for entry in log.newest_of_type("dataset_curated"):
        shown.append(_dataset(log, entry))
        if len(shown) == SHOWN:
            break
    return render(request, "datasets.html", current, datasets=shown, shown=SHOWN)
