"""The flight recorder: an append-only Merkle log of events with signed checkpoints.

Appends go through one writer thread that commits whatever is queued in one transaction (group
commit); an append is acknowledged only after its transaction is durable. Payloads are stored
apart from the leaves, keyed by digest, so erasing one leaves every proof intact.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import queue
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swisscheese.config.settings import Settings
from swisscheese.core import Receipt, canonical_json, merkle
from swisscheese.core.errors import SwisscheeseError
from swisscheese.core.stamps import stamp
from swisscheese.recorder.decisions import SIGNED_TYPES, verify_decisions
from swisscheese.recorder.events import EVENT_VERSION, Erasure, Event, SigningKey
from swisscheese.recorder.note import Checkpoint, NoteError, Signer, Verifier, open_checkpoint
from swisscheese.recorder.sealing import ContentRecord, write_private
from swisscheese.store import Listing, LogStore, NewEntry

KEY_ENV = "SWISSCHEESE_LOG_KEY"
DEFAULT_KEY = Path(".swisscheese") / "log.key"
DEFAULT_ORIGIN = "swisscheese.local/log"
_BATCH = 1024  # entries per transaction, a soft limit: a group is never split


class RecordError(SwisscheeseError, RuntimeError):
    """The recorder could not make an event durable; the caller must not assume it was."""


QUEUED = Receipt.QUEUED


class Spool:
    """A local, fsynced JSONL file of entries the store could not take; replayed in order."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, entries: list[NewEntry]) -> None:
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps(
                {
                    "event": base64.b64encode(e.event).decode(),
                    "type": e.type,
                    "payload_digest": e.payload_digest,
                    "payload": None if e.payload is None else base64.b64encode(e.payload).decode(),
                }
            )
            + "\n"
            for e in entries
        )
        with self.path.open("a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[NewEntry]:

        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                break  # a torn last line from a crash mid-write: it was never acknowledged
            event = base64.b64decode(row["event"])
            payload = None if row["payload"] is None else base64.b64decode(row["payload"])
            entries.append(
                NewEntry(
                    event, merkle.leaf_hash(event), row["type"], row["payload_digest"], payload
                )
            )
        return entries

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: tuple[bytes, ...]
    root_hash: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "audit_path": [h.hex() for h in self.audit_path],
            "root_hash": self.root_hash.hex(),
        }


@dataclass
class VerifyReport:
    size: int = 0
    ok: bool = True
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)
    payloads_checked: int = 0
    payloads_erased: int = 0
    checkpoints_checked: int = 0
    decisions_signed: int = 0
    """Operators' decisions whose signatures verified against their registered keys."""
    decisions_unsigned: int = 0
    root_hash: bytes = merkle.EMPTY_ROOT

    def fail(self, message: str, index: int | None = None) -> None:
        self.ok = False
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        if len(self.problems) < 100:
            self.problems.append(message)


def _payload_bytes(payload: Any) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


DECISION_TYPES = frozenset({"operator_key", *SIGNED_TYPES})


