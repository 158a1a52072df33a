"""A model's tool call through the gateway meets the tool policy: an unlisted tool or an
argument out of bounds never reaches the client as a call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.test_every_byte import Gateway, request, run_gateway
from tests.helpers.scripted import completion
from tests.monitors.test_tools import AGENT_POLICY


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    yield from run_gateway(tmp_path, AGENT_POLICY)


def call(name: str, arguments: dict[str, object]) -> dict[str, object]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": "c1", "type": "function", "function": function}


@pytest.mark.parametrize(
    ("name", "arguments", "verdict"),
    [
        ("search", {"q": "weather"}, "tool_call=allow"),
        ("format_disk", {}, "tool_call=block"),
        ("transfer", {"amount": 2000}, "tool_call=block"),
        ("transfer", {"amount": 20}, "tool_call=escalate"),
    ],
)
def test_a_tool_call_meets_the_tool_policy(
    gw: Gateway, name: str, arguments: dict[str, object], verdict: str
) -> None:
    gw.script.answer = completion(
        {"role": "assistant", "content": None, "tool_calls": [call(name, arguments)]},
        finish_reason="tool_calls",
    )
    response = gw.post(request())
    assert response.status_code == 200
    assert verdict in response.headers["x-swisscheese-verdict"]
    choice = response.json()["choices"][0]
    if verdict == "tool_call=allow":
        assert choice["message"]["tool_calls"][0]["function"]["name"] == name
    else:
        assert choice["finish_reason"] == "content_filter"
        assert not choice["message"].get("tool_calls")
