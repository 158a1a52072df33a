"""How fast a halt reaches every gateway replica that shares a PostgreSQL store.

Starts two `swisscheese serve` processes on one PostgreSQL database, then halts and resumes the
deployment N times through the operations service (what `swisscheese deployment halt` calls).
For each halt it measures, from the moment the halt is committed (and recorded), the time until
both replicas' /readyz answer 503 (polled every millisecond); the same for each resume.

    export SWISSCHEESE_TEST_POSTGRES=$(bash .ci/postgres.sh)
    python bench/killswitch.py [--halts 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from swisscheese.ops import Operations
from swisscheese.recorder import Recorder
from swisscheese.store import AccessStore, Database, LogStore

DEPLOYMENT = "default"


def start(db: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket_port() as port:
        pass
    command = [
        sys.executable, "-m", "swisscheese", "serve", "--no-auth", "--port", str(port),
        "--upstream", "http://127.0.0.1:9/v1", "--db", db,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/healthz", timeout=1)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the gateway did not start: {log.read_text()}")
            time.sleep(0.1)


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def until(client: httpx.Client, urls: list[str], status: int) -> float:
    started = time.perf_counter()
    pending = set(urls)
    while pending:
        for url in list(pending):
            if client.get(url + "/readyz").status_code == status:
                pending.discard(url)
        if time.perf_counter() - started > 10:
            sys.exit(f"{sorted(pending)} never answered {status}")
        if pending:
            time.sleep(0.001)
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--halts", type=int, default=50)
    parser.add_argument("--db", default=os.environ.get("SWISSCHEESE_TEST_POSTGRES"))
    args = parser.parse_args()
    if not args.db or not args.db.startswith("postgresql"):
        sys.exit("give a PostgreSQL URL: --db or SWISSCHEESE_TEST_POSTGRES (.ci/postgres.sh)")
    logs = Path(tempfile.mkdtemp(prefix="killswitch-"))
    database = Database(args.db)
    store = AccessStore(database)
    recorder = Recorder(LogStore(database))
    ops = Operations(store, recorder)
    halts: list[float] = []
    resumes: list[float] = []
    with ExitStack() as stack, httpx.Client(timeout=2) as client:
        replicas = []
        for i in range(2):
            process, url = start(args.db, logs / f"gw{i}.log")
            stack.callback(process.wait, 10)
            stack.callback(process.terminate)
            replicas.append(url)
        if store.halted(DEPLOYMENT):
            ops.resume(DEPLOYMENT, "bench start", "bench")
        until(client, replicas, 200)
        for n in range(args.halts):
            ops.halt(DEPLOYMENT, f"bench halt {n}", "bench")
            halts.append(until(client, replicas, 503))
            ops.resume(DEPLOYMENT, f"bench resume {n}", "bench")
            resumes.append(until(client, replicas, 200))
            time.sleep(0.05)
    recorder.close()
    print(f"{args.halts} halts, 2 gateway processes on one PostgreSQL (LISTEN/NOTIFY push)")
    for name, values in (("halt", halts), ("resume", resumes)):
        print(
            f"{name:6} reached both replicas: p50 {statistics.median(values):.1f} ms, "
            f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
        )


if __name__ == "__main__":
    main()
