"""An agent's trace from OpenAI-style messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.common.traces import TraceError, message_steps, trace_from_messages
from swisscheese.core import Stage, ToolCall


def test_tool_results_are_named_after_the_tool_that_produced_them() -> None:
    trace = trace_from_messages(
        [
            {"role": "user", "content": "What is on my calendar?"},
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "get_day", "arguments": '{"day": "2024-05-15"}'},
                    },
                    {
                        "id": "b",
                        "type": "function",
                        "function": {"name": "get_mail", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "b", "content": "mail"},
            {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": "day"}]},
            {"role": "tool", "tool_call_id": "zz", "content": "orphan"},
        ]
    )
    assert [(s.role, s.stage, s.source, s.text) for s in trace] == [
        ("user", Stage.INPUT, None, "What is on my calendar?"),
        ("assistant", Stage.OUTPUT, None, "Let me look."),
        ("assistant", Stage.TOOL_CALL, "get_day", ""),
        ("assistant", Stage.TOOL_CALL, "get_mail", ""),
        ("tool", Stage.RETRIEVED, "get_mail", "mail"),
        ("tool", Stage.RETRIEVED, "get_day", "day"),
        ("tool", Stage.RETRIEVED, "zz", "orphan"),
    ]
    assert trace[2].tool_call == ToolCall("get_day", {"day": "2024-05-15"}, "a")


def test_arguments_that_are_not_a_json_object_are_kept_for_the_policy_to_refuse() -> None:
    (call,) = trace_from_messages(
        [
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "x", "type": "function", "function": {"name": "f", "arguments": "[1, 2"}}
                ],
            }
        ]
    )
    assert call.tool_call is not None
    assert call.tool_call.arguments == {"_raw": "[1, 2"}
    assert ToolCall.from_wire("f", "[1, 2]").arguments == {"_raw": "[1, 2]"}
    assert ToolCall.from_wire("f", [1, 2]).arguments == {"_value": [1, 2]}


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (["hello"], "message 0 is not an object"),
        ([{"role": "robot", "content": "x"}], "message 0 has role 'robot'"),
        ([{"role": "user", "content": 5}], "message 0: content is a int"),
        ([{"role": "assistant", "tool_calls": [{"id": "x"}]}], "message 0: a tool call without"),
    ],
)
def test_a_malformed_message_is_named(messages: list[object], error: str) -> None:
    with pytest.raises(TraceError, match=error):
        trace_from_messages(messages)  # type: ignore[arg-type]


@given(
    st.lists(st.sampled_from(["system", "user", "assistant", "tool"]), max_size=20),
    st.text(min_size=1, max_size=20),
)
def test_every_text_appears_once_in_order(roles: list[str], text: str) -> None:
    messages = [{"role": r, "content": f"{text}{i}"} for i, r in enumerate(roles)]
    trace = trace_from_messages(messages)
    assert [s.text for s in trace] == [m["content"] for m in messages]


def _conversation() -> st.SearchStrategy[list[dict[str, object]]]:
    """Chats with tool calls and the results that answer them (ids reused on purpose)."""
    ids = st.sampled_from(["c1", "c2", "c3"])
    call = st.builds(
        lambda i, name: {
            "id": i,
            "type": "function",
            "function": {"name": name, "arguments": "{}"},
        },
        ids,
        st.sampled_from(["search", "read_file", "send"]),
    )
    message = st.one_of(
        st.builds(
            lambda r, t: {"role": r, "content": t},
            st.sampled_from(["system", "user"]),
            st.text(max_size=8),
        ),
        st.builds(
            lambda t, calls: {"role": "assistant", "content": t or None, "tool_calls": calls},
            st.text(max_size=8),
            st.lists(call, max_size=2),
        ),
        st.builds(
            lambda i, t: {"role": "tool", "tool_call_id": i, "content": t}, ids, st.text(max_size=8)
        ),
    )
    return st.lists(message, max_size=12)


@given(_conversation())
def test_each_message_sees_the_trace_of_the_messages_before_it(
    messages: list[dict[str, object]],
) -> None:
    """What the gateway gives a tool result as its task is the conversation before it, exactly
    as a trace of that conversation alone would read."""
    steps = message_steps(messages)
    assert len(steps) == len(messages)
    for k in range(len(messages) + 1):
        before = tuple(s for per in steps[:k] for s in per)
        assert before == trace_from_messages(messages[:k])
