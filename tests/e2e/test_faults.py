"""Faults: an upstream that is down, slow, failing, malformed or cut off; a database that is
locked or full; a gateway killed under load. Each ends in a clean OpenAI error or a recorded
answer, never a hang, and afterwards the log verifies and holds every record a response named."""

from __future__ import annotations

import asyncio
import glob
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from swisscheese import Guard
from swisscheese.config import parse_policy
from swisscheese.gateway import HttpUpstream, create_app
from swisscheese.recorder import Recorder
from swisscheese.store import Database, LogStore
from tests.conftest import postgres_url, reset_postgres
from tests.helpers.servers import free_port, serve
from tests.helpers.upstream import make_upstream

ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
}


def faulty_upstream() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        body = await request.json()
        fault = body["messages"][-1]["content"]
        if fault == "slow":
            await asyncio.sleep(3)
        if fault == "error":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        if fault == "invalid json":
            return PlainTextResponse("<html>not json</html>")
        if fault == "no choices":
            return JSONResponse({"id": "x"})
        if not body.get("stream"):
            return JSONResponse(ANSWER)

        async def cut() -> AsyncIterator[bytes]:
            piece = {"choices": [{"index": 0, "delta": {"content": "partial answer " * 20}}]}
            for _ in range(3):
                yield b"data: " + json.dumps(piece).encode() + b"\n\n"
            raise ConnectionError("the upstream went away")

        return StreamingResponse(cut(), media_type="text/event-stream")

    return app


WINDOW = """\
version: 1
deployment: t
layers:
  output:
    stream_mode: window
    stream_window: 32
    rules:
      - monitor: secrets
        action: modify
"""


@contextmanager
def gateway(
    tmp_path: Path, upstream_url: str, policy: str | None = None
) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(LogStore(str(tmp_path / "log.db")))
    guard = Guard(parse_policy(policy) if policy else None, recorder=recorder)
    app = create_app(guard, HttpUpstream(upstream_url + "/v1", timeout=1.0))
    with serve(app) as url:
        yield url, recorder
    guard.close()
    recorder.close()


@contextmanager
def load(url: str, workers: int, timeout: float = 30) -> Iterator[list[httpx.Response]]:
    """Clients posting chat requests to ``url`` until the block ends; yields their answers
    (a client stops at its first connection error)."""
    answered: list[httpx.Response] = []
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(timeout=timeout) as client:
            i = 0
            while not stop.is_set():
                i += 1
                body = {"model": "m", "messages": [{"role": "user", "content": f"q {i}"}]}
                try:
                    answered.append(client.post(url + "/v1/chat/completions", json=body))
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=client_loop) for _ in range(workers)]
    for t in threads:
        t.start()
    try:
        yield answered
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


def _types(recorder: Recorder) -> list[str]:
    return [json.loads(e.event)["type"] for e in recorder.store.entries()]


@pytest.mark.parametrize(
    ("fault", "stream", "status"),
    [
        ("down", False, 502),
        ("slow", False, 504),
        ("slow", True, 504),
        ("error", False, 502),
        ("error", True, 502),
        ("invalid json", False, 502),
        ("no choices", False, 502),
        ("cut", True, 502),
    ],
)
def test_upstream_faults_are_clean_errors_and_recorded(
    tmp_path: Path, fault: str, stream: bool, status: int
) -> None:
    with serve(faulty_upstream()) as upstream_url:
        target = f"http://127.0.0.1:{free_port()}" if fault == "down" else upstream_url
        with gateway(tmp_path, target) as (url, recorder):
            body = {
                "model": "m",
                "messages": [{"role": "user", "content": fault}],
                "stream": stream,
            }
            started = time.monotonic()
            response = httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
            assert time.monotonic() - started < 10
            assert response.status_code == status, response.text
            assert response.json()["error"]["type"] in ("upstream_error", "upstream_timeout")
            assert _types(recorder)[-2:] == ["verdict", "upstream_error"]
            assert recorder.verify().ok


def test_a_window_stream_cut_by_the_upstream_ends_with_an_error_event(tmp_path: Path) -> None:
    with (
        serve(faulty_upstream()) as upstream_url,
        gateway(tmp_path, upstream_url, WINDOW) as (url, recorder),
    ):
        body = {"model": "m", "messages": [{"role": "user", "content": "cut"}], "stream": True}
        response = httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
        events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
        assert json.loads(events[-1])["error"]["type"] == "upstream_error"
        time.sleep(0.2)  # the stream event is written as the response closes
        last = json.loads(recorder.store.entry(recorder.size() - 1).event)  # type: ignore[union-attr]
        assert (last["type"], last["outcome"]) == ("stream", "error")


