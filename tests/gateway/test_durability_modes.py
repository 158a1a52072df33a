"""How many writes a request costs, and what is on record when: one transaction per request by
default, one per stage on request; nothing reaches the client before it is durable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from swisscheese import Guard
from swisscheese.gateway import GatewaySettings, HttpUpstream, create_app
from swisscheese.recorder import Recorder
from swisscheese.store import LogStore
from tests.helpers.scripted import Script, completion, make_scripted
from tests.helpers.servers import serve

BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "You plan trips."},
        {"role": "user", "content": "plan a day in Lisbon"},
        {"role": "assistant", "content": "Morning or evening?"},
        {"role": "user", "content": "morning"},
    ],
}


def gateway(tmp_path: Path, durability: str) -> Iterator[tuple[str, Recorder, list[int], Script]]:
    recorder = Recorder(LogStore(str(tmp_path / f"{durability}.db")))
    guard = Guard(recorder=recorder)
    commits: list[int] = []
    event.listen(recorder.store.writer, "commit", lambda _conn: commits.append(1))
    upstream_app, script = make_scripted()
    script.answer = completion({"role": "assistant", "content": "Start in Alfama."})
    settings = GatewaySettings(durability=durability)  # type: ignore[arg-type]
    with (
        serve(upstream_app) as upstream_url,
        serve(create_app(guard, HttpUpstream(upstream_url + "/v1"), settings)) as url,
    ):
        yield url, recorder, commits, script
    guard.close()
    recorder.close()


@pytest.mark.parametrize(("durability", "writes"), [("request", 1), ("stage", 2)])
def test_writes_per_request(tmp_path: Path, durability: str, writes: int) -> None:
    for url, recorder, commits, script in gateway(tmp_path, durability):
        # A model takes its time: in stage mode the input's write lands during it. (With an
        # instant model the writer thread may take both stages in one batch, one commit.)
        script.answer_delay = 0.2
        httpx.post(url + "/v1/chat/completions", json=BODY, timeout=30)  # warm up
        before = len(commits)
        response = httpx.post(url + "/v1/chat/completions", json=BODY, timeout=30)
        assert response.status_code == 200
        assert len(commits) - before == writes
        # What the headers name is on disk when the client reads them.
        indexes = [int(i) for i in response.headers["x-swisscheese-record"].split(",")]
        assert len(indexes) == 5  # four messages read, one answer: still one write a stage
        for index in indexes:
            entry = recorder.store.entry(index)
            assert entry is not None
            assert json.loads(entry.event)["type"] == "verdict"
        assert recorder.verify().ok


def test_an_upstream_failure_is_written_with_the_input_in_one_transaction(
    tmp_path: Path,
) -> None:
    for url, recorder, commits, script in gateway(tmp_path, "request"):
        script.status = 500
        script.answer = {"error": {"message": "overloaded"}}
        before = len(commits)
        response = httpx.post(url + "/v1/chat/completions", json=BODY, timeout=30)
        assert response.status_code == 502
        assert len(commits) - before == 1
        types = [json.loads(e.event)["type"] for e in recorder.store.entries()]
        assert types[-2:] == ["verdict", "upstream_error"]
