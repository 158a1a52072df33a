"""Denial of service and failures: nothing a client or an upstream does grows the gateway's
memory without bound, holds its connections forever, or goes unrecorded."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from swisscheese import Guard
from swisscheese.gateway import AccessControl, GatewaySettings, HttpUpstream, create_app
from swisscheese.gateway._server import GuardedHttpProtocol
from swisscheese.recorder import Recorder
from swisscheese.store import AccessStore, LogStore
from tests.helpers.servers import serve

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STOPPED = threading.Event()  # set when the misbehaving upstream's stream is closed


class QuickProtocol(GuardedHttpProtocol):
    header_timeout_s = 0.5


def misbehaving_upstream() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        body = await request.json()
        how = body["messages"][-1]["content"]
        if how == "fail":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if how == "huge":
            text = "x" * 300_000
            return JSONResponse({"choices": [{"message": {"content": text}}]})

        async def endless() -> AsyncIterator[bytes]:
            slow = how == "slow endless"
            piece = {
                "choices": [{"index": 0, "delta": {"content": "ok " if slow else "spam " * 200}}]
            }
            try:
                while True:
                    yield b"data: " + json.dumps(piece).encode() + b"\n\n"
                    await asyncio.sleep(0.05 if slow else 0)
            finally:
                STOPPED.set()

        return StreamingResponse(endless(), media_type="text/event-stream")

    return app


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Recorder, AccessStore]]:
    recorder = Recorder(LogStore(str(tmp_path / "log.db")))
    store = AccessStore(str(tmp_path / "access.db"))
    guard = Guard(recorder=recorder)
    access = AccessControl(store, guard.deployment, require_auth=True)
    with serve(misbehaving_upstream()) as upstream_url:
        app = create_app(
            guard,
            HttpUpstream(upstream_url + "/v1", max_answer_bytes=100_000),
            GatewaySettings(body_timeout_s=0.5),
            access,
        )
        with serve(app, http=QuickProtocol) as url:
            yield url, recorder, store
    guard.close()
    recorder.close()
    store.close()


def test_oversized_headers_get_431_in_the_openai_format(
    gateway: tuple[str, Recorder, AccessStore],
) -> None:
    url, _, _ = gateway
    response = httpx.post(
        url + "/v1/chat/completions",
        json=BODY,
        headers={"authorization": "Bearer " + "k" * 100_000},
    )
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"


def test_bogus_keys_do_not_grow_the_key_cache(tmp_path: Path) -> None:
    store = AccessStore(str(tmp_path / "a.db"))
    access = AccessControl(store, "d", cache_size=64)

    async def many() -> None:
        for i in range(500):
            with pytest.raises(Exception, match="invalid API key"):
                await access.authenticate(f"Bearer bogus-{i}-" + "z" * 300)
        with pytest.raises(Exception, match="invalid API key"):
            await access.authenticate("Bearer " + "z" * 5_000_000)

    asyncio.run(many())
    assert len(access._keys) == 64
    assert all(len(k) == 32 for k in access._keys)  # digests, not the secrets sent
    store.close()


def test_a_connection_whose_headers_trickle_in_is_closed(
    gateway: tuple[str, Recorder, AccessStore],
) -> None:
    url, _, _ = gateway
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(5)
        started = time.monotonic()
        assert s.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 4


def test_a_body_that_never_arrives_gets_408(gateway: tuple[str, Recorder, AccessStore]) -> None:
    url, _, store = gateway
    _, secret = store.create_key("app")
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"content-type: application/json\r\ncontent-length: 100\r\n"
            b"authorization: Bearer " + secret.encode() + b'\r\n\r\n{"model"'
        )
        s.settimeout(5)
        assert s.recv(200).startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize(("how", "stream"), [("huge", False), ("endless", True)])
def test_an_answer_past_the_limit_stops_reading_and_is_recorded(
    gateway: tuple[str, Recorder, AccessStore], how: str, stream: bool
) -> None:
    url, recorder, store = gateway
    _, secret = store.create_key("app")
    body = {**BODY, "messages": [{"role": "user", "content": how}], "stream": stream}
    response = httpx.post(
        url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert response.status_code == 502
    assert "exceeded 100000 bytes" in response.json()["error"]["message"]
    assert _recorded_types(recorder)[-1] == "upstream_error"


def test_an_upstream_failure_is_recorded_and_counted(
    gateway: tuple[str, Recorder, AccessStore],
) -> None:
    url, recorder, store = gateway
    _, secret = store.create_key("app")
    headers = {"authorization": f"Bearer {secret}"}
    body = {**BODY, "messages": [{"role": "user", "content": "fail"}]}
    response = httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert response.status_code == 502
    assert _recorded_types(recorder)[-2:] == ["verdict", "upstream_error"]
    metrics = httpx.get(url + "/metrics", headers=headers).text
    assert 'swisscheese_errors_total{kind="502"} 1.0' in metrics


class Broken:
    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("a bug")

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise RuntimeError("a bug")

    async def models(self) -> dict[str, Any]:
        raise RuntimeError("a bug")

    async def aclose(self) -> None:
        return None


def test_an_internal_error_is_a_counted_500_in_the_openai_format() -> None:
    guard = Guard()
    with serve(create_app(guard, Broken())) as url:
        response = httpx.post(url + "/v1/chat/completions", json=BODY, timeout=30)
        assert response.status_code == 500
        assert response.json()["error"]["type"] == "server_error"
        assert 'swisscheese_errors_total{kind="500"} 1.0' in httpx.get(url + "/metrics").text
    guard.close()


def _recorded_types(recorder: Recorder) -> list[str]:
    return [json.loads(e.event)["type"] for e in recorder.store.entries()]


def test_buffering_stops_when_the_client_leaves(gateway: tuple[str, Recorder, AccessStore]) -> None:
    url, _, store = gateway
    _, secret = store.create_key("app")
    STOPPED.clear()
    body = {**BODY, "messages": [{"role": "user", "content": "slow endless"}], "stream": True}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(5, read=1.0),
        )
    # The gateway notices within a poll interval and closes the upstream stream.
    assert STOPPED.wait(5), "the gateway kept reading after the client left"


def test_connections_from_a_listening_descriptor_do_not_wait_for_delayed_acks() -> None:
    """serve hands uvicorn a descriptor, which uvicorn wraps as a Unix socket: the event loop
    then leaves Nagle on, and each keep-alive answer waited 40 ms for the client's ACK."""
    from swisscheese.gateway._server import no_delay

    class Transport(asyncio.BaseTransport):
        def __init__(self, sock: socket.socket) -> None:
            super().__init__()
            self.sock = sock

        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return self.sock if name == "socket" else default

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        # As uvicorn wraps an fd: the family it reports is AF_UNIX.
        wrapped = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=accepted.detach())
        assert wrapped.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        no_delay(Transport(wrapped))
        assert wrapped.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        wrapped.close()
        client.close()
