"""The kill switch reaches every gateway that shares a PostgreSQL store within a second, and
cuts the streams in flight."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from swisscheese.recorder import Recorder
from tests.conftest import postgres_url, reset_postgres
from tests.helpers.fleet import fleet, wait_ready
from tests.helpers.scripted import chunk, completion, make_scripted
from tests.helpers.servers import serve

WINDOW_POLICY = """
version: 1
deployment: fleet
layers:
  input:
    rules:
      - {monitor: signatures, action: block}
  output:
    stream_mode: window
    stream_window: 16
    rules:
      - {monitor: secrets, action: modify}
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swisscheese", *args], capture_output=True, text=True, timeout=60
    )


# A promise about time, measured on a machine that runs nothing else.
@pytest.mark.serial
def test_a_halt_reaches_every_replica_within_a_second_and_cuts_streams(tmp_path: Path) -> None:
    db = postgres_url()
    assert db is not None
    reset_postgres(db)
    policy = tmp_path / "policy.yaml"
    policy.write_text(WINDOW_POLICY)
    upstream_app, script = make_scripted()
    script.answer = completion({"role": "assistant", "content": "fine"})
    script.chunks = [chunk({"content": f"word{i} "}) for i in range(400)]
    script.delay = 0.02  # an eight-second answer
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with (
        serve(upstream_app) as upstream,
        fleet(upstream + "/v1", db, tmp_path, 2, "--policy", str(policy)) as (a, b),
    ):
        assert httpx.post(a + "/v1/chat/completions", json=body, timeout=30).status_code == 200
        events: list[str] = []

        def stream() -> None:
            with httpx.stream(
                "POST", b + "/v1/chat/completions", json={**body, "stream": True}, timeout=30
            ) as response:
                events.extend(line for line in response.iter_lines() if line.startswith("data:"))

        streaming = threading.Thread(target=stream)
        streaming.start()
        time.sleep(1.0)  # the answer is under way
        started = time.monotonic()
        halted = cli("deployment", "halt", "fleet", "--reason", "drill", "--by", "ops", "--db", db)
        assert halted.returncode == 0, halted.stderr
        reached = wait_ready([a, b], 503, timeout=3.0)
        streaming.join(timeout=10)
        cut_after = time.monotonic() - started
        assert reached < 1.0, f"the halt took {reached:.3f} s to reach both replicas"
        assert cut_after < 3.0  # not the eight seconds the answer would have taken
        assert any("deployment halted" in e for e in events), events[-3:]
        refused = httpx.post(b + "/v1/chat/completions", json=body, timeout=30)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "deployment_halted"
        resumed = cli("deployment", "resume", "fleet", "--reason", "drill over", "--by", "ops",
                      "--db", db)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        assert wait_ready([a, b], 200, timeout=3.0) < 1.0
    with Recorder.open(db) as recorder:
        kinds = [json.loads(e.event)["type"] for e in recorder.store.entries()]
    assert "halt" in kinds
    assert "resume" in kinds
    assert kinds.count("stream") == 1
