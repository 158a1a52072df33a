"""Properties of the wire format over arbitrary input: whatever JSON an upstream sends, the
completion built for the client holds no string that was not screened (or is not a fixed word
or a safe identifier), and parsing never fails with anything but a clear error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.gateway import _wire as wire

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    ["content", "refusal", "reasoning_content", "reasoning", "tool_calls", "function_call",
     "audio", "annotations", "role", "x", "logprobs", "function", "name", "arguments", "id",
     "type", "text", "token"]
)  # fmt: skip
shaped = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=40,
)
choice = st.fixed_dictionaries(
    {"message": shaped}, optional={"logprobs": shaped, "finish_reason": json_leaf}
)
answers = st.fixed_dictionaries(
    {"choices": st.lists(choice, max_size=3)},
    optional={
        "id": json_value,
        "model": json_value,
        "usage": json_value,
        "x_extra": json_value,
        "system_fingerprint": json_value,
    },
)

FIXED = {"assistant", "function", "chat.completion", "stop", "length", "tool_calls",
         "content_filter", "function_call", "m"}  # fmt: skip


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@settings(max_examples=300, deadline=None)
@given(answer=answers)
def test_the_client_gets_only_screened_text(answer: dict[str, Any]) -> None:
    try:
        reads = wire.answer_reads(answer, ())
    except ValueError:
        return  # answered as a 502
    screened = [s.content.text for _, s in reads]
    for _, s in reads:
        call = s.content.tool_call
        if call is not None:
            screened += [call.name, wire.spelled(dict(call.arguments))]
    choices = wire.choices_from(answer)
    completion = wire.build_completion(answer, choices, "m")
    json.dumps(completion)  # serialisable
    assert wire.MODEL_ID.fullmatch(completion.pop("model"))  # a name, not text
    for text in strings(completion):
        if (
            not text
            or text in FIXED
            or wire.SAFE_ID.fullmatch(text)
            or text in wire.completion_keys()
        ):
            continue
        assert any(text == s or (len(text) > 1 and text in s) for s in screened), text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30))
def test_any_text_becomes_valid_unicode(text: str) -> None:
    raw = json.dumps({"s": text}).encode()
    cleaned = wire.clean_json(json.loads(raw))
    cleaned["s"].encode("utf-8")  # never raises
    if text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == text:
        assert cleaned["s"] == text


def test_a_duplicate_key_cannot_smuggle_a_second_spelling() -> None:
    raw = '{"to": "attacker@example.net", "to": "me@example.org"}'
    answer = {
        "choices": [
            {
                "message": {
                    "tool_calls": [{"id": "c", "function": {"name": "send", "arguments": raw}}]
                }
            }
        ]
    }
    (read,) = wire.answer_reads(answer, ())
    completion = wire.build_completion(answer, wire.choices_from(answer), "m")
    sent = completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert "attacker" not in sent
    assert json.loads(sent) == dict(read[1].content.tool_call.arguments)  # type: ignore[union-attr]
    request = wire.ChatRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "function": {"name": "send", "arguments": raw}}],
                },
                {"role": "user", "content": "go"},
            ],
        }
    )
    slots = wire.request_reads(request)
    forwarded = wire.forward_body(request, slots, [None] * len(slots))
    assert "attacker" not in json.dumps(forwarded)