def test_a_locked_database_delays_answers_but_loses_no_record(tmp_path: Path) -> None:
    upstream_app, _ = make_upstream()
    with serve(upstream_app) as upstream_url, gateway(tmp_path, upstream_url) as (url, recorder):
        holder = sqlite3.connect(str(tmp_path / "log.db"), timeout=30, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(1.5, holder.rollback)
        release.start()
        body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
        endpoint = url + "/v1/chat/completions"

        def post(_: int) -> httpx.Response:
            return httpx.post(endpoint, json=body, timeout=60)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, range(16)))
        release.join()
        holder.close()
        assert {r.status_code for r in responses} == {200}
        _check_every_record(responses, recorder)


def _check_every_record(responses: list[httpx.Response], recorder: Recorder) -> int:
    """Every index any response named is in the log, and the log verifies."""
    named = 0
    for response in responses:
        for index in filter(None, response.headers.get("x-swisscheese-record", "").split(",")):
            entry = recorder.store.entry(int(index))
            assert entry is not None, index
            assert json.loads(entry.event)["type"] == "verdict"
            named += 1
    assert recorder.verify().ok
    return named


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: the log's file system fills up under load."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {done.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_in_the_openai_format_and_keeps_the_log_whole(
    small_disk: Path,
) -> None:
    upstream_app, _ = make_upstream()
    with serve(upstream_app) as upstream_url:
        database = Database(str(small_disk / "log.db"))
        recorder = Recorder(LogStore(database))
        guard = Guard(recorder=recorder)
        app = create_app(guard, HttpUpstream(upstream_url + "/v1"))
        responses = []
        with serve(app) as url:
            filler = "x" * 4000
            for i in range(400):
                body = {"model": "m", "messages": [{"role": "user", "content": f"{i} {filler}"}]}
                response = httpx.post(url + "/v1/chat/completions", json=body, timeout=60)
                responses.append(response)
                if response.status_code != 200:
                    break
            refused = responses[-1]
            assert refused.status_code == 503, refused.text
            assert "flight recorder is unavailable" in refused.json()["error"]["message"]
            subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
            again = httpx.post(
                url + "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "after"}]},
                timeout=60,
            )
            assert again.status_code == 200
            responses.append(again)
        guard.close()
        assert _check_every_record(responses, recorder) >= 2
        recorder.close()
        database.close()


def test_sigkill_under_load_loses_no_acknowledged_record(tmp_path: Path) -> None:
    upstream_app, _ = make_upstream()
    db = tmp_path / "kill.db"
    with serve(upstream_app) as upstream_url:
        port = free_port()
        command = [
            sys.executable, "-m", "swisscheese", "serve", "--no-auth", "--port", str(port),
            "--upstream", upstream_url + "/v1", "--db", str(db),
        ]  # fmt: skip
        log = (tmp_path / "serve.log").open("wb")
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the gateway did not start"
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        with load(url, 8, timeout=10) as answered:
            # Killed once the load is under way (by answers, not by the clock: a busy machine
            # answered fewer than 20 in two seconds), with requests still in flight.
            deadline = time.monotonic() + 60
            while sum(r.status_code == 200 for r in answered) < 30:
                assert time.monotonic() < deadline, "the gateway answered too few requests"
                time.sleep(0.05)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            log.close()
        ok = [r for r in answered if r.status_code == 200]
        assert len(ok) >= 30
    with Recorder(LogStore(str(db))) as recorder:
        assert _check_every_record(ok, recorder) >= len(ok)


def _restart_postgres() -> None:
    """Restart the test server the way an operator would (fast shutdown, then start)."""
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    data = os.environ.get("PGDATA_TEST", "/tmp/swisscheese-pg")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # The server's output goes to its log file: an inherited pipe would never reach EOF.
    command = [*run_as, pg_ctl, "-D", data, "-l", f"{data}/server.log", "-w", "-m", "fast"]
    subprocess.run([*command, "restart"], check=True, stdout=subprocess.DEVNULL, timeout=60)


# It restarts the server every other test on it uses: nothing else may run meanwhile.
@pytest.mark.serial
def test_postgresql_restarted_under_load_loses_no_record(tmp_path: Path) -> None:
    url = postgres_url()
    assert url is not None
    reset_postgres(url)
    upstream_app, _ = make_upstream()
    database = Database(url)
    recorder = Recorder(LogStore(database))
    guard = Guard(recorder=recorder)
    with serve(upstream_app) as upstream_url:
        app = create_app(guard, HttpUpstream(upstream_url + "/v1"))
        with serve(app) as gateway_url, load(gateway_url, 6) as responses:
            time.sleep(1.0)
            _restart_postgres()
            restarted = len(responses)
            time.sleep(2.0)
    guard.close()
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 503}, statuses
    assert any(r.status_code == 200 for r in responses[restarted + 6 :]), "no recovery"
    for r in responses:
        if r.status_code == 503:
            assert "flight recorder is unavailable" in r.json()["error"]["message"]
    assert _check_every_record(responses, recorder) > 0
    recorder.close()
    database.close()
