"""Agent identities and capability tokens: a holder can narrow a token, never widen it; a
forged, expired or stolen token is refused with the reason."""

from __future__ import annotations

import datetime as dt

import biscuit_auth
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.agents.identity import (
    AgentKey,
    Capabilities,
    CapabilityError,
    TokenVerifier,
    attenuate,
    issue,
    new_root,
    parse_bounds,
    public_from_hex,
    public_hex,
    root_from_text,
    root_to_text,
)
from swisscheese.core import ToolCall

ROOT = new_root()
AGENT = AgentKey.generate("shopper")
VERIFIER = TokenVerifier(ROOT.public_key)
TOOLS = ("search", "send_money", "read_file", "delete_file")


def soon(seconds: int = 3600) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def token(**caps: object) -> str:
    capabilities = Capabilities(**{"tools": TOOLS[:2], "expires": soon(), **caps})  # type: ignore[arg-type]
    return issue(ROOT, "shopper", AGENT.public_hex, capabilities)


def allowed(tok: str, call: ToolCall, instance: str = "run-1") -> bool:
    grant = VERIFIER.verify(tok, instance, AGENT.prove_instance(instance))
    try:
        VERIFIER.authorize(tok, grant, call)
    except CapabilityError:
        return False
    return True


def test_a_token_allows_its_tools_within_their_bounds() -> None:
    tok = token(bounds={"send_money.amount": 500})
    assert allowed(tok, ToolCall("search", {"q": "shoes"}))
    assert allowed(tok, ToolCall("send_money", {"amount": 500, "to": "x"}))
    assert not allowed(tok, ToolCall("send_money", {"amount": 500.01}))
    assert not allowed(tok, ToolCall("delete_file", {"id": "13"}))
    tok_grant = VERIFIER.verify(tok, "r", AGENT.prove_instance("r"))
    with pytest.raises(CapabilityError, match="above the token's bound"):
        VERIFIER.authorize(tok, tok_grant, ToolCall("send_money", {"amount": 10_000}))


def test_the_grant_names_the_agent_its_key_and_its_run() -> None:
    grant = VERIFIER.verify(token(), "run-7", AGENT.prove_instance("run-7"))
    assert (grant.agent, grant.agent_key, grant.label()) == (
        "shopper", AGENT.public_hex, "shopper/run-7",
    )  # fmt: skip
    assert len(grant.token_id) >= 64


def test_attenuation_narrows_tools_bounds_expiry_and_run() -> None:
    tok = token(bounds={"send_money.amount": 500})
    public = ROOT.public_key
    narrowed = attenuate(tok, public, Capabilities(tools=("search",)))
    assert allowed(narrowed, ToolCall("search", {}))
    assert not allowed(narrowed, ToolCall("send_money", {"amount": 1}))
    lower = attenuate(tok, public, Capabilities(bounds={"send_money.amount": 100}))
    assert not allowed(lower, ToolCall("send_money", {"amount": 101}))
    one_run = attenuate(tok, public, Capabilities(instance="run-1"))
    assert allowed(one_run, ToolCall("search", {}), "run-1")
    with pytest.raises(CapabilityError, match="bound to another run"):
        VERIFIER.verify(one_run, "run-2", AGENT.prove_instance("run-2"))


def test_a_holder_cannot_widen_a_token() -> None:
    tok = token(bounds={"send_money.amount": 500})
    parsed = biscuit_auth.Biscuit.from_base64(tok, ROOT.public_key)
    block = biscuit_auth.BlockBuilder(
        'right("delete_file"); identify(true); tool("delete_file"); arg("amount", 0);'
    )
    widened = parsed.append(block).to_base64()
    assert not allowed(widened, ToolCall("delete_file", {}))
    assert not allowed(widened, ToolCall("send_money", {"amount": 100_000}))
    # A looser "attenuation" cannot undo a tighter bound.
    looser = attenuate(tok, ROOT.public_key, Capabilities(bounds={"send_money.amount": 10**9}))
    assert not allowed(looser, ToolCall("send_money", {"amount": 501}))


@settings(max_examples=40, deadline=None)
@given(
    st.sets(st.sampled_from(TOOLS), min_size=1),
    st.sets(st.sampled_from(TOOLS)),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.sampled_from(TOOLS),
    st.integers(0, 1200),
)
def test_whatever_an_attenuated_token_allows_the_original_allows(
    issued: set[str], narrowed: set[str], bound: int, lower: int, tool: str, amount: int
) -> None:
    original = issue(
        ROOT, "shopper", AGENT.public_hex,
        Capabilities(tools=tuple(issued), bounds={"send_money.amount": bound}, expires=soon()),
    )  # fmt: skip
    child = attenuate(
        original, ROOT.public_key,
        Capabilities(tools=tuple(narrowed), bounds={"send_money.amount": lower}),
    )  # fmt: skip
    call = ToolCall(tool, {"amount": amount})
    if allowed(child, call):
        assert allowed(original, call)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: issue(new_root(), "shopper", AGENT.public_hex,
                       Capabilities(tools=("search",), expires=soon())), "forged"),
        (lambda: token(expires=soon(-1)), "expired"),
        (lambda: token()[:-12] + "AAAAAAAAAAAA", "forged or malformed"),
        (lambda: "not a token", "forged or malformed"),
        (lambda: "A" * 20_000, "too large"),
    ],
)  # fmt: skip
def test_a_bad_token_is_refused_with_its_reason(make: object, reason: str) -> None:
    with pytest.raises(CapabilityError, match=reason):
        VERIFIER.verify(make(), "run-1", AGENT.prove_instance("run-1"))  # type: ignore[operator]


def test_a_stolen_token_is_useless_without_the_agents_key() -> None:
    thief = AgentKey.generate("thief")
    with pytest.raises(CapabilityError, match="instance proof is not 'shopper'"):
        VERIFIER.verify(token(), "run-9", thief.prove_instance("run-9"))
    with pytest.raises(CapabilityError, match="invalid instance"):
        VERIFIER.verify(token(), "run 9; drop", AGENT.prove_instance("run-9"))


def test_keys_round_trip_and_bad_options_are_errors() -> None:
    again = root_from_text(root_to_text(ROOT))
    assert public_hex(again) == public_hex(ROOT)
    assert bytes(public_from_hex(public_hex(ROOT)).to_bytes()) == bytes(ROOT.public_key.to_bytes())
    assert AgentKey.parse(AGENT.encode()).public_hex == AGENT.public_hex
    assert parse_bounds(["send_money.amount=500"]) == {"send_money.amount": 500.0}
    for bad in ("amount=5", "send_money.amount=lots", "send_money.amount=inf", "x.y"):
        with pytest.raises(CapabilityError):
            parse_bounds([bad])
    with pytest.raises(CapabilityError, match="must expire"):
        issue(ROOT, "a", AGENT.public_hex, Capabilities(tools=("search",)))
    with pytest.raises(CapabilityError, match="at least one tool"):
        issue(ROOT, "a", AGENT.public_hex, Capabilities(expires=soon()))
    with pytest.raises(CapabilityError, match="not a root key"):
        root_from_text("ROOT+KEY+zz")


def test_a_number_no_bound_can_check_is_refused() -> None:
    grant = VERIFIER.verify(token(), "r", AGENT.prove_instance("r"))
    with pytest.raises(CapabilityError, match="not a number a bound can check"):
        VERIFIER.authorize(token(), grant, ToolCall("search", {"n": float("inf")}))
