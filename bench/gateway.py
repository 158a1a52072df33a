"""Gateway overhead: latency added over calling a stub upstream directly (p50, p99) at
concurrency 1 and 32, and requests per second through the gateway with 1 and 2 workers.
Tier-0 default policy; every verdict recorded (SQLite). Side by side in one run.

    .venv/bin/python bench/gateway.py [--requests 2000]

The stub upstream answers at once with a fixed completion, so the figures are the gateway's
own cost (parsing, screening input and output, recording, proxying).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

STUB = textwrap.dedent("""
    import json, sys, time
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = {"id": "c", "object": "chat.completion", "created": 0, "model": "stub",
                  "choices": [{"index": 0, "finish_reason": "stop", "message": {
                      "role": "assistant",
                      "content": "Lisbon in May is lovely; start in Alfama, then take tram 28."}}]}
        data = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
""")

PROMPT = (
    "I pasted the notes below; please turn them into a short action list. The team discussed "
    "the database migration yesterday and we need a decision by Friday. Please keep the tone "
    "friendly but precise, and mention any open risks. "
) * 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def load(url: str, n: int, concurrency: int) -> tuple[list[float], float]:
    body = {"model": "stub", "messages": [{"role": "user", "content": PROMPT}]}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        queue = list(range(n))

        async def worker() -> None:
            while queue:
                queue.pop()
                t0 = time.perf_counter()
                response = await client.post(url + "/chat/completions", json=body)
                response.raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return latencies, n / elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_gateway(upstream: str, workers: int, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = str(Path(sys.executable).parent / "swisscheese")
    proc = subprocess.Popen(
        [
            exe,
            "serve",
            "--upstream",
            upstream,
            "--port",
            str(port),
            "--no-auth",
            "--workers",
            str(workers),
            "--db",
            str(tmp / f"gw{workers}.db"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait(url + "/healthz")
    return proc, url + "/v1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="swisscheese-gw-"))
    stub_port = free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(stub_port)], env=os.environ.copy())
    upstream = f"http://127.0.0.1:{stub_port}/v1"
    wait(f"http://127.0.0.1:{stub_port}/")
    print(
        f"{args.requests} requests of {len(PROMPT)} characters; default tier-0 policy; "
        "verdicts recorded\n"
    )
    try:
        gateway, url = start_gateway(upstream, 1, tmp)
        try:
            asyncio.run(load(url, 50, 4))  # warm-up
            for concurrency in (1, 32):
                direct, _ = asyncio.run(load(upstream, args.requests, concurrency))
                proxied, rps = asyncio.run(load(url, args.requests, concurrency))
                print(
                    f"concurrency {concurrency:>2}: direct p50 {pct(direct, 0.5):6.2f} ms "
                    f"p99 {pct(direct, 0.99):6.2f} ms | through gateway p50 "
                    f"{pct(proxied, 0.5):6.2f} ms p99 {pct(proxied, 0.99):6.2f} ms | added "
                    f"p50 {pct(proxied, 0.5) - pct(direct, 0.5):6.2f} ms p99 "
                    f"{pct(proxied, 0.99) - pct(direct, 0.99):6.2f} ms | {rps:5.0f} req/s"
                )
        finally:
            gateway.terminate()
            gateway.wait()
        gateway, url = start_gateway(upstream, 2, tmp)
        try:
            asyncio.run(load(url, 100, 8))
            _, rps = asyncio.run(load(url, args.requests, 32))
            print(f"\n2 workers, concurrency 32: {rps:.0f} req/s")
        finally:
            gateway.terminate()
            gateway.wait()
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    main()
