"""How long an agent waits for its first tool list over stdio: straight from an MCP server,
against through `swisscheese mcp-proxy` (the embedded default policy, a SQLite log).

An MCP client starts the proxy once per agent session, so its start-up is paid at every start.
Each run is a fresh official MCP client that spawns the server (or the proxy, which spawns the
server) and times ``initialize`` then ``tools/list``, from the spawn to the list. The two ways
alternate, pair by pair. Prints each way's median and the proxy's extra.

    .venv/bin/python bench/mcp_proxy_start.py [--runs 7]
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
sys.path.insert(0, str(ROOT))  # the tests' MCP server

from tests.helpers.mcp_server import initial_state  # noqa: E402


async def first_list(command: list[str]) -> float:
    params = StdioServerParameters(command=sys.executable, args=command, cwd=ROOT)
    started = time.perf_counter()
    async with Client(params, cache=None) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    assert tools.tools, "the server offered no tools"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swisscheese-bench-") as tmp:
        state = Path(tmp) / "state.json"
        state.write_text(json.dumps(initial_state()))
        server = ["-m", "tests.helpers.mcp_server", str(state), "stdio"]
        proxy = [
            "-m", "swisscheese", "mcp-proxy", "--db", f"{tmp}/log.db",
            "--pins", f"{tmp}/pins.json", "--", sys.executable, *server,
        ]  # fmt: skip
        anyio.run(first_list, proxy)  # the first start writes the log's schema and the pins
        direct, proxied = [], []
        for _ in range(args.runs):
            direct.append(anyio.run(first_list, server))
            proxied.append(anyio.run(first_list, proxy))
    print(f"runs: {args.runs} pairs; from spawning the process to the first tool list")
    d, p = statistics.median(direct), statistics.median(proxied)
    print(f"  the server alone       median {d:6.2f} s  ({', '.join(f'{t:.2f}' for t in direct)})")
    print(f"  through mcp-proxy      median {p:6.2f} s  ({', '.join(f'{t:.2f}' for t in proxied)})")
    extra = [b - a for a, b in zip(direct, proxied, strict=True)]
    print(f"  the proxy's extra      median {statistics.median(extra):6.2f} s (pair by pair)")


if __name__ == "__main__":
    main()
