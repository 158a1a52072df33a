"""Operator console speed over a large log: the traffic page's first load and filtered queries.

Builds (once, then reuses) a store of --events recorded verdicts (three deployments, input and
output stages, a realistic mix of actions and monitors), runs `swisscheese console` on it as
its own process, signs in, and times GET requests of the traffic page over HTTP: the first
page, a page deep in the past (paged by key), and filters by action, monitor, deployment and
stage, a time window, and a filter that matches nothing. Prints the median and p95 of each.

    .venv/bin/python bench/console.py [--events 1000000] [--db PATH|URL] [--runs 30]

Targets (issue 18): first load p50 <= 200 ms, a filtered query <= 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from swisscheese.console.users import ConsoleUsers
from swisscheese.core import canonical_json, merkle
from swisscheese.core.stamps import stamp
from swisscheese.recorder.events import EVENT_VERSION
from swisscheese.store import Listing, LogStore, NewEntry, TrafficFilter, UserStore

PASSWORD = "bench console password"
DEPLOYMENTS = ("shop", "support", "agents")
ACTIONS = [("allow", 0.90), ("log", 0.02), ("flag", 0.03), ("block", 0.04), ("escalate", 0.01)]
MONITORS = ("signatures", "secrets", "pii", "injection", "harmful-request", "unicode")


def entry(body: dict[str, Any]) -> NewEntry:
    """A verdict leaf as the recorder prepares one, at the time the body gives."""
    data = canonical_json({"v": EVENT_VERSION, "type": "verdict", **body})
    return NewEntry(data, merkle.leaf_hash(data), "verdict", listing=Listing.of(body))


def build(db: str, events: int, days: int) -> None:
    """Append ``events`` verdicts spread over the last ``days`` days, in batches of the size the
    gateway's writer commits under load."""
    log = LogStore(db)
    have = log.size()
    if have >= events:
        print(f"reusing {db}: {have:,} entries")
        log.close()
        return
    rng = random.Random(have)
    start_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    step = dt.timedelta(days=days) / events
    actions, weights = zip(*ACTIONS, strict=True)
    started = time.perf_counter()
    batch = 5000
    for start in range(have, events, batch):
        entries: list[NewEntry] = []
        for _ in range(min(batch, events - start)):
            action = rng.choices(actions, weights)[0]
            found = [] if action == "allow" else rng.sample(MONITORS, rng.randint(1, 2))
            at = start_at + step * (start + len(entries))
            event = {
                "time": stamp(at),
                "deployment": rng.choice(DEPLOYMENTS),
                "verdict": f"{rng.getrandbits(128):032x}",
                "stage": rng.choice(("input", "output")),
                "layer": None,
                "action": action,
                "policy": "sha256:" + "0" * 64,
                "content": f"sha256:{rng.getrandbits(256):064x}",
                "runs": {m: "ok" for m in MONITORS[:3]},
                **({"found": sorted(found)} if found else {}),
            }
            entries.append(entry(event))
        log.append(entries)
        if start // batch % 20 == 0:
            done = start + len(entries)
            rate = (done - have) / (time.perf_counter() - started)
            print(f"  {done:,} entries ({rate:,.0f}/s)", flush=True)
    log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in(client: httpx.Client) -> None:
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, "no sign-in form"
    data = {"name": "bench", "password": PASSWORD, "csrf": token.group(1)}
    answer = client.post("/console/login", data=data)
    assert answer.status_code == 303, answer.text[:200]


def timed(client: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    times = []
    rows = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        rows = response.text.count("<tr data-index")
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "console-bench.db"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--days", type=int, default=30, help="The span the verdicts cover.")
    args = parser.parse_args()
    build(args.db, args.events, args.days)
    users = ConsoleUsers(UserStore(args.db), None)
    if users.store.user("bench") is None:
        users.add("bench", "viewer", PASSWORD, by="bench")
    users.store.close()
    log = LogStore(args.db)
    newest = log.newest_listing()
    middle = log.listings(TrafficFilter(), newest - args.events // 2, 1).rows
    log.close()
    at = dt.datetime.fromtimestamp(middle[0][1].at, dt.UTC) if middle else dt.datetime.now(dt.UTC)
    window = f"since={(at - dt.timedelta(hours=1)):%Y-%m-%dT%H:%M}&until={at:%Y-%m-%dT%H:%M}"
    port = free_port()
    env = {**os.environ, "SWISSCHEESE_LOAD_PLUGINS": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "swisscheese", "console", "--port", str(port), "--db", args.db],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/console/login", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the console did not start") from None
                time.sleep(0.2)
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
            sign_in(client)
            half = newest - args.events // 2
            cases = [
                ("first load (newest 50)", ""),
                ("a page half the log back", f"before={half}"),
                ("an hour, half the log back", window),
                *((q, q) for q in (
                    "action=block",
                    "action=escalate&deployment=support",
                    "monitor=unicode",
                    "deployment=agents&stage=output",
                    "action=halt",
                    "action=halt&deployment=shop",
                    "monitor=unicode&action=allow",
                    "deployment=agents&action=escalate&stage=input&monitor=unicode",
                )),
            ]  # fmt: skip
            print(f"console over {args.events:,} verdicts ({args.db}); {args.runs} runs each")
            print(f"{'traffic page':62} {'p50 ms':>7} {'p95 ms':>7} {'rows':>5}")
            for label, query in cases:
                p50, p95, rows = timed(client, f"/console/traffic?{query}", args.runs)
                print(f"{label:62} {p50:7.1f} {p95:7.1f} {rows:5}")
            p50, p95, _ = timed(client, f"/console/records/{newest}", args.runs)
            print(f"{'a record page':62} {p50:7.1f} {p95:7.1f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
