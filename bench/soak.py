"""Soak: the gateway at a fixed request rate for a long while (default 10 minutes at 50 req/s,
open loop: requests are sent on schedule whether or not earlier ones finished), against the
stub upstream. Prints, per minute: requests, errors, p50/p99 latency added over the upstream
called directly, and the gateway's resident memory; at the end, records lost (responses whose
x-swisscheese-record entries are not in the log) and whether the log verifies.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 50] [--workers 1]

Not part of CI: it takes as long as it is asked to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from gateway import PROMPT, STUB, free_port, pct, wait

BODY = {"model": "stub", "messages": [{"role": "user", "content": PROMPT}]}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the workers), in MB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


async def direct_p50(url: str, n: int = 300) -> float:
    async with httpx.AsyncClient(timeout=30) as client:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            await client.post(url + "/chat/completions", json=BODY)
            times.append((time.perf_counter() - t0) * 1000)
    return pct(times, 0.5)


async def soak(url: str, pid: int, minutes: float, rate: float, base: float) -> list[int]:
    """Run the load; print a line per minute; return every record index the gateway named."""
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    records: list[int] = []
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        minute: dict[str, list[float]] = {"ok": [], "errors": []}
        tasks: set[asyncio.Task[None]] = set()

        async def one() -> None:
            t0 = time.perf_counter()
            try:
                response = await client.post(url + "/chat/completions", json=BODY)
            except httpx.HTTPError:
                minute["errors"].append(1)
                return
            if response.status_code != 200:
                minute["errors"].append(1)
                return
            minute["ok"].append((time.perf_counter() - t0) * 1000)
            records.extend(int(i) for i in response.headers["x-swisscheese-record"].split(","))

        start = time.perf_counter()
        sent = 0
        next_report = 60.0
        print("minute  requests  errors  added p50 ms  added p99 ms  RSS MB", flush=True)
        while (elapsed := time.perf_counter() - start) < minutes * 60:
            due = int(elapsed * rate) + 1
            while sent < due:
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            if elapsed >= next_report:
                report(int(next_report // 60), minute, base, pid)
                minute = {"ok": [], "errors": []}
                next_report += 60.0
            await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start)))
        await asyncio.gather(*tasks)
        if minute["ok"] or minute["errors"]:
            report(int(next_report // 60), minute, base, pid)
    return records


def report(number: int, minute: dict[str, list[float]], base: float, pid: int) -> None:
    ok, errors = minute["ok"], minute["errors"]
    print(
        f"{number:>6}  {len(ok):>8}  {len(errors):>6}  "
        f"{pct(ok, 0.5) - base if ok else float('nan'):>12.2f}  "
        f"{pct(ok, 0.99) - base if ok else float('nan'):>12.2f}  {rss_mb(pid):>6.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="swisscheese-soak-"))
    stub_port, port = free_port(), free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(stub_port)])
    upstream = f"http://127.0.0.1:{stub_port}/v1"
    wait(f"http://127.0.0.1:{stub_port}/")
    exe = str(Path(sys.executable).parent / "swisscheese")
    db = str(tmp / "soak.db")
    gateway = subprocess.Popen(
        [exe, "serve", "--upstream", upstream, "--port", str(port), "--no-auth",
         "--workers", str(args.workers), "--db", db],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait(f"http://127.0.0.1:{port}/healthz")
        base = asyncio.run(direct_p50(upstream))
        print(f"{args.minutes:g} min at {args.rate:g} req/s, {args.workers} worker(s); "
              f"upstream p50 {base:.2f} ms; RSS at start {rss_mb(gateway.pid):.0f} MB")  # fmt: skip
        records = asyncio.run(soak(url, gateway.pid, args.minutes, args.rate, base))
    finally:
        gateway.terminate()
        gateway.wait()
        stub.terminate()
        stub.wait()
    verify = subprocess.run(
        [exe, "log", "verify", "--json", "--db", db], capture_output=True, text=True
    )
    report = json.loads(verify.stdout)
    from swisscheese.store import LogStore

    store = LogStore(db)
    present = {e.index for e in store.entries()}
    store.close()
    lost = [i for i in records if i not in present]
    print(f"records named in responses: {len(records)}; lost: {len(lost)}; "
          f"log verifies: {report['ok']} ({report['size']} entries)")  # fmt: skip


if __name__ == "__main__":
    main()
