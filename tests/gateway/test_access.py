"""Gateway access control: keys, limits, halts and approvals, through real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from swisscheese import Guard
from swisscheese.config import parse_policy
from swisscheese.core import Receipt
from swisscheese.gateway import AccessControl, GatewaySettings, HttpUpstream, create_app
from swisscheese.recorder import Recorder, RecordError
from swisscheese.store import AccessStore, Database
from tests.helpers.monitors import make_registry
from tests.helpers.servers import serve
from tests.helpers.upstream import make_upstream

POLICY = """\
version: 1
deployment: shop
layers:
  input:
    approval_timeout: {timeout}
    rules:
      - monitor: tests/word
        config: {{word: escalateme}}
        action: escalate
      - monitor: tests/word
        config: {{word: haltnow}}
        action: halt
      - monitor: signatures
        action: block
      - monitor: secrets
        action: log
"""


@dataclass
class Gateway:
    url: str
    store: AccessStore
    key: str


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with _gateway(tmp_path, 0.0) as gw:
        yield gw


@contextmanager
def _gateway(
    tmp_path: Path, timeout: float, rate: float | None = None, public_metrics: bool = False
) -> Iterator[Gateway]:
    tmp_path.mkdir(exist_ok=True)
    database = Database(str(tmp_path / "access.db"))
    store = AccessStore(database)
    _, key = store.create_key("app", rate=rate, burst=2 if rate else None)
    guard = Guard(parse_policy(POLICY.format(timeout=timeout)), registry=make_registry())
    access = AccessControl(store, guard.deployment, cache_ttl=0.0, poll_interval=0.05)
    upstream_app, _ = make_upstream()
    with serve(upstream_app) as upstream_url:
        settings = GatewaySettings(public_metrics=public_metrics)
        app = create_app(guard, HttpUpstream(upstream_url + "/v1"), settings, access=access)
        with serve(app) as url:
            yield Gateway(url, store, key)
    guard.close()
    database.close()


def chat(gw: Gateway, text: str, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or gw.key}"} if key != "" else {}
    return httpx.post(
        gw.url + "/v1/chat/completions",
        headers=headers,
        timeout=30,
        json={"model": "m", "messages": [{"role": "user", "content": text}]},
    )


def test_keys_are_required_and_checked(gateway: Gateway) -> None:
    assert chat(gateway, "hi").status_code == 200
    missing = chat(gateway, "hi", key="")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert chat(gateway, "hi", key="sc-000000000000.nope").status_code == 401
    assert gateway.store.revoke_key("app")
    assert chat(gateway, "hi").status_code == 401


def test_key_for_another_deployment_is_forbidden(gateway: Gateway) -> None:
    _, other = gateway.store.create_key("elsewhere", deployment="bank")
    response = chat(gateway, "hi", key=other)
    assert response.status_code == 403


def test_rate_limit(tmp_path: Path) -> None:
    with _gateway(tmp_path, 0.0, rate=1.0) as gw:
        codes = [chat(gw, "hi").status_code for _ in range(4)]
        assert codes[:2] == [200, 200]
        assert 429 in codes[2:]
        limited = chat(gw, "hi")
        assert limited.json()["error"]["type"] == "rate_limit_error"
        assert int(limited.headers["retry-after"]) >= 1


def test_halt_stops_the_deployment_until_resumed(gateway: Gateway) -> None:
    first = chat(gateway, "please haltnow")
    assert first.json()["choices"][0]["finish_reason"] == "content_filter"
    assert first.headers["x-swisscheese-reason"] == "deployment halted"
    assert gateway.store.halted("shop")
    stopped = chat(gateway, "hello")
    assert stopped.status_code == 503
    assert "halted" in stopped.json()["error"]["message"]
    # Alive, but not ready: a load balancer stops sending while it is halted.
    assert httpx.get(gateway.url + "/healthz").status_code == 200
    ready = httpx.get(gateway.url + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "halted"
    gateway.store.set_halted("shop", False, "resumed")
    time.sleep(1.1)  # replicas re-read the halt state every second
    assert chat(gateway, "hello").status_code == 200
    assert httpx.get(gateway.url + "/readyz").json()["status"] == "ready"


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json"])
def test_what_describes_the_gateway_needs_a_key_unless_made_public(
    gateway: Gateway, tmp_path: Path, path: str
) -> None:
    assert httpx.get(gateway.url + path).status_code == 401
    keyed = httpx.get(gateway.url + path, headers={"authorization": f"Bearer {gateway.key}"})
    assert keyed.status_code == 200
    with _gateway(tmp_path / "public", 0.0, public_metrics=True) as public:
        assert httpx.get(public.url + path).status_code == 200


def test_escalation_without_a_wait_is_a_block_with_a_pending_approval(gateway: Gateway) -> None:
    response = chat(gateway, "escalateme please, key AKIAIOSFODNN7EXAMPLE")
    assert response.json()["choices"][0]["finish_reason"] == "content_filter"
    assert response.headers["x-swisscheese-reason"] == "approval required"
    (pending,) = gateway.store.pending("shop")
    assert pending.id == response.headers["x-swisscheese-approval"]
    # The approver reads the request, with what monitors mark as secret redacted.
    assert pending.content == "escalateme please, key [SECRET]"


@pytest.mark.parametrize("approve", [True, False])
def test_escalation_waits_for_a_human(tmp_path: Path, approve: bool) -> None:
    with _gateway(tmp_path, 10.0) as gw:

        def operator(gw: Gateway = gw) -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pending = gw.store.pending("shop")
                if pending:
                    gw.store.decide(pending[0].id, approve, "alice")
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=operator)
        thread.start()
        response = chat(gw, "escalateme please")
        thread.join()
        choice = response.json()["choices"][0]
        if approve:
            assert choice["message"]["content"] == "You said: escalateme please"
        else:
            assert choice["finish_reason"] == "content_filter"


class UnwritableLog(Recorder):
    """A recorder whose every append fails, as when its disk is full."""

    def __init__(self) -> None:
        pass

    def record(self, event: object, payload: object = None) -> Receipt:
        raise RecordError("disk full")


def test_a_halt_the_log_cannot_record_still_halts_and_answers_503(tmp_path: Path) -> None:
    database = Database(str(tmp_path / "access.db"))
    store = AccessStore(database)
    _, key = store.create_key("app")
    guard = Guard(parse_policy(POLICY.format(timeout=0.0)), registry=make_registry())
    access = AccessControl(store, guard.deployment, cache_ttl=0.0, recorder=UnwritableLog())
    upstream_app, _ = make_upstream()
    with serve(upstream_app) as upstream_url:
        app = create_app(guard, HttpUpstream(upstream_url + "/v1"), access=access)
        with serve(app) as url:
            response = chat(Gateway(url, store, key), "haltnow please")
            assert response.status_code == 503
            assert "flight recorder is unavailable" in response.json()["error"]["message"]
            assert store.halted("shop") is not None  # tightening acts first
    guard.close()
    database.close()
