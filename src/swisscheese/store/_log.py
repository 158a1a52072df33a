"""The log repository: appends under one global order, node and entry reads, payloads,
checkpoints. Synchronous; the recorder's writer thread owns the appends."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, delete, func, select, text

from swisscheese.core.merkle import Frontier, NodeKey
from swisscheese.core.stamps import read_stamp
from swisscheese.store._engine import Database, StoreError, insert_ignoring_duplicates
from swisscheese.store._schema import (
    checkpoints,
    log_entries,
    log_head,
    log_nodes,
    payloads,
    verdict_counts,
    verdict_index,
    verdict_monitors,
)


@dataclass(frozen=True, slots=True)
class Listing:
    """What a verdict adds to the traffic index and the hourly counts: found from its event,
    so an entry replayed from a spool lists the same as when it was first prepared."""

    deployment: str
    at: int
    """Seconds since the epoch."""
    stage: str
    action: str
    found: tuple[str, ...] = ()
    """Monitors with findings."""

    @property
    def tally(self) -> tuple[str, int, str, str]:
        """(deployment, hour since the epoch, stage, action): its cell of ``verdict_counts``."""
        return (self.deployment, self.at // 3600, self.stage, self.action)

    @classmethod
    def of(cls, event: Mapping[str, Any], at: int | None = None) -> Listing | None:
        """The listing of a verdict event's fields (None for other events or missing fields);
        ``at``: its time when the caller has it unparsed."""
        if event.get("type") != "verdict" or not event.keys() >= LISTED:
            return None
        return cls(
            str(event["deployment"]),
            int(read_stamp(str(event["time"])).timestamp()) if at is None else at,
            str(event["stage"]),
            str(event["action"]),
            tuple(sorted(map(str, event.get("found") or ()))),
        )


LISTED = frozenset({"deployment", "stage", "action", "time"})


@dataclass(frozen=True, slots=True)
class NewEntry:
    """One leaf to append: its canonical event bytes and hash, and an optional payload."""

    event: bytes
    leaf_hash: bytes
    type: str
    payload_digest: str | None = None
    payload: bytes | None = None
    listing: Listing | None = None
    """For a verdict: its row in the traffic index and its hourly count."""


def listing_of(entry: NewEntry) -> Listing | None:
    """A verdict entry's listing, read from its event when the entry does not carry it."""
    if entry.listing is not None or entry.type != "verdict":
        return entry.listing
    return Listing.of(json.loads(entry.event))


@dataclass(frozen=True, slots=True)
class StoredEntry:
    index: int
    leaf_hash: bytes
    event: bytes
    type: str
    payload_digest: str | None


@dataclass(frozen=True, slots=True)
class TrafficFilter:
    """What the traffic page asks for; None matches anything. Times are epoch seconds."""

    deployment: str | None = None
    stage: str | None = None
    action: str | None = None
    monitor: str | None = None
    since: int | None = None
    until: int | None = None


@dataclass(frozen=True, slots=True)
class TrafficPage:
    rows: list[tuple[int, Listing]]
    """(index, listing), newest first."""
    older: int | None
    """Where the next, older page starts (its ``before``); None when nothing older matches."""
    searched: tuple[int, int]
    """The records this page searched: [first, end)."""


@lru_cache(maxsize=128)
def _point_lookups(n: int) -> TextClause:
    """UNION ALL of n primary-key lookups: planned as n index probes on both databases, where
    an OR of IN lists costs more to build in SQLAlchemy than to run."""
    parts = [
        f"SELECT 0 AS level, idx, leaf_hash AS hash FROM log_entries"
        f" WHERE :l{i} = 0 AND idx = :i{i}"
        f" UNION ALL SELECT level, idx, hash FROM log_nodes WHERE level = :l{i} AND idx = :i{i}"
        for i in range(n)
    ]
    return text(" UNION ALL ".join(parts))


