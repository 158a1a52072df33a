"""How long swisscheese takes to start where a process starts per session or per replica.

- ``serve``: from spawning ``swisscheese serve`` (an HTTP upstream, a SQLite log that exists)
  to its first ``/healthz`` answer.
- ``mcp-proxy``: from spawning an MCP server over stdio to the first tool list, straight and
  through ``swisscheese mcp-proxy`` (the embedded default policy, a SQLite log). An MCP client
  starts the proxy once per agent session, so this is paid at every start; the proxy's extra
  is taken pair by pair.

Every run is a fresh process; the ways alternate. Prints each median with the runs.

    .venv/bin/python bench/start_up.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))  # the tests' MCP server and gateway process

from tests.helpers.fleet import gateway_process  # noqa: E402
from tests.helpers.mcp_server import initial_state  # noqa: E402


async def first_list(command: list[str]) -> float:
    params = StdioServerParameters(command=sys.executable, args=command, cwd=ROOT)
    started = time.perf_counter()
    async with Client(params, cache=None) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    assert tools.tools, "the server offered no tools"
    return elapsed


def gateway_ready(db: str, log: Path) -> float:
    started = time.perf_counter()
    with gateway_process("http://127.0.0.1:9/v1", db, log, step=0.01):
        return time.perf_counter() - started


def show(name: str, times: list[float]) -> None:
    runs = ", ".join(f"{t:.2f}" for t in times)
    print(f"  {name:<24} median {statistics.median(times):5.2f} s  ({runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swisscheese-bench-") as tmp:
        state = Path(tmp) / "state.json"
        state.write_text(json.dumps(initial_state()))
        server = ["-m", "tests.helpers.mcp_server", str(state), "stdio"]
        proxy = [
            "-m", "swisscheese", "mcp-proxy", "--db", f"{tmp}/proxy.db",
            "--pins", f"{tmp}/pins.json", "--", sys.executable, *server,
        ]  # fmt: skip
        db, log = f"{tmp}/gateway.db", Path(tmp) / "serve.log"
        # The first starts create the logs' schemas and the pins: later starts open them.
        anyio.run(first_list, proxy)
        gateway_ready(db, log)
        gateway, direct, proxied = [], [], []
        for _ in range(args.runs):
            gateway.append(gateway_ready(db, log))
            direct.append(anyio.run(first_list, server))
            proxied.append(anyio.run(first_list, proxy))
    print(f"runs: {args.runs} of each, alternating")
    show("swisscheese serve", gateway)
    show("MCP server alone", direct)
    show("through mcp-proxy", proxied)
    extra = [b - a for a, b in zip(direct, proxied, strict=True)]
    show("the proxy's extra", extra)


if __name__ == "__main__":
    main()
