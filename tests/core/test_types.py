from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.core import Action, Finding, Span, Stage, canonical_json, digest, text_digest
from swisscheese.core.taxonomy import ATTACKS, CATEGORIES, HAZARDS, matches, matches_any

ORDER = ["allow", "log", "flag", "modify", "escalate", "block", "halt"]


def test_actions_are_totally_ordered_by_severity() -> None:
    assert [a.value for a in sorted(Action, key=lambda a: a.rank)] == ORDER
    assert Action.ALLOW < Action.LOG < Action.FLAG < Action.MODIFY < Action.ESCALATE
    assert Action.ESCALATE < Action.BLOCK < Action.HALT
    assert max(Action.FLAG, Action.BLOCK, Action.MODIFY) is Action.BLOCK
    assert [a.stops for a in Action] == [False] * 4 + [True] * 3


@given(st.lists(st.sampled_from(list(Action)), min_size=1))
def test_max_of_actions_is_the_most_severe(actions: list[Action]) -> None:
    assert max(actions).rank == max(a.rank for a in actions)


def test_stage_values_are_the_policy_keys() -> None:
    assert [s.value for s in Stage] == [
        "input",
        "retrieved",
        "reasoning",
        "output",
        "tool_call",
        "corpus",
    ]


def test_invalid_spans_and_scores_are_rejected() -> None:
    with pytest.raises(ValueError, match="invalid span"):
        Span(5, 2)
    with pytest.raises(ValueError, match="outside"):
        Finding("m", "jailbreak", 1.5)


def test_taxonomy_has_the_ailuminate_hazards_and_attack_classes() -> None:
    assert set(HAZARDS) == {
        "violent_crimes",
        "non_violent_crimes",
        "sex_crimes",
        "cse",
        "cbrne",
        "cyber",
        "self_harm",
        "hate",
        "privacy",
        "ip",
        "elections",
        "specialized_advice",
        "defamation",
        "sexual_content",
    }
    assert {
        "injection.direct",
        "injection.indirect",
        "jailbreak",
        "obfuscation",
        "prompt_extraction",
    } <= set(ATTACKS)
    assert all(code == c.code for code, c in CATEGORIES.items())


def test_category_selectors_match_nested_codes_only() -> None:
    assert matches("pii.email", "pii")
    assert matches("pii", "pii")
    assert not matches("piiano", "pii")
    assert matches_any("injection.direct", ("cyber", "injection"))


def test_canonical_json_follows_rfc8785() -> None:
    assert canonical_json({"b": 1, "a": [True, None, 1.5], "c": "é"}) == (
        '{"a":[true,null,1.5],"b":1,"c":"é"}'.encode()
    )
    # RFC 8785 number serialisation (ECMAScript): no trailing zeros, exponent form for large.
    assert canonical_json([1.0, 1e30, 0.000001]) == b"[1,1e+30,0.000001]"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_canonical_json_round_trips_and_ignores_key_order(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    if isinstance(value, dict):
        assert canonical_json(dict(reversed(list(value.items())))) == encoded
    assert digest(value) == digest(json.loads(encoded))


def test_digests_are_prefixed_sha256() -> None:
    assert text_digest("") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert digest({"a": 1}).startswith("sha256:")
