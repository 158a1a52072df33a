"""A plain pass-through proxy: the gateway's stack (uvicorn with the same protocol, FastAPI,
the same pooled aiohttp upstream client) without screening or recording. bench/gateway.py
runs it beside the gateway so the cost of screening and recording shows as a ratio.

    .venv/bin/python bench/passthrough.py UPSTREAM_BASE_URL PORT

Several processes may serve one port (SO_REUSEPORT), as workers.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from swisscheese.gateway import GuardedHttpProtocol, HttpUpstream


def make_app(upstream_url: str) -> FastAPI:
    upstream = HttpUpstream(upstream_url)
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        return JSONResponse(await upstream.chat(await request.json()))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    upstream_url, port = sys.argv[1], int(sys.argv[2])
    listener = socket.create_server(("127.0.0.1", port), reuse_port=True)
    config = uvicorn.Config(make_app(upstream_url), log_level="warning", http=GuardedHttpProtocol)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