def _event_body(event: bytes) -> dict[str, Any]:
    """A stored event's JSON object (empty when it is not one: verification then fails on it)."""
    try:
        body = json.loads(event)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _bound_fields(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The type and payload digest that an event's leaf commits to."""
    kind, linked = body.get("type"), body.get("payload")
    return (
        kind if isinstance(kind, str) else None,
        linked if isinstance(linked, str) else None,
    )


def payload_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def key_path(path: str | Path | None = None) -> Path:
    """Where the log's signing key is: ``path``, SWISSCHEESE_LOG_KEY, or the default."""
    return Path(path or Settings().log_key or DEFAULT_KEY)


def load_signer(path: str | Path | None = None) -> Signer:

    location = key_path(path)
    try:
        return Signer.parse(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(
            f"no log key at {location}; create one with `swisscheese keys init`"
        ) from None
    except NoteError as exc:
        raise RecordError(f"{location}: {exc}") from None


def write_signer(signer: Signer, path: str | Path | None = None, *, force: bool = False) -> Path:
    location = key_path(path)
    try:
        write_private(location, signer.encode(), force=force)
    except FileExistsError:
        raise RecordError(f"{location} exists; refusing to replace a log key") from None
    return location


_Group = tuple[list[NewEntry], "Future[int]"]


class _Writer(threading.Thread):
    """Drains the append queue in batches, one durable transaction per batch. Each queued
    group (the entries of one request, say) lands whole in one batch, in order."""

    def __init__(self, store: LogStore, spool: Spool | None) -> None:
        super().__init__(name="swisscheese-recorder", daemon=True)
        self.store = store
        self.spool = spool
        self.queue: queue.Queue[_Group | None] = queue.Queue()

    def run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            size = len(item[0])
            stop = False
            while size < _BATCH:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                size += len(nxt[0])
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Group]) -> None:
        entries = [entry for group, _ in batch for entry in group]
        try:
            if self.spool is not None:
                # Whatever waits in the spool goes first, so the log keeps the original order.
                spooled = self.spool.read()
                if spooled:
                    self.store.append(spooled)
                    self.spool.clear()
            first = self.store.append(entries)
        except Exception as exc:
            self.store.forget_frontier()
            error = RecordError(f"append failed: {type(exc).__name__}: {exc}")
            if self.spool is not None:
                try:
                    self.spool.write(entries)
                except OSError as spool_exc:
                    error = RecordError(f"{error}; spool failed too: {spool_exc}")
                else:
                    for _, future in batch:
                        future.set_result(QUEUED)
                    return
            for _, future in batch:
                future.set_exception(error)
            return
        for group, future in batch:
            future.set_result(first)
            first += len(group)


def open_with_keys(
    note: str, keys: list[Verifier]
) -> tuple[Checkpoint | None, Verifier | None, str]:
    """The checkpoint opened by the newest of ``keys`` that verifies it, and that key; else
    None and the last key's complaint."""
    problem = ""
    for key in reversed(keys):
        try:
            return open_checkpoint(note, key), key, ""
        except NoteError as exc:
            problem = str(exc)
    return None, None, problem


