"""Live traffic: verdicts as they are recorded, filtered and paged by key; a record's page and
its inclusion proof."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from swisscheese.console._web import NeedSignIn, Refused, render, require, root, session, state
from swisscheese.console.auth import Permission
from swisscheese.console.verify import verify_record
from swisscheese.core import Action, Stage, left_out
from swisscheese.store import Listing, LogStore, TrafficFilter

router = APIRouter()

ACTIONS = [a.value for a in Action]
STAGES = [s.value for s in Stage]
HEARTBEAT_S = 15.0
SCAN = 200_000
"""Records one traffic page searches back at most (the page says how far it looked)."""


def _time(value: str | None, field: str) -> int | None:
    """A ``datetime-local`` input (UTC) or ISO time as epoch seconds."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{field}: not a date and time ({value[:40]!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


@dataclass(frozen=True)
class Query:
    where: TrafficFilter
    fields: dict[str, str]
    """The filter as given, for links and the form."""


def _query(params: Mapping[str, str]) -> Query:
    fields = {
        k: params.get(k, "").strip()
        for k in ("deployment", "stage", "action", "monitor", "since", "until")
    }
    if fields["stage"] and fields["stage"] not in STAGES:
        raise Refused(400, f"stage: one of {', '.join(STAGES)}")
    if fields["action"] and fields["action"] not in ACTIONS:
        raise Refused(400, f"action: one of {', '.join(ACTIONS)}")
    where = TrafficFilter(
        deployment=fields["deployment"] or None,
        stage=fields["stage"] or None,
        action=fields["action"] or None,
        monitor=fields["monitor"] or None,
        since=_time(fields["since"], "since"),
        until=_time(fields["until"], "until"),
    )
    return Query(where, {k: v for k, v in fields.items() if v})


