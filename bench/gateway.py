"""Gateway overhead: latency added over calling a stub upstream directly (p50, p99) at
concurrency 1 and 32, and requests per second through the gateway with 1 and 2 workers, for the
tier-0 rules alone and for the default policy (tier 0 + the learned injection detector). Every
verdict recorded (SQLite). Side by side in one run.

    .venv/bin/python bench/gateway.py [--requests 2000]

The stub upstream answers at once with a fixed completion, so the figures are the gateway's
own cost (parsing, screening input and output, recording, proxying).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
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


def wrk_run(url: str, concurrency: int, seconds: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) from wrk, a load generator in C that leaves the cores to
    the servers under test."""
    body = json.dumps({"model": "stub", "messages": [{"role": "user", "content": PROMPT}]})
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        script = f.name
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            url + "/chat/completions",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script).unlink()

    def ms(label: str) -> float:
        value = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert value is not None, out
        number, unit = float(value.group(1)), value.group(2)
        return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests:\n{out}")
    assert rps is not None, out
    return ms("50%"), ms("99%"), float(rps.group(1))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tier0_policy(tmp: Path) -> Path:
    """The default policy without its learned rules."""
    from swisscheese.config import default_policy_text

    text = re.sub(
        r"      - monitor: injection[^\n]*\n(?:        [^\n]*\n)*", "", default_policy_text()
    )
    path = tmp / "tier0.yaml"
    path.write_text(text)
    return path


def start_gateway(
    upstream: str, workers: int, tmp: Path, policy: Path | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = str(Path(sys.executable).parent / "swisscheese")
    proc = subprocess.Popen(
        [
            exe,
            "serve",
            *(["--policy", str(policy)] if policy else []),
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
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    tmp = Path(tempfile.mkdtemp(prefix="swisscheese-gw-"))
    stub_port = free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(stub_port)], env=os.environ.copy())
    upstream = f"http://127.0.0.1:{stub_port}/v1"
    wait(f"http://127.0.0.1:{stub_port}/")
    print(f"{args.requests} requests of {len(PROMPT)} characters; verdicts recorded")
    print("load generator:", "wrk" if use_wrk else "httpx (install wrk for less noise)")
    try:
        for label, policy in (("tier 0", tier0_policy(tmp)), ("tier 0 + learned (default)", None)):
            print(f"\n{label}")
            gateway, url = start_gateway(upstream, 1, tmp, policy)
            try:
                asyncio.run(load(url, 50, 4))  # warm-up
                for concurrency in (1, 32):
                    if use_wrk:
                        d50, d99, _ = wrk_run(upstream, concurrency, args.seconds)
                        g50, g99, rps = wrk_run(url, concurrency, args.seconds)
                    else:
                        direct, _ = asyncio.run(load(upstream, args.requests, concurrency))
                        proxied, rps = asyncio.run(load(url, args.requests, concurrency))
                        d50, d99 = pct(direct, 0.5), pct(direct, 0.99)
                        g50, g99 = pct(proxied, 0.5), pct(proxied, 0.99)
                    print(
                        f"concurrency {concurrency:>2}: direct p50 {d50:6.2f} ms p99 {d99:6.2f} ms"
                        f" | through gateway p50 {g50:6.2f} ms p99 {g99:6.2f} ms | added p50 "
                        f"{g50 - d50:6.2f} ms p99 {g99 - d99:6.2f} ms | {rps:5.0f} req/s"
                    )
            finally:
                gateway.terminate()
                gateway.wait()
            gateway, url = start_gateway(upstream, 2, tmp, policy)
            try:
                asyncio.run(load(url, 100, 8))
                if use_wrk:
                    _, _, rps = wrk_run(url, 32, args.seconds)
                else:
                    _, rps = asyncio.run(load(url, args.requests, 32))
                print(f"2 workers, concurrency 32: {rps:.0f} req/s")
            finally:
                gateway.terminate()
                gateway.wait()
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    main()
