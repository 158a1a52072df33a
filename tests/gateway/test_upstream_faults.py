"""An upstream that fails, answers in odd shapes or refuses: the client gets an OpenAI-format
error (never a crash, never the upstream's own words or address), and the log records why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from swisscheese.config import parse_policy
from tests.gateway.test_every_byte import Gateway, request, run_gateway
from tests.helpers.scripted import chunk, completion

WINDOW = """\
version: 1
deployment: w
layers:
  input:
    rules: [{monitor: signatures, action: block}]
  output:
    stream_mode: window
    stream_window: 16
    rules: [{monitor: secrets, action: modify}]
"""


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    yield from run_gateway(tmp_path)


@pytest.fixture
def window(tmp_path: Path) -> Iterator[Gateway]:
    parse_policy(WINDOW)
    yield from run_gateway(tmp_path, WINDOW)


def upstream_errors(gw: Gateway) -> list[dict[str, Any]]:
    out = []
    for entry in gw.recorder.store.entries():
        event = json.loads(entry.event)
        if event["type"] == "upstream_error":
            payload = gw.recorder.store.payload(event["payload"])
            out.append({**event, "message": json.loads(payload or b"{}")["message"]})
    return out


ODD_ANSWERS = {
    "choices of strings": {"choices": ["x"]},
    "content a number": completion({"role": "assistant", "content": 5}),
    "message a list": {"choices": [{"index": 0, "message": [1], "finish_reason": "stop"}]},
    "choices not a list": {"choices": {"0": "x"}},
    "no choices": {"id": "x"},
}


@pytest.mark.parametrize("shape", list(ODD_ANSWERS))
def test_an_oddly_shaped_answer_is_a_recorded_502(gw: Gateway, shape: str) -> None:
    gw.script.answer = ODD_ANSWERS[shape]
    response = gw.post(request())
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "upstream_error"
    (failure,) = upstream_errors(gw)
    assert failure["status"] == 502


ODD_CHUNKS = {
    "a number": [b"data: 5\n\n"],
    "choices of strings": [b'data: {"choices": ["x"]}\n\n'],
    "delta a string": [b'data: {"choices": [{"index": 0, "delta": "hi"}]}\n\n'],
    "content a list": [b'data: {"choices": [{"index": 0, "delta": {"content": [1]}}]}\n\n'],
}


@pytest.mark.parametrize("shape", list(ODD_CHUNKS))
def test_an_oddly_shaped_chunk_is_a_502(gw: Gateway, shape: str) -> None:
    gw.script.raw_chunks = ODD_CHUNKS[shape]
    response = gw.post({**request(), "stream": True})
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "upstream_error"


def test_an_upstream_refusal_keeps_its_words_and_host_out_of_the_answer(gw: Gateway) -> None:
    gw.script.status = 400
    gw.script.answer = {"error": {"message": "Bad request at internal-llm.corp:8443 token=abc"}}
    response = gw.post(request())
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "the upstream model refused the request (400)"
    assert "internal-llm" not in response.text
    (failure,) = upstream_errors(gw)  # the operator sees everything
    assert "internal-llm.corp:8443" in failure["message"]


def test_an_unreachable_upstream_does_not_name_its_address(tmp_path: Path) -> None:
    from swisscheese import Guard
    from swisscheese.gateway import HttpUpstream, create_app
    from tests.helpers.servers import free_port, serve

    guard = Guard()
    app = create_app(guard, HttpUpstream(f"http://127.0.0.1:{free_port()}/v1"))
    with serve(app) as url:
        response = httpx.post(url + "/v1/chat/completions", json=request(), timeout=30)
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "the upstream model is unreachable"
    guard.close()


def test_a_json_answer_to_a_streaming_request_is_streamed_not_emptied(gw: Gateway) -> None:
    gw.script.json_for_streams = True
    gw.script.answer = completion(
        {"role": "assistant", "content": "Lisbon is lovely. Key AKIAIOSFODNN7EXAMPLE"}
    )
    response, events = gw.stream(request())
    assert response.status_code == 200
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    # Streamed, and built from screened text like any other answer.
    assert text == "Lisbon is lovely. Key [SECRET]"


def test_a_window_stream_whose_upstream_breaks_ends_with_an_error_event(window: Gateway) -> None:
    window.script.chunks = [chunk({"content": "word " * 10}) for _ in range(6)]
    window.script.break_after = 3
    response, events = window.stream(request())
    assert response.status_code == 200
    assert events[-1]["error"]["type"] == "upstream_error"
    assert "went away" not in response.text
    assert response.text.rstrip().endswith("}")  # no [DONE] after an error


@pytest.mark.parametrize(
    "field",
    [
        {"max_tokens": -1},
        {"max_tokens": 0},
        {"max_tokens": 1.5},
        {"temperature": 9},
        {"top_p": -0.1},
        {"logit_bias": {"50256": 1000}},
    ],
)
def test_sampling_values_out_of_range_are_422(gw: Gateway, field: dict[str, Any]) -> None:
    response = gw.post(request(**field))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"].startswith(next(iter(field)))
    assert gw.script.received == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(gw: Gateway, constant: str) -> None:
    raw = json.dumps(request()).replace('"model"', f'"temperature": {constant}, "model"')
    response = httpx.post(
        gw.url + "/v1/chat/completions",
        content=raw,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert f"{constant} is not JSON" in response.json()["error"]["message"]
    assert gw.script.received == []