class LogStore:
    """The flight recorder's tables on SQLite or PostgreSQL, behind one interface."""

    def __init__(self, db: Database | str | None = None) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.url, self.writer, self.reader = self.db.url, self.db.writer, self.db.reader
        self.dialect = self.db.dialect
        self._frontier: Frontier | None = None  # the writer's cache of the tree's right edge
        mark = "?" if self.writer.dialect.paramstyle == "qmark" else "%s"
        self._sql = {
            "entries": "INSERT INTO log_entries (idx, leaf_hash, event, type, payload_digest) "
            f"VALUES ({', '.join([mark] * 5)})",
            "nodes": f"INSERT INTO log_nodes (level, idx, hash) VALUES ({mark}, {mark}, {mark})",
            "payloads": f"INSERT INTO payloads (digest, data) VALUES ({mark}, {mark}) "
            "ON CONFLICT DO NOTHING",
            # PostgreSQL: the head row is the lock that orders writers across processes
            # (SQLite's BEGIN IMMEDIATE already holds the database's one write lock).
            "head": "SELECT size FROM log_head WHERE id = 1"
            + (" FOR UPDATE" if self.dialect == "postgresql" else ""),
            "set_head": f"UPDATE log_head SET size = {mark} WHERE id = 1",
            "tally": "INSERT INTO verdict_counts (deployment, hour, stage, action, n) "
            f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT (deployment, hour, stage, action) "
            "DO UPDATE SET n = verdict_counts.n + excluded.n",
            "listing": "INSERT INTO verdict_index (idx, deployment, at, stage, action, found) "
            f"VALUES ({', '.join([mark] * 6)})",
            "found": f"INSERT INTO verdict_monitors (monitor, idx) VALUES ({mark}, {mark})",
        }

    def close(self) -> None:
        self.db.close()

    # -- appends ------------------------------------------------------------------------------

    def append(self, entries: Sequence[NewEntry]) -> int:
        """Append in one transaction; returns the index of the first. Durable on return."""
        with self.writer.begin() as conn:
            # Driver-level statements throughout: on this path SQLAlchemy's statement
            # compilation and parameter processing cost more than the statements themselves.
            size = conn.exec_driver_sql(self._sql["head"]).scalar_one()
            frontier = self._frontier
            if frontier is None or frontier.size != size:
                # Another writer appended since (or first use): rebuild the right edge.
                frontier = self._load_frontier(conn, size)
            first = int(size)
            rows = []
            node_rows = []
            for offset, entry in enumerate(entries):
                rows.append(
                    (first + offset, entry.leaf_hash, entry.event, entry.type, entry.payload_digest)
                )
                for (level, idx), h in frontier.append(entry.leaf_hash):
                    if level:
                        node_rows.append((level, idx, h))
            conn.exec_driver_sql(self._sql["entries"], rows)
            if node_rows:
                conn.exec_driver_sql(self._sql["nodes"], node_rows)
            blobs = {e.payload_digest: e.payload for e in entries if e.payload is not None}
            if blobs:
                conn.exec_driver_sql(self._sql["payloads"], list(blobs.items()))
            listed = [(first + i, e) for i, e in enumerate(map(listing_of, entries)) if e]
            if listed:
                self._list(conn, listed)
            conn.exec_driver_sql(self._sql["set_head"], (first + len(entries),))
        self._frontier = frontier
        return first

    def _list(self, conn: Connection, listed: list[tuple[int, Listing]]) -> None:
        """Verdicts into the traffic index, their monitors, and the hourly counts."""
        tallies = Counter(e.tally for _, e in listed)
        conn.exec_driver_sql(self._sql["tally"], [(*key, n) for key, n in sorted(tallies.items())])
        conn.exec_driver_sql(
            self._sql["listing"],
            [(i, e.deployment, e.at, e.stage, e.action, " ".join(e.found)) for i, e in listed],
        )
        found = [(m, i) for i, e in listed for m in e.found]
        if found:
            conn.exec_driver_sql(self._sql["found"], found)

    def forget_frontier(self) -> None:
        """After a failed append the cached edge may be ahead of the database."""
        self._frontier = None

    def _load_frontier(self, conn: Connection, size: int) -> Frontier:
        keys = Frontier.keys_for_size(size)
        nodes = self._nodes(conn, keys)
        return Frontier(size, [nodes[k] for k in keys])

    # -- reads --------------------------------------------------------------------------------

    def size(self) -> int:
        with self.reader.connect() as conn:
            return int(conn.execute(select(log_head.c.size)).scalar_one())

    def nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        with self.reader.connect() as conn:
            return self._nodes(conn, keys)

    @staticmethod
    def _nodes(conn: Connection, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Hashes of the given perfect subtrees in one round trip of point lookups."""
        if not keys:
            return {}
        params: dict[str, int] = {}
        for n, (level, idx) in enumerate(keys):
            params[f"l{n}"] = level
            params[f"i{n}"] = idx
        rows = conn.execute(_point_lookups(len(keys)), params)
        found = {(int(level), int(idx)): bytes(h) for level, idx, h in rows}
        missing = [k for k in keys if k not in found]
        if missing:
            raise StoreError(f"log is missing subtree hashes {missing[:5]} (damaged or truncated)")
        return found

    def entry(self, index: int) -> StoredEntry | None:
        with self.reader.connect() as conn:
            row = conn.execute(select(log_entries).where(log_entries.c.idx == index)).first()
        return None if row is None else StoredEntry(*row)

    def entries(
        self, start: int = 0, end: int | None = None, chunk: int = 10_000
    ) -> Iterator[StoredEntry]:
        """Entries in index order, read in chunks (memory stays bounded)."""
        position = start
        while end is None or position < end:
            stop = position + chunk if end is None else min(end, position + chunk)
            with self.reader.connect() as conn:
                rows = conn.execute(
                    select(log_entries)
                    .where(log_entries.c.idx >= position, log_entries.c.idx < stop)
                    .order_by(log_entries.c.idx)
                ).all()
            if not rows:
                return
            for row in rows:
                yield StoredEntry(*row)
            position = stop

    def stored_nodes(self, level: int, start: int, end: int) -> dict[int, bytes]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(log_nodes.c.idx, log_nodes.c.hash).where(
                    log_nodes.c.level == level, log_nodes.c.idx >= start, log_nodes.c.idx < end
                )
            )
            return {i: h for i, h in rows}

    def payload(self, digest: str) -> bytes | None:
        with self.reader.connect() as conn:
            return conn.execute(
                select(payloads.c.data).where(payloads.c.digest == digest)
            ).scalar_one_or_none()

    def payloads(self, chunk: int = 1000) -> Iterator[tuple[str, bytes]]:
        last = ""
        while True:
            with self.reader.connect() as conn:
                rows = conn.execute(
                    select(payloads.c.digest, payloads.c.data)
                    .where(payloads.c.digest > last)
                    .order_by(payloads.c.digest)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            for digest, data in rows:
                yield str(digest), bytes(data)
            last = rows[-1][0]

    def delete_payload(self, digest: str) -> bool:
        with self.writer.begin() as conn:
            result = conn.execute(delete(payloads).where(payloads.c.digest == digest))
        return bool(result.rowcount)

    # -- checkpoints --------------------------------------------------------------------------

    def add_checkpoint(self, size: int, note: str) -> None:
        with self.writer.begin() as conn:
            conn.execute(
                insert_ignoring_duplicates(self.writer, checkpoints),
                [{"size": size, "note": note, "created_at": dt.datetime.now(dt.UTC)}],
            )

    def entries_of_type(self, kind: str) -> list[StoredEntry]:
        """Every entry of one event type, in index order (few: keys, halts)."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(log_entries).where(log_entries.c.type == kind).order_by(log_entries.c.idx)
            ).all()
        return [StoredEntry(*row) for row in rows]

    def latest_of_type(self, kind: str, limit: int) -> list[StoredEntry]:
        """The newest ``limit`` entries of one event type, newest first (by the type index)."""
        return self._of_type_before(kind, None, limit)

    def newest_of_type(
        self, kind: str, before: int | None = None, chunk: int = 256
    ) -> Iterator[StoredEntry]:
        """Every entry of one event type below index ``before`` (default: all), newest first,
        read a chunk at a time from the type index (each chunk starts below the last one)."""
        while True:
            rows = self._of_type_before(kind, before, chunk)
            yield from rows
            if len(rows) < chunk:
                return
            before = rows[-1].index

    def _of_type_before(self, kind: str, before: int | None, limit: int) -> list[StoredEntry]:
        query = select(log_entries).where(log_entries.c.type == kind)
        if before is not None:
            query = query.where(log_entries.c.idx < before)
        with self.reader.connect() as conn:
            rows = conn.execute(query.order_by(log_entries.c.idx.desc()).limit(limit)).all()
        return [StoredEntry(*row) for row in rows]

    def verdict_counts(self, deployment: str, since_hour: int) -> dict[tuple[str, str], int]:
        """Verdicts of a deployment from ``since_hour`` (hours since the epoch) on, by (stage,
        action): an indexed read of the hourly counts, not a scan of the log."""
        t = verdict_counts
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(t.c.stage, t.c.action, func.sum(t.c.n))
                .where(t.c.deployment == deployment, t.c.hour >= since_hour)
                .group_by(t.c.stage, t.c.action)
            ).all()
        return {(str(stage), str(action)): int(n) for stage, action, n in rows}

    def verdict_counts_by_hour(
        self, deployment: str, since_hour: int, action: str
    ) -> dict[int, int]:
        """Verdicts of one action by hour, from ``since_hour`` on (any stage)."""
        t = verdict_counts
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(t.c.hour, func.sum(t.c.n))
                .where(t.c.deployment == deployment, t.c.hour >= since_hour, t.c.action == action)
                .group_by(t.c.hour)
            ).all()
        return {int(hour): int(n) for hour, n in rows}

    def listings(
        self,
        where: TrafficFilter,
        before: int | None = None,
        limit: int = 50,
        after: int | None = None,
        scan: int | None = None,
    ) -> TrafficPage:
        """Verdicts matching ``where`` below index ``before`` (and above ``after``), newest
        first: one page read by key from the traffic index, never an offset into it. ``scan``:
        search at most that many records back, so a filter that matches little costs the same
        on a log of any size (the page says where the next one starts)."""
        v, m = verdict_index, verdict_monitors
        query = select(v.c.idx, v.c.deployment, v.c.at, v.c.stage, v.c.action, v.c.found)
        if where.monitor is not None:
            query = query.join(m, m.c.idx == v.c.idx).where(m.c.monitor == where.monitor)
            key = m.c.idx
        else:
            key = v.c.idx
        for column, value in (
            (v.c.deployment, where.deployment),
            (v.c.stage, where.stage),
            (v.c.action, where.action),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(v.c.at >= where.since)
        if where.until is not None:
            query = query.where(v.c.at <= where.until)
        with self.reader.connect() as conn:
            # Times become index bounds (the index grows with time), so a window in the past
            # does not scan everything newer; the time tests stay for stragglers.
            low, high = self._time_bounds(conn, where)
            if low is None:
                return TrafficPage([], None, (0, 0))
            tops = [x for x in (before, high) if x is not None]
            if tops:
                top = min(tops)
            else:
                newest = conn.execute(select(func.max(v.c.idx))).scalar_one_or_none()
                top = (-1 if newest is None else int(newest)) + 1
            floor = max(low, top - scan) if scan is not None else low
            if after is not None:
                floor = max(floor, after + 1)
            rows = conn.execute(
                query.where(key >= floor, key < top).order_by(key.desc()).limit(limit)
            ).all()
        found = [
            (int(i), Listing(d, int(at), st, ac, tuple(f.split()))) for i, d, at, st, ac, f in rows
        ]
        if len(found) == limit:
            older: int | None = found[-1][0]
        else:
            older = floor if floor > low and (after is None or floor > after + 1) else None
        return TrafficPage(found, older, (floor, top))

    @staticmethod
    def _time_bounds(conn: Connection, where: TrafficFilter) -> tuple[int | None, int | None]:
        """The records a time window spans: (first, end exclusive or None); first is None
        when no verdict is that recent."""
        v = verdict_index
        low: int | None = 0
        high: int | None = None
        if where.since is not None:
            low = conn.execute(
                select(v.c.idx).where(v.c.at >= where.since).order_by(v.c.at).limit(1)
            ).scalar_one_or_none()
        if where.until is not None:
            high = conn.execute(
                select(v.c.idx).where(v.c.at > where.until).order_by(v.c.at).limit(1)
            ).scalar_one_or_none()
        return low, high

    def newest_listing(self) -> int:
        """The index of the newest verdict (-1 when there is none)."""
        with self.reader.connect() as conn:
            newest = conn.execute(select(func.max(verdict_index.c.idx))).scalar_one_or_none()
        return -1 if newest is None else int(newest)

    def checkpoints(self) -> list[tuple[int, str]]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(checkpoints.c.size, checkpoints.c.note).order_by(checkpoints.c.size)
            )
            return [(int(s), str(n)) for s, n in rows]
