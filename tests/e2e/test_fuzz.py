"""Fuzzing every route from the gateway's own OpenAPI schema (schemathesis, bounded): no input
makes a route answer 500, errors keep the OpenAI format, and every record a response names is
in the log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swisscheese import Guard
from swisscheese.gateway import AccessControl, HttpUpstream, create_app
from swisscheese.recorder import Recorder
from swisscheese.store import AccessStore, Database, LogStore
from tests.helpers.servers import serve
from tests.helpers.upstream import make_upstream


@dataclass
class Target:
    url: str
    recorder: Recorder
    key: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    database = Database(str(path / "gw.db"))
    recorder = Recorder(LogStore(database))
    store = AccessStore(database)
    _, key = store.create_key("fuzzer")
    guard = Guard(recorder=recorder)
    upstream_app, _ = make_upstream()
    with serve(upstream_app) as upstream_url:
        access = AccessControl(store, guard.deployment, require_auth=True)
        app = create_app(guard, HttpUpstream(upstream_url + "/v1"), access=access)
        with serve(app) as url:
            yield Target(url, recorder, key)
    guard.close()
    recorder.close()
    database.close()


def _cases(url: str, key: str) -> Any:
    described = httpx.get(url + "/openapi.json", headers={"authorization": f"Bearer {key}"})
    schema = schemathesis.openapi.from_dict(described.json())
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    return st.one_of(*(operation.as_strategy() for operation in operations))


@pytest.mark.parametrize("auth", [True, False], ids=["with-key", "without-key"])
def test_no_input_makes_any_route_fail_or_lose_its_record(target: Target, auth: bool) -> None:
    headers = {"authorization": f"Bearer {target.key}"} if auth else {}
    seen: set[int] = set()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=_cases(target.url, target.key))
    def exchange(case: Any) -> None:
        response = case.call(base_url=target.url, headers=headers, timeout=30)
        seen.add(response.status_code)
        assert response.status_code < 500 or response.status_code in (502, 503, 504), (
            response.status_code,
            response.text[:300],
        )
        if response.status_code >= 400 and case.path != "/metrics":
            error = response.json()["error"]
            assert isinstance(error["message"], str)
            assert isinstance(error["type"], str)
        recorded = response.headers.get("x-swisscheese-record") or [""]
        for index in filter(None, recorded[0].split(",")):
            assert target.recorder.store.entry(int(index)) is not None

    exchange()
    assert 200 in seen
    if not auth:
        assert seen <= {200, 401}  # health and readiness are open; all else needs a key
    assert target.recorder.verify().ok
