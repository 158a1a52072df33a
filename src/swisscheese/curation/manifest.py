"""The signed dataset manifest: what a curated dataset holds and how it was made, as an in-toto
statement in a DSSE envelope signed by the log's key, and the check that a dataset on disk is
still that dataset (naming any changed, missing or extra shard)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swisscheese.common.files import file_sha256
from swisscheese.core import canonical_json, merkle
from swisscheese.curation.filtering import ShardResult
from swisscheese.curation.shards import SUFFIXES
from swisscheese.provenance import Check, StatementSigner, open_statement
from swisscheese.recorder.note import Verifier

PREDICATE_TYPE = "https://swisscheese.dev/curated-dataset/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MANIFEST = "manifest.json"


def shard_leaf(name: str, sha256: str, records: int) -> bytes:
    """A kept shard's leaf in the dataset's Merkle tree."""
    return merkle.leaf_hash(canonical_json({"name": name, "sha256": sha256, "records": records}))


def dataset_root(results: Sequence[ShardResult]) -> str:
    """The Merkle root over the kept shards, in name order."""
    ordered = sorted(results, key=lambda r: r.name)
    return merkle.root_of(shard_leaf(r.name, r.kept_sha256, r.kept) for r in ordered).hex()


def statement(
    results: Sequence[ShardResult], filters: Mapping[str, Any], source: str
) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: r.name)
    removed: dict[str, int] = {}
    for r in ordered:
        for category, n in r.by_category.items():
            removed[category] = removed.get(category, 0) + n
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": f"kept/{r.name}", "digest": {"sha256": r.kept_sha256}} for r in ordered
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "source": source,
            "root": dataset_root(ordered),
            "records": sum(r.records for r in ordered),
            "kept": sum(r.kept for r in ordered),
            "removed": sum(r.removed for r in ordered),
            "modified": sum(r.modified for r in ordered),
            "removed_by_category": dict(sorted(removed.items())),
            "filters": dict(filters),
            "shards": [
                {
                    "name": r.name,
                    "input_sha256": r.input_sha256,
                    "kept_sha256": r.kept_sha256,
                    "removed_sha256": r.removed_sha256,
                    "records": r.records,
                    "kept": r.kept,
                    "removed": r.removed,
                }
                for r in ordered
            ],
        },
    }


def sign_manifest(signer: StatementSigner, body: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest file: the signed envelope, and the statement in the clear for reading."""
    return {"envelope": signer.envelope(body), "statement": dict(body)}


@dataclass(frozen=True)
class DatasetCheck:
    ok: bool
    checks: list[Check]
    changed: list[str]
    missing: list[str]
    extra: list[str]


def verify_dataset(
    directory: Path, manifest: Mapping[str, Any], key: Verifier | None
) -> DatasetCheck:
    """The manifest's signature, its statement against its own Merkle root, and every kept
    shard in ``directory`` against it."""
    envelope = manifest.get("envelope")
    signed, signature = open_statement(envelope if isinstance(envelope, Mapping) else {}, key)
    checks = [signature]
    if signed is None or signed.get("predicateType") != PREDICATE_TYPE:
        checks.append(Check("statement", False, "not a curated-dataset statement"))
        return DatasetCheck(False, checks, [], [], [])
    shards = signed["predicate"]["shards"]
    leaves = [
        shard_leaf(s["name"], s["kept_sha256"], s["kept"])
        for s in sorted(shards, key=lambda s: s["name"])
    ]
    root_ok = merkle.root_of(leaves).hex() == signed["predicate"]["root"]
    checks.append(
        Check(
            "root",
            root_ok,
            "the shards add up to the signed root"
            if root_ok
            else "the shard list does not give the signed root",
        )
    )
    kept = directory / "kept"
    expected = {s["name"]: s["kept_sha256"] for s in shards}
    present = {
        str(p.relative_to(kept)): p
        for p in (kept.rglob("*") if kept.is_dir() else [])
        if p.is_file() and p.suffix in SUFFIXES
    }
    changed = sorted(
        n for n, d in expected.items() if n in present and file_sha256(present[n]) != d
    )
    missing = sorted(n for n in expected if n not in present)
    extra = sorted(n for n in present if n not in expected)
    for label, names in (("changed", changed), ("missing", missing), ("extra", extra)):
        checks.append(Check(label, not names, ", ".join(names) if names else "none"))
    return DatasetCheck(all(c.ok for c in checks), checks, changed, missing, extra)


def read_manifest(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path}: a manifest is a JSON object")
    return value
