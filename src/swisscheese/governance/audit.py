"""Audit bundles: a range of the flight recorder, proved against a signed checkpoint, with the
governance documents, in one signed tar file that another machine verifies with the log's
public key alone.

Contents (``manifest.json`` lists every other file with its SHA-256):

- ``checkpoint.txt``: a checkpoint note of the whole log at export, signed by the log key;
- ``events.jsonl``: every entry from ``first`` to the checkpoint's size: its index, the exact
  canonical event bytes (the leaf data) and its payload digest;
- ``prefix.json``: the hashes of the perfect subtrees covering ``[0, first)``, so the root of
  the whole log is recomputed from them and the exported leaves (no other hash is trusted);
- ``payloads/<digest>``: each exported entry's payload, unless it was erased;
- ``governance/*``: the framework and safety case the deployment is held to;
- ``manifest.sig``: a note signed by the log key over the manifest's SHA-256.

``verify_bundle`` names each check and what failed: a missing, altered or extra file, a bad
signature, a leaf or root that does not recompute, a payload that does not match its digest,
or one that is missing without an erasure recorded for it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swisscheese.core import merkle
from swisscheese.core.stamps import read_stamp
from swisscheese.recorder import Recorder
from swisscheese.recorder.note import NoteError, Verifier, open_checkpoint, open_note

__all__ = ["BundleCheck", "export_bundle", "first_index_since", "verify_bundle"]

FORMAT = "swisscheese.audit/1"
SIGNED_PREFIX = "swisscheese audit bundle\n"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def first_index_since(recorder: Recorder, since: dt.datetime) -> int:
    """The first entry recorded at or after ``since`` (entries are appended in time order):
    a binary search over event times, a few point reads."""
    lo, hi = 0, recorder.size()
    while lo < hi:
        mid = (lo + hi) // 2
        entry = recorder.store.entry(mid)
        assert entry is not None
        if read_stamp(json.loads(entry.event).get("time")) < since:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def export_bundle(
    recorder: Recorder,
    out: Path,
    first: int,
    documents: Mapping[str, bytes],
    *,
    chunk: int = 10_000,
) -> dict[str, Any]:
    """Write the bundle of entries ``[first, size)`` and ``documents`` (name -> bytes, put under
    ``governance/``); returns the manifest. Needs the log key (``recorder.signer``)."""
    if recorder.signer is None:
        raise ValueError("an audit bundle is signed with the log key: none is loaded")
    note = recorder.checkpoint()
    size = open_checkpoint(note, recorder.signer.verifier).size
    if not 0 <= first <= size:
        raise ValueError(f"first entry {first} is outside the log (size {size})")
    files: dict[str, bytes] = {"checkpoint.txt": note.encode()}
    prefix_keys = merkle.perfect_subtrees(0, first)
    prefix = recorder.store.nodes(prefix_keys)
    files["prefix.json"] = json.dumps(
        [{"level": k[0], "index": k[1], "hash": prefix[k].hex()} for k in prefix_keys]
    ).encode()
    lines: list[bytes] = []
    erased: list[str] = []
    for start in range(first, size, chunk):
        for entry in recorder.store.entries(start, min(size, start + chunk)):
            lines.append(
                json.dumps(
                    {
                        "index": entry.index,
                        "event": base64.b64encode(entry.event).decode(),
                        "payload": entry.payload_digest,
                    }
                ).encode()
            )
            if entry.payload_digest is None:
                continue
            data = recorder.store.payload(entry.payload_digest)
            if data is None:
                erased.append(entry.payload_digest)
            else:
                files[f"payloads/{entry.payload_digest.replace(':', '-')}"] = data
    files["events.jsonl"] = b"\n".join(lines) + (b"\n" if lines else b"")
    for name, data in documents.items():
        files[f"governance/{name}"] = data
    manifest = {
        "format": FORMAT,
        "origin": recorder.origin,
        "verifier": recorder.signer.verifier.encode(),
        "first": first,
        "size": size,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "erased_payloads": sorted(set(erased)),
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature = recorder.signer.sign(SIGNED_PREFIX + _sha256(body) + "\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        _add(tar, "manifest.json", body)
        _add(tar, "manifest.sig", signature.encode())
        for name, data in sorted(files.items()):
            _add(tar, name, data)
    tmp.replace(out)
    return manifest


@dataclass(frozen=True, slots=True)
class BundleCheck:
    name: str
    ok: bool
    detail: str


def _range_root(
    size: int, first: int, prefix: Mapping[tuple[int, int], bytes], leaves: Sequence[bytes]
) -> bytes:
    """RFC 9162's tree head over ``size`` leaves from the hashes of the perfect subtrees
    covering ``[0, first)`` and the leaf hashes of ``[first, size)``."""

    def mth(lo: int, hi: int) -> bytes:
        n = hi - lo
        if hi <= first:
            level = n.bit_length() - 1
            if n & (n - 1) == 0 and lo % n == 0 and (level, lo >> level) in prefix:
                return prefix[(level, lo >> level)]
        if n == 1:
            if lo < first:
                raise KeyError(lo)
            return leaves[lo - first]
        k = merkle.largest_power_of_two_below(n)
        return merkle.node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return merkle.EMPTY_ROOT if size == 0 else mth(0, size)


def verify_bundle(path: Path, verifier: Verifier) -> list[BundleCheck]:
    """Every check on the bundle at ``path`` against the log's public key; each names what
    failed. Nothing in the bundle is trusted until a check has passed on it."""
    checks: list[BundleCheck] = []

    def check(name: str, ok: bool, detail: str) -> bool:
        checks.append(BundleCheck(name, ok, detail))
        return ok

    try:
        with tarfile.open(path, "r") as tar:
            members = {
                m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.isfile()
            }
    except (OSError, tarfile.TarError) as exc:
        check("bundle", False, f"{path}: not a readable tar file ({exc})")
        return checks
    body, signature = members.pop("manifest.json", None), members.pop("manifest.sig", None)
    if body is None or signature is None:
        check("manifest", False, "manifest.json or manifest.sig is missing")
        return checks
    try:
        signed = open_note(signature.decode(), verifier)
        good = signed == SIGNED_PREFIX + _sha256(body) + "\n"
    except (NoteError, UnicodeDecodeError) as exc:
        good, signed = False, str(exc)
    if not check("manifest signature", good, "signed by the log key" if good else signed):
        return checks
    manifest = json.loads(body)
    listed: dict[str, str] = manifest["files"]
    missing = sorted(set(listed) - set(members))
    extra = sorted(set(members) - set(listed))
    altered = sorted(n for n in listed if n in members and _sha256(members[n]) != listed[n])
    problems = [f"missing: {n}" for n in missing] + [f"extra: {n}" for n in extra]
    problems += [f"altered: {n}" for n in altered]
    check("files", not problems, "; ".join(problems) or f"{len(listed)} files as listed")
    try:
        head = open_checkpoint(members["checkpoint.txt"].decode(), verifier)
        ok = head.size == manifest["size"] and head.origin == manifest["origin"]
        detail = f"size {head.size}, origin {head.origin}" if ok else "does not match manifest"
    except (KeyError, NoteError, UnicodeDecodeError) as exc:
        check("checkpoint", False, f"checkpoint.txt: {exc}")
        return checks
    if not check("checkpoint", ok, detail):
        return checks
    first, size = int(manifest["first"]), int(manifest["size"])
    try:
        rows = [json.loads(line) for line in members["events.jsonl"].splitlines() if line]
        prefix = {
            (int(p["level"]), int(p["index"])): bytes.fromhex(p["hash"])
            for p in json.loads(members["prefix.json"])
        }
    except (KeyError, ValueError) as exc:
        check("entries", False, f"unreadable: {exc}")
        return checks
    indexes = [int(r["index"]) for r in rows]
    if not check(
        "entries",
        indexes == list(range(first, size)),
        f"entries {first}..{size - 1}" if indexes == list(range(first, size)) else "not dense",
    ):
        return checks
    events = [base64.b64decode(r["event"]) for r in rows]
    try:
        root = _range_root(size, first, prefix, [merkle.leaf_hash(e) for e in events])
        good = root == head.root
    except KeyError as exc:
        good, root = False, b""
        check("tree", False, f"a prefix hash is missing ({exc})")
        return checks
    check(
        "tree",
        good,
        "the entries and prefix recompute the signed root"
        if good
        else "the entries do not recompute the signed root: an event was altered, added or removed",
    )
    erasures = {
        json.loads(e).get("digest") for e in events if json.loads(e).get("type") == "erasure"
    }
    declared = set(manifest.get("erased_payloads", []))
    bad: list[str] = []
    for row in rows:
        digest = row["payload"]
        if digest is None:
            continue
        data = members.get(f"payloads/{digest.replace(':', '-')}")
        if data is None:
            if digest not in declared or digest not in erasures:
                bad.append(f"entry {row['index']}: payload missing, no erasure recorded")
        elif _sha256(data) != digest:
            bad.append(f"entry {row['index']}: payload does not match its digest")
    check("payloads", not bad, "; ".join(bad[:10]) or "every payload matches or was erased")
    return checks