def _cursor(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise Refused(400, f"{name}: a record number")
    return int(value)


def row_view(index: int, listing: Listing) -> dict[str, Any]:
    return {
        "index": index,
        "time": dt.datetime.fromtimestamp(listing.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "deployment": listing.deployment,
        "stage": listing.stage,
        "action": listing.action,
        "found": listing.found,
    }


def _layer_counts(log: LogStore, names: list[str]) -> dict[str, dict[str, int]]:
    """Verdicts of the last 24 hours by stage and action (the hourly counts, not a scan)."""
    since = int(dt.datetime.now(dt.UTC).timestamp()) // 3600 - 23
    counts: dict[str, dict[str, int]] = {}
    for name in names:
        for (stage, action), n in log.verdict_counts(name, since).items():
            by_action = counts.setdefault(stage, {})
            by_action[action] = by_action.get(action, 0) + n
    return dict(
        sorted(counts.items(), key=lambda kv: STAGES.index(kv[0]) if kv[0] in STAGES else 99)
    )


@router.get("/traffic", name="traffic")
def traffic(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    query = _query(request.query_params)
    before = _cursor(request.query_params.get("before"), "before")
    st = state(request)
    size = st.settings.page_size
    deployments = [d.name for d in st.ops.store.deployments()]
    newest = st.log.newest_listing()
    page = st.log.listings(query.where, before, size, scan=SCAN)
    older = (
        f"{root(request)}/traffic?{urlencode(query.fields | {'before': page.older})}"
        if page.older is not None
        else None
    )
    since = {"after": newest} if newest >= 0 else {}  # none yet: the stream sends from the first
    stream = f"{root(request)}/traffic/stream?{urlencode(query.fields | since)}"
    return render(
        request,
        "traffic.html",
        current,
        rows=[row_view(i, e) for i, e in page.rows],
        query=query.fields,
        older=older,
        searched=(
            (page.searched[0], page.searched[1] - 1)
            if len(page.rows) < size and page.older is not None
            else None
        ),
        paged=before is not None,
        stream=None if before is not None else stream,
        counts=_layer_counts(
            st.log, [query.where.deployment] if query.where.deployment else deployments
        ),
        actions=ACTIONS,
        stages=STAGES,
        deployments=deployments,
    )


@router.get("/traffic/stream")
async def traffic_stream(request: Request) -> Response:
    """New verdicts matching the filter, as server-sent events carrying their rendered rows."""
    await anyio.to_thread.run_sync(require, request, Permission.VIEW)
    query = _query(request.query_params)
    start = _cursor(request.query_params.get("after"), "after")
    after = -1 if start is None else start
    st = state(request)
    row = st.templates.get_template("_row.html")
    base = root(request)

    async def events() -> AsyncIterator[str]:
        nonlocal after
        quiet = 0.0
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            # A session that ended (signed out, user removed) ends its stream too.
            try:
                await anyio.to_thread.run_sync(session, request)
            except NeedSignIn:
                yield "event: signed-out\ndata: {}\n\n"
                return
            page = await anyio.to_thread.run_sync(
                partial(st.log.listings, query.where, None, 200, after)
            )
            rows = page.rows
            for index, listing in reversed(rows):
                html = row.render(r=row_view(index, listing), root=base)
                yield f"event: verdict\nid: {index}\ndata: {json.dumps({'html': html})}\n\n"
                after = max(after, index)
            quiet = 0.0 if rows else quiet + st.settings.stream_poll_s
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await anyio.sleep(st.settings.stream_poll_s)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def scored_by(detail: Any) -> str:
    """How a learned detector's finding was scored, from its recorded detail: the tier, an
    ensemble's members, and the members a degraded decision was taken without."""
    if not isinstance(detail, dict) or "tier" not in detail:
        return ""
    members = detail.get("members")
    scores = (
        ", ".join(
            f"{tier} {score:.3f}"
            for tier, score in members.items()
            if isinstance(score, int | float)
        )
        if isinstance(members, dict)
        else ""
    )
    if missing := left_out(detail):
        why = "; ".join(f"{tier} left out: {reason}" for tier, reason in missing.items())
        return f"ensemble degraded to {scores} alone ({why})"
    if detail["tier"] == "ensemble" and scores:
        return f"ensemble of {scores}"
    return f"{detail['tier']} tier"


def _segments(text: str, findings: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """The text cut at the findings' spans: (piece, the monitors that marked it or None)."""
    marks: list[set[str]] = [set() for _ in text]
    for f in findings:
        for start, end in f.get("spans", []):
            for i in range(max(0, int(start)), min(len(text), int(end))):
                marks[i].add(str(f.get("monitor")))
    out: list[tuple[str, str | None]] = []
    for i, ch in enumerate(text):
        label = ", ".join(sorted(marks[i])) or None
        if out and out[-1][1] == label:
            out[-1] = (out[-1][0] + ch, label)
        else:
            out.append((ch, label))
    return out


@router.get("/records/{index}", name="record")
def record(request: Request, index: int) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    log = state(request).log
    entry = log.entry(index)
    if entry is None:
        raise Refused(404, f"no record {index}")
    event = json.loads(entry.event)
    payload: Any = None
    if entry.payload_digest:
        data = log.payload(entry.payload_digest)
        payload = json.loads(data) if data is not None else None
    verdict = payload.get("verdict") if isinstance(payload, dict) else None
    text = payload.get("text") if isinstance(payload, dict) else None
    redacted = bool(isinstance(payload, dict) and payload.get("redacted"))
    findings = verdict.get("findings", []) if isinstance(verdict, dict) else []
    findings = [{**f, "scored_by": scored_by(f.get("detail"))} for f in findings]
    segments = _segments(text, findings) if isinstance(text, str) and not redacted else None
    return render(
        request,
        "record.html",
        current,
        index=index,
        event=event,
        event_json=json.dumps(event, indent=2, ensure_ascii=False),
        payload=payload,
        payload_erased=bool(entry.payload_digest) and payload is None,
        verdict=verdict,
        text=text,
        redacted=redacted,
        segments=segments,
        findings=findings,
        leaf=entry.leaf_hash.hex(),
    )


@router.get("/records/{index}/verify", name="verify")
def verify(request: Request, index: int) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    recorder = state(request).recorder
    if recorder is None:
        raise Refused(503, "this console has no flight recorder to verify against")
    return render(request, "verify.html", current, result=verify_record(recorder, index))
