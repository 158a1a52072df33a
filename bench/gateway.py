"""Gateway overhead, side by side in one run: latency added over calling a stub upstream
directly (p50, p99) at concurrency 1, and requests per second at concurrency 32 with 1 and 2
workers, for a plain pass-through proxy (the same stack, no screening, no record; see
bench/passthrough.py), the default policy with each durability mode, and tier 0 alone. Every
verdict recorded (SQLite, synchronous=FULL). Targets are measured in rounds that alternate
between them, and medians over rounds are reported, because the machines are shared.

    .venv/bin/python bench/gateway.py [--rounds 3] [--seconds 5]

The stub upstream answers at once with a fixed completion, so the figures are the gateway's
own cost (parsing, screening input and output, recording, proxying). wrk (Debian package
``wrk``) is the load generator when installed; httpx otherwise (noisier: it shares the cores).
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
from typing import Any

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
    upstream: str, workers: int, tmp: Path, policy: Path | None, durability: str = "request"
) -> tuple[list[subprocess.Popen[bytes]], str]:
    port = free_port()
    exe = str(Path(sys.executable).parent / "swisscheese")
    db = tmp / f"gw-{port}.db"
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
            "--durability",
            durability,
            "--db",
            str(db),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait(url + "/healthz")
    return [proc], url + "/v1"


def start_passthrough(upstream: str, workers: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    port = free_port()
    script = str(Path(__file__).with_name("passthrough.py"))
    procs = [
        subprocess.Popen([sys.executable, script, upstream, str(port)]) for _ in range(workers)
    ]
    url = f"http://127.0.0.1:{port}"
    wait(url + "/healthz")
    return procs, url + "/v1"


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()


def measure(url: str, concurrency: int, seconds: int, use_wrk: bool) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) at a fixed concurrency."""
    if use_wrk:
        return wrk_run(url, concurrency, seconds)
    n = max(200, 150 * seconds) if concurrency == 1 else max(1000, 600 * seconds)
    latencies, rps = asyncio.run(load(url, n, concurrency))
    return pct(latencies, 0.5), pct(latencies, 0.99), rps


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per measurement")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    tmp = Path(tempfile.mkdtemp(prefix="swisscheese-gw-"))
    stub_port = free_port()
    stub = subprocess.Popen([sys.executable, "-c", STUB, str(stub_port)], env=os.environ.copy())
    upstream = f"http://127.0.0.1:{stub_port}/v1"
    wait(f"http://127.0.0.1:{stub_port}/")
    tier0 = tier0_policy(tmp)
    targets: dict[str, Any] = {
        "pass-through proxy": lambda w: start_passthrough(upstream, w),
        "gateway, default policy, durability request": lambda w: start_gateway(
            upstream, w, tmp, None, "request"
        ),
        "gateway, default policy, durability stage": lambda w: start_gateway(
            upstream, w, tmp, None, "stage"
        ),
        "gateway, tier 0 only, durability request": lambda w: start_gateway(
            upstream, w, tmp, tier0, "request"
        ),
    }
    print(f"prompt of {len(PROMPT)} characters; every verdict recorded; {args.rounds} rounds")
    print("load generator:", "wrk" if use_wrk else "httpx (install wrk for less noise)")
    c1: dict[str, list[tuple[float, float]]] = {name: [] for name in ["direct", *targets]}
    rps: dict[tuple[str, int], list[float]] = {}
    try:
        running = {name: start(1) for name, start in targets.items()}
        for _, url in running.values():
            asyncio.run(load(url, 100, 4))  # warm-up: models loaded, connections pooled
        for _ in range(args.rounds):
            p50, p99, _ = measure(upstream, 1, args.seconds, use_wrk)
            c1["direct"].append((p50, p99))
            for name, (_, url) in running.items():
                p50, p99, _ = measure(url, 1, args.seconds, use_wrk)
                c1[name].append((p50, p99))
                _, _, r = measure(url, 32, args.seconds, use_wrk)
                rps.setdefault((name, 1), []).append(r)
        for procs, _ in running.values():
            stop(procs)
        for name in ("pass-through proxy", "gateway, default policy, durability request"):
            procs, url = targets[name](2)
            try:
                asyncio.run(load(url, 200, 8))
                for _ in range(args.rounds):
                    rps.setdefault((name, 2), []).append(measure(url, 32, args.seconds, use_wrk)[2])
            finally:
                stop(procs)
    finally:
        stub.terminate()
        stub.wait()
    direct50 = median([p for p, _ in c1["direct"]])
    direct99 = median([p for _, p in c1["direct"]])
    base = median([p for p, _ in c1["pass-through proxy"]]) - direct50
    print(f"\nconcurrency 1 (median of rounds): direct p50 {direct50:.2f} ms p99 {direct99:.2f} ms")
    for name in targets:
        p50 = median([p for p, _ in c1[name]])
        p99 = median([p for _, p in c1[name]])
        added = p50 - direct50
        ratio = f"{added / base:4.1f}x the proxy's" if base > 0 else ""
        print(
            f"  {name:<45} p50 {p50:6.2f} ms p99 {p99:6.2f} ms | added p50 {added:5.2f} ms "
            f"p99 {p99 - direct99:5.2f} ms {ratio}"
        )
    print("\nconcurrency 32, requests/s (median of rounds)")
    for (name, workers), values in rps.items():
        print(f"  {name:<45} {workers} worker{'s' if workers > 1 else ' '} {median(values):6.0f}")


if __name__ == "__main__":
    main()
