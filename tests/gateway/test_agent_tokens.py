"""Agent tokens at the gateway: the run is named in every verdict it causes; a call outside
its capabilities and a bad token are refused, and recorded."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from swisscheese import Guard
from swisscheese.agents.identity import AgentKey, Capabilities, TokenVerifier, issue, new_root
from swisscheese.gateway import GatewaySettings
from swisscheese.recorder import Recorder
from swisscheese.store import LogStore
from tests.gateway.test_tool_policy import call
from tests.helpers.scripted import Script, completion, scripted_gateway

ROOT = new_root()
AGENT = AgentKey.generate("buyer")


def headers(token: str, instance: str = "run-1", key: AgentKey = AGENT) -> dict[str, str]:
    return {
        "x-swisscheese-agent-token": token,
        "x-swisscheese-agent-instance": instance,
        "x-swisscheese-agent-proof": key.prove_instance(instance),
    }


def token(expires_in: int = 3600) -> str:
    caps = Capabilities(
        tools=("search", "send_money"),
        bounds={"send_money.amount": 100},
        expires=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in),
    )
    return issue(ROOT, "buyer", AGENT.public_hex, caps)


class Gw:
    def __init__(self, url: str, script: Script, recorder: Recorder) -> None:
        self.url, self.script, self.recorder = url, script, recorder

    def post(self, extra: dict[str, str]) -> httpx.Response:
        body = {"model": "m", "messages": [{"role": "user", "content": "buy it"}]}
        return httpx.post(self.url + "/v1/chat/completions", json=body, headers=extra, timeout=30)

    def events(self) -> list[dict[str, object]]:
        return [json.loads(e.event) for e in self.recorder.store.entries()]


@pytest.fixture(params=[False, True], ids=["optional", "required"])
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gw]:
    recorder = Recorder(LogStore(str(tmp_path / "log.db")))
    guard = Guard(recorder=recorder)
    settings = GatewaySettings(
        agent_tokens=TokenVerifier(ROOT.public_key), require_agent=request.param
    )
    with scripted_gateway(guard, settings) as (url, script):
        yield Gw(url, script, recorder)
    guard.close()
    recorder.close()


def answer_with(gw: Gw, name: str, arguments: dict[str, object]) -> None:
    gw.script.answer = completion(
        {"role": "assistant", "content": None, "tool_calls": [call(name, arguments)]},
        finish_reason="tool_calls",
    )


def test_a_call_within_the_token_passes_and_its_verdicts_name_the_run(gw: Gw) -> None:
    answer_with(gw, "send_money", {"amount": 50})
    response = gw.post(headers(token()))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "send_money"
    )
    verdicts = [e for e in gw.events() if e["type"] == "verdict"]
    assert verdicts
    assert {e.get("agent") for e in verdicts} == {"buyer/run-1"}


@pytest.mark.parametrize(
    ("name", "arguments"), [("send_money", {"amount": 500}), ("delete_account", {})]
)
def test_a_call_outside_the_token_is_refused_and_recorded(
    gw: Gw, name: str, arguments: dict[str, object]
) -> None:
    answer_with(gw, name, arguments)
    response = gw.post(headers(token()))
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert not choice["message"].get("tool_calls")
    assert response.headers["x-swisscheese-reason"] == "capability denied"
    (denied,) = [e for e in gw.events() if e["type"] == "capability_denied"]
    assert (denied["agent"], denied["tool"]) == ("buyer/run-1", name)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (lambda: headers(token(expires_in=-5)), "expired"),
        (lambda: headers(token(), key=AgentKey.generate("thief")), "instance proof"),
        (lambda: headers(issue(new_root(), "buyer", AGENT.public_hex, Capabilities(
            tools=("search",), expires=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))),
         "forged"),
        (lambda: {**headers(token()), "x-swisscheese-agent-instance": "../../etc"}, "instance"),
    ],
)  # fmt: skip
def test_a_bad_token_is_a_401_and_recorded(gw: Gw, extra: object, reason: str) -> None:
    response = gw.post(extra())  # type: ignore[operator]
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_agent_token"
    assert reason in error["message"]
    assert any(e["type"] == "capability_denied" for e in gw.events())
    assert not gw.script.received  # the model never saw the request


def test_without_a_token_the_deployment_decides(gw: Gw, request: pytest.FixtureRequest) -> None:
    gw.script.answer = completion({"role": "assistant", "content": "ok"})
    response = gw.post({})
    required = "required" in request.node.callspec.id
    assert response.status_code == (401 if required else 200)