class Recorder:
    """Append events, sign checkpoints, prove inclusion and consistency, verify everything."""

    def __init__(
        self,
        store: LogStore,
        *,
        signer: Signer | None = None,
        origin: str = DEFAULT_ORIGIN,
        spool: Path | None = None,
        content: ContentRecord | None = None,
    ) -> None:
        """``content``: what verdict payloads keep of screened text (default: redacted, no
        sealed original)."""
        self.store = store
        self.signer = signer
        self.origin = origin
        self.content = content or ContentRecord()
        self.spool = Spool(spool) if spool is not None else None
        self._writer: _Writer | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        db: str | None = None,
        *,
        key: str | Path | None = None,
        origin: str = DEFAULT_ORIGIN,
        require_key: bool = False,
        create: bool = True,
    ) -> Recorder:
        """``create`` False: the database must exist (StoreError otherwise)."""
        from swisscheese.store import Database

        signer: Signer | None = None
        try:
            signer = load_signer(key)
        except RecordError:
            if require_key:
                raise
        return cls(
            LogStore(Database(db, create=create)),
            signer=signer,
            origin=origin,
            content=ContentRecord.from_settings(),
        )

    def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.queue.put(None)
            writer.join(timeout=30)
        self.store.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- appending ----------------------------------------------------------------------------

    def prepare(self, type: str, event: Mapping[str, Any], payload: Any | None = None) -> NewEntry:
        """Canonicalise an event and its payload into a leaf (no I/O)."""
        now = dt.datetime.now(dt.UTC)
        body: dict[str, Any] = {"v": EVENT_VERSION, "type": type, "time": stamp(now), **event}
        blob: bytes | None = None
        digest: str | None = None
        if payload is not None:
            # The leaf holds only the payload's digest, so the payload needs stable bytes, not
            # RFC 8785: the C JSON encoder is five times faster on verdict-sized documents.
            blob = payload if isinstance(payload, bytes) else _payload_bytes(payload)
            digest = payload_digest(blob)
            body["payload"] = digest
        data = canonical_json(body)
        listing = Listing.of(body, int(now.timestamp())) if type == "verdict" else None
        return NewEntry(data, merkle.leaf_hash(data), type, digest, blob, listing)

    def key_history(self) -> list[tuple[int, Verifier, int]]:
        """(adopted at, verifier, revoked at) of every signing key the log adopted, in order;
        ``revoked at`` is the index of its revocation, or the maximum integer."""
        revoked: dict[str, int] = {}
        for entry in self.store.entries_of_type("key_revoked"):
            verifier = _event_body(entry.event).get("verifier")
            if isinstance(verifier, str):
                revoked.setdefault(verifier, entry.index)
        history: list[tuple[int, Verifier, int]] = []
        for entry in self.store.entries_of_type("key"):
            try:
                text = _event_body(entry.event)["verifier"]
                verifier = Verifier.parse(text)
            except (KeyError, NoteError):
                continue  # a malformed key event fails its own leaf check
            history.append((entry.index, verifier, revoked.get(text, sys.maxsize)))
        return history

    def checkpoint_keys(
        self, size: int, history: list[tuple[int, Verifier, int]] | None = None
    ) -> list[Verifier]:
        """The keys that may have signed a stored checkpoint of ``size``: adopted before it,
        not revoked by then (oldest first)."""
        history = self.key_history() if history is None else history
        return [v for at, v, revoked in history if at < size and revoked >= size]

    def adopt_key(self, signer: Signer) -> Receipt:
        """Sign checkpoints with ``signer`` from now on, and record its verifier key: the key
        history is part of the record, so an auditor sees which key signed from when."""
        receipt = self.record(SigningKey(verifier=signer.verifier.encode()))
        self.signer = signer
        return receipt

    def prepare_event(self, event: Event, payload: Any | None = None) -> NewEntry:
        """A typed event (and its erasable payload) as a leaf, ready to submit (no I/O)."""
        return self.prepare(event.type, event.fields(), payload)

    def record(self, event: Event, payload: Any | None = None) -> Receipt:
        """Append a typed event; returns once it is durable (raises RecordError if not)."""
        entry = self.prepare_event(event, payload)
        index = self.submit(entry).result()
        return Receipt(index, entry.leaf_hash, entry.payload_digest)

    async def arecord(self, event: Event, payload: Any | None = None) -> Receipt:
        entry = self.prepare_event(event, payload)
        index = await asyncio.wrap_future(self.submit(entry))
        return Receipt(index, entry.leaf_hash, entry.payload_digest)

    def submit(self, entry: NewEntry) -> Future[int]:
        """Queue one entry; the future gives its index once it is durable."""
        return self.submit_group([entry])

    def submit_group(self, entries: list[NewEntry]) -> Future[int]:
        """Queue entries that are written together, in order, in one transaction (one fsync);
        the future gives the first one's index (the others follow it) once all are durable,
        or QUEUED when they were spooled."""
        future: Future[int] = Future()
        # Running from the start, so it cannot be cancelled: a caller that goes away (a client
        # that disconnects cancels the task awaiting it) must neither drop its record nor make
        # the writer's set_result raise, which would stop every record after it.
        future.set_running_or_notify_cancel()
        with self._lock:
            if self._writer is None:
                self._writer = _Writer(self.store, self.spool)
                self._writer.start()
            self._writer.queue.put((list(entries), future))
        return future

    def append_sync(
        self, type: str, event: Mapping[str, Any], payload: Any | None = None
    ) -> Receipt:
        entry = self.prepare(type, event, payload)
        index = self.submit(entry).result()
        return Receipt(index, entry.leaf_hash, entry.payload_digest)

    async def append(
        self, type: str, event: Mapping[str, Any], payload: Any | None = None
    ) -> Receipt:
        entry = self.prepare(type, event, payload)
        index = await asyncio.wrap_future(self.submit(entry))
        return Receipt(index, entry.leaf_hash, entry.payload_digest)

    def erase(self, digest: str, reason: str = "") -> Receipt | None:
        """Delete a payload; the erasure itself is an event in the log (recorded first, so a
        crash in between leaves a payload that is merely still there). None: no such payload."""
        if self.store.payload(digest) is None:
            return None
        receipt = self.record(Erasure(digest=digest, reason=reason))
        self.store.delete_payload(digest)
        return receipt

    # -- tree ---------------------------------------------------------------------------------

    def size(self) -> int:
        return self.store.size()

    def root(self, size: int | None = None) -> bytes:
        size = self.store.size() if size is None else size
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.root_from(size, self.store.nodes)

    def _check_size(self, size: int | None) -> int:
        current = self.store.size()
        if size is None:
            return current
        if not 0 < size <= current:
            raise ValueError(f"tree size {size} is outside 1..{current}")
        return size

    def prove_inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        size = self._check_size(size)
        ranges = merkle.inclusion_ranges(index, size)
        keys = merkle.keys_for(ranges) + merkle.perfect_subtrees(0, size) + [(0, index)]
        nodes = self.store.nodes(list(dict.fromkeys(keys)))
        path = merkle.hashes_for(ranges, nodes)
        root = merkle.fold([nodes[k] for k in merkle.perfect_subtrees(0, size)])
        return InclusionProof(index, size, nodes[(0, index)], tuple(path), root)

    def prove_consistency(self, old: int, new: int | None = None) -> list[bytes]:
        new = self._check_size(new)
        ranges = merkle.consistency_ranges(old, new)
        nodes = self.store.nodes(merkle.keys_for(ranges))
        return merkle.hashes_for(ranges, nodes)

    # -- checkpoints --------------------------------------------------------------------------

    def checkpoint(self) -> str:
        """Sign the current tree head as a C2SP checkpoint note, store it, return it."""
        if self.signer is None:
            raise RecordError("no log key: create one with `swisscheese keys init`")
        size = self.store.size()
        note = self.signer.sign(Checkpoint(self.origin, size, self.root(size)).text())
        self.store.add_checkpoint(size, note)
        return note

    # -- verification -------------------------------------------------------------------------

    def verify(
        self, checkpoint_note: str | None = None, verifier: Verifier | None = None
    ) -> VerifyReport:
        """Recompute every leaf from its stored event and every subtree from the leaves; check
        payloads against their digests and checkpoints against the recomputed roots."""
        report = VerifyReport(size=self.store.size())
        verifier = verifier or (self.signer.verifier if self.signer else None)
        wanted: dict[int, list[tuple[str, bytes]]] = {}
        stored_notes = self.store.checkpoints()
        if checkpoint_note is not None:
            stored_notes.append((-1, checkpoint_note))
        history = self.key_history()
        for size, note in stored_notes:
            label = "given checkpoint" if size < 0 else f"stored checkpoint {size}"
            # A stored checkpoint is checked against the keys the log had adopted before it
            # (keys rotate); a given one against the verifier the caller trusts.
            keys = self.checkpoint_keys(size, history) if size >= 0 and history else []
            candidates = keys or ([verifier] if verifier is not None else [])
            if not candidates:
                report.fail(f"{label}: no verifier key to check its signature")
                continue
            cp, _, problem = open_with_keys(note, candidates)
            if cp is None:
                report.fail(f"{label}: {problem}")
                continue
            if cp.origin != self.origin:
                report.fail(f"{label}: origin {cp.origin!r} is not {self.origin!r}")
            elif cp.size > report.size:
                report.fail(f"{label}: size {cp.size} exceeds the log's {report.size}")
            elif size >= 0 and cp.size != size:
                report.fail(f"{label}: note says size {cp.size}")
            else:
                wanted.setdefault(cp.size, []).append((label, cp.root))
        if 0 in wanted:
            for label, root in wanted.pop(0):
                report.checkpoints_checked += 1
                if root != merkle.EMPTY_ROOT:
                    report.fail(f"{label}: root does not match the empty tree")

        frontier = merkle.Frontier()
        erased: set[str] = set()
        referenced: dict[str, int] = {}
        level_buffers: dict[int, dict[int, bytes]] = {}
        bad_leaves: list[int] = []  # in increasing order
        decisions: list[tuple[int, dict[str, Any]]] = []  # operator keys and their decisions
        expected = 0
        good = 0  # size of the largest checkpoint that matched so far
        for entry in self.store.entries(0, report.size):  # a snapshot: later appends wait
            if entry.index != expected:
                report.fail(f"entry {expected} is missing", expected)
                break
            expected += 1
            leaf = merkle.leaf_hash(entry.event)
            # The type and payload columns are conveniences; the event the leaf hashes is
            # what they must agree with (a repointed or cleared payload link is tampering).
            body = _event_body(entry.event)
            if body.get("type") in DECISION_TYPES:
                decisions.append((entry.index, body))
            kind, linked = _bound_fields(body)
            if (kind, linked) != (entry.type, entry.payload_digest):
                report.fail(
                    f"entry {entry.index}: stored type/payload columns differ from its event",
                    entry.index,
                )
            if leaf != entry.leaf_hash:
                report.fail(
                    f"entry {entry.index}: stored leaf hash does not match its event", entry.index
                )
                bad_leaves.append(entry.index)
            for (level, idx), h in frontier.append(leaf):
                if level:
                    self._check_node(report, level, idx, h, level_buffers, bad_leaves)
            if frontier.size in wanted:
                root = frontier.root()
                for label, expected_root in wanted.pop(frontier.size):
                    report.checkpoints_checked += 1
                    if root != expected_root:
                        # Leaves below the last checkpoint that matched are intact, so the
                        # first difference lies at or after it.
                        report.fail(f"{label}: root does not match the recomputed tree", good)
                    elif report.first_bad_index is None:
                        good = frontier.size
            if linked:
                referenced.setdefault(linked, entry.index)
            if kind == "erasure":
                if "digest" in body:
                    erased.add(str(body["digest"]))
                else:
                    report.fail(f"entry {entry.index}: malformed erasure event", entry.index)
        if expected != report.size:
            report.fail(f"log head says {report.size} entries, found {expected}", expected)
        # Entries and head move together in one transaction, so none may lie past the head
        # (read again: appends may have landed meanwhile).
        head = self.store.size()
        if self.store.entry(head) is not None:
            report.fail(f"entries exist past the log head ({head}): the head was rolled back", head)
        report.root_hash = frontier.root()
        for label_roots in wanted.values():
            for label, _ in label_roots:
                report.fail(f"{label}: tree size not reached")

        present: set[str] = set()
        for digest, data in self.store.payloads():
            present.add(digest)
            report.payloads_checked += 1
            if payload_digest(data) != digest:
                report.fail(f"payload {digest} does not match its digest", referenced.get(digest))
        for digest, index in referenced.items():
            if digest not in present:
                if digest in erased:
                    report.payloads_erased += 1
                else:
                    report.fail(f"payload {digest} of entry {index} is missing (not erased)", index)
        signed = verify_decisions(decisions)
        report.decisions_signed, report.decisions_unsigned = signed.signed, signed.unsigned
        for index, problem in signed.problems:
            report.fail(problem, index)
        return report

    def _check_node(
        self,
        report: VerifyReport,
        level: int,
        idx: int,
        recomputed: bytes,
        buffers: dict[int, dict[int, bytes]],
        bad_leaves: list[int],
    ) -> None:
        buffer = buffers.get(level)
        if buffer is None or idx not in buffer:
            buffer = self.store.stored_nodes(level, idx, idx + 4096)
            buffers[level] = buffer
        stored = buffer.pop(idx, None)
        if stored != recomputed:
            first_leaf = idx << level
            # A difference lower down already names the first bad index more precisely; the
            # lowest mismatching subtree names its first leaf (both of a pair of leaves that
            # still match their events may have been moved).
            explained = bool(bad_leaves) and bad_leaves[-1] >= first_leaf
            report.fail(
                f"subtree hash at level {level}, index {idx} does not match its leaves",
                None if explained else first_leaf,
            )
            bad_leaves.append(first_leaf)
