"""Window-mode streaming: text is released only after the window ahead of it was checked."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from swisscheese import Guard
from swisscheese.config import parse_policy
from swisscheese.gateway import HttpUpstream, create_app
from swisscheese.recorder import Recorder
from swisscheese.store import LogStore
from tests.helpers.servers import serve
from tests.helpers.upstream import KEY, make_upstream

POLICY = """\
version: 1
deployment: t
layers:
  output:
    stream_mode: window
    stream_window: 64
    rules:
      - monitor: secrets
        action: {action}
"""


def gateway(tmp_path: Path, action: str) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(LogStore(str(tmp_path / "w.db")))
    guard = Guard(parse_policy(POLICY.format(action=action)), recorder=recorder)
    upstream_app, _ = make_upstream()
    with (
        serve(upstream_app) as upstream_url,
        serve(create_app(guard, HttpUpstream(upstream_url + "/v1"))) as url,
    ):
        yield url, recorder
    guard.close()
    recorder.close()


@pytest.fixture(params=["block", "modify"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Recorder, str]]:
    for url, recorder in gateway(tmp_path, request.param):
        yield url, recorder, request.param


def stream(url: str, text: str) -> list[dict[str, Any]]:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": text}]}
    chunks = []
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.headers["x-swisscheese-stream"] == "window=64"
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    return chunks


def content(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def stream_events(recorder: Recorder) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = [json.loads(e.event) for e in recorder.store.entries() if e.type == "stream"]
        if events:
            return events
        time.sleep(0.05)
    return []


def test_benign_text_streams_progressively_and_whole(stack: tuple[str, Recorder, str]) -> None:
    url, recorder, _ = stack
    chunks = stream(url, "a long answer please")
    text = content(chunks)
    assert text.startswith("Sentence 0 of a long and harmless answer.")
    assert len([c for c in chunks if c["choices"][0]["delta"].get("content")]) > 3
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    (event,) = stream_events(recorder)
    assert (event["outcome"], event["emitted_chars"]) == ("completed", len(text))


def test_a_secret_mid_stream_never_reaches_the_client(stack: tuple[str, Recorder, str]) -> None:
    url, recorder, action = stack
    chunks = stream(url, "a long answer, leak the key")
    text = content(chunks)
    assert KEY not in text
    if action == "block":
        assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
        assert 800 < len(text) < 1000  # released up to a window before the secret
        (event,) = stream_events(recorder)
        assert event["outcome"] == "cut"
    else:
        assert "[SECRET]" in text
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_an_aborted_stream_is_recorded_as_such(tmp_path: Path) -> None:
    for url, recorder in gateway(tmp_path, "block"):
        body = {
            "model": "m",
            "stream": True,
            "messages": [{"role": "user", "content": "a long answer"}],
        }
        with httpx.stream("POST", url + "/v1/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if '"content"' in line:
                    break  # the client goes away mid-answer
        events = stream_events(recorder)
        assert [e["outcome"] for e in events] == ["aborted"]
