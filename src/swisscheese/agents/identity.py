"""Agent identities and attenuable capability tokens (Biscuit, via ``biscuit-python``).

- **Identity.** Each agent has an Ed25519 key pair; its public key is its identity, recorded
  in the flight recorder when the agent is registered.
- **Tokens.** The deployment's root key (Ed25519, kept by the operator) issues an agent a
  Biscuit token: the agent's name and public key, the tools it may call, upper bounds on
  numeric arguments, and an expiry. Any holder can *attenuate* a token, offline, by appending a
  block of checks (fewer tools, lower bounds, an earlier expiry, one run instance), and no
  holder can widen one: every check of every block must pass, and the authorizer grants tools
  only from facts in the root-signed authority block.
- **Runs.** An agent run has an instance id; the agent proves it holds its key by signing the
  instance id (``prove_instance``). A verifier checks the token's signature chain against the
  root public key, the proof against the key the token names, then authorizes each call.

Why Biscuit, not a macaroon scheme of our own: verification needs only the root's *public* key
(a gateway or proxy never holds a secret that could mint tokens), attenuation is offline and
cryptographically chained, and checks are Datalog evaluated by a maintained, audited library
rather than caveat parsing we would have to write and get right.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import biscuit_auth as biscuit
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from swisscheese.core import ToolCall
from swisscheese.core.errors import SwisscheeseError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BOUND = re.compile(r"^([A-Za-z0-9_.-]+)\.([A-Za-z0-9_]+)$")
MAX_TOKEN_CHARS = 16_384
# How an agent run presents itself over HTTP (to the gateway and to the MCP proxy).
TOKEN_HEADER = "x-swisscheese-agent-token"
INSTANCE_HEADER = "x-swisscheese-agent-instance"
PROOF_HEADER = "x-swisscheese-agent-proof"


@dataclass(frozen=True, slots=True)
class AgentCredentials:
    """What an agent run shows: its token, its instance id, and its proof of the instance."""

    token: str
    instance: str
    proof: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | None) -> AgentCredentials | None:
        """The credentials an HTTP request carries (None without a token header)."""
        token = headers.get(TOKEN_HEADER) if headers is not None else None
        if token is None or headers is None:
            return None
        return cls(token, headers.get(INSTANCE_HEADER, ""), headers.get(PROOF_HEADER, ""))


class CapabilityError(SwisscheeseError, ValueError):
    """A token that is forged, expired, malformed, or does not allow the call (says which)."""


def _check_name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise CapabilityError(f"invalid {kind} {value!r}: letters, digits, '.', '_', '-'")
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a token (or one attenuation of it) allows."""

    tools: tuple[str, ...] = ()
    """Tool names; empty in an attenuation: no narrowing of the tools."""
    bounds: Mapping[str, float] = field(default_factory=dict)
    """``"tool.argument"``: the largest value the numeric argument may take."""
    expires: dt.datetime | None = None
    instance: str | None = None
    """Only this run instance may use the token (attenuations)."""

    def checks(self) -> list[tuple[str, dict[str, Any]]]:
        """Datalog checks (with their parameters) that hold these capabilities. Checks about
        calls hold when the verifier only identifies the token (``identify(true)``, a fact
        only the verifier states: a block's facts are not seen by earlier blocks' checks)."""
        out: list[tuple[str, dict[str, Any]]] = []
        if self.tools:
            out.append(
                (
                    "check if identify(true) or tool($t), {allowed}.contains($t)",
                    {"allowed": set(self.tools)},
                )
            )
        for key, limit in sorted(self.bounds.items()):
            match = _BOUND.match(key)
            if match is None or not math.isfinite(limit):
                raise CapabilityError(f"a bound is TOOL.ARGUMENT=NUMBER, not {key!r}={limit!r}")
            tool, argument = match.groups()
            out.append(
                (
                    "check if identify(true) or tool($t), $t != {tool} "
                    "or arg({argument}, $v), $v <= {limit}",
                    {"tool": tool, "argument": argument, "limit": _number(limit)},
                )
            )
        if self.expires is not None:
            out.append(("check if time($now), $now <= {expires}", {"expires": self.expires}))
        if self.instance is not None:
            _check_name("instance", self.instance)
            out.append(("check if instance({instance})", {"instance": self.instance}))
        return out


def _number(value: float) -> int:
    # Biscuit integers are 64-bit; a bound is rounded down so it never widens.
    return math.floor(value)


# -- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentKey:
    """An agent's Ed25519 identity."""

    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> AgentKey:
        return cls(_check_name("agent name", name), Ed25519PrivateKey.generate())

    @property
    def public_hex(self) -> str:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def encode(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return f"AGENT+KEY+{self.name}+{seed.hex()}"

    @classmethod
    def parse(cls, text: str) -> AgentKey:
        parts = text.strip().split("+")
        if len(parts) != 4 or parts[:2] != ["AGENT", "KEY"]:
            raise CapabilityError("an agent key is AGENT+KEY+NAME+SEED")
        try:
            seed = bytes.fromhex(parts[3])
            return cls(
                _check_name("agent name", parts[2]), Ed25519PrivateKey.from_private_bytes(seed)
            )
        except ValueError as exc:
            raise CapabilityError(f"not an agent key: {exc}") from None

    def prove_instance(self, instance: str) -> str:
        """The proof that this agent runs ``instance``: its signature over the instance id."""
        _check_name("instance", instance)
        signature = self.private.sign(f"swisscheese-instance:{instance}".encode())
        return base64.urlsafe_b64encode(signature).decode().rstrip("=")


def new_root() -> biscuit.KeyPair:
    """A deployment's root key pair, which issues agent tokens."""
    return biscuit.KeyPair()


def root_to_text(root: biscuit.KeyPair) -> str:
    return "ROOT+KEY+" + bytes(root.private_key.to_bytes()).hex()


def root_from_text(text: str) -> biscuit.KeyPair:
    parts = text.strip().split("+")
    if len(parts) != 3 or parts[:2] != ["ROOT", "KEY"]:
        raise CapabilityError("a root key is ROOT+KEY+HEX")
    try:
        # The stubs omit the algorithm argument the runtime requires.
        private = biscuit.PrivateKey.from_bytes(  # type: ignore[call-arg]
            bytes.fromhex(parts[2]),
            biscuit.Algorithm.Ed25519,  # type: ignore[attr-defined]
        )
    except (ValueError, TypeError) as exc:
        raise CapabilityError(f"not a root key: {exc}") from None
    return biscuit.KeyPair.from_private_key(private)


def public_hex(root: biscuit.KeyPair) -> str:
    return bytes(root.public_key.to_bytes()).hex()


def public_from_hex(text: str) -> biscuit.PublicKey:
    try:
        return biscuit.PublicKey.from_bytes(  # type: ignore[call-arg]
            bytes.fromhex(text.strip()),
            biscuit.Algorithm.Ed25519,  # type: ignore[attr-defined]
        )
    except (ValueError, TypeError) as exc:
        raise CapabilityError(f"not a root public key: {exc}") from None


# -- tokens -----------------------------------------------------------------------------------


def issue(
    root: biscuit.KeyPair, agent: str, agent_public_hex: str, capabilities: Capabilities
) -> str:
    """A token for ``agent``, signed by the root key (base64)."""
    if not capabilities.tools:
        raise CapabilityError("a token allows at least one tool")
    if capabilities.expires is None:
        raise CapabilityError("a token must expire")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(agent_public_hex))
    except ValueError:
        raise CapabilityError("the agent's key is not an Ed25519 public key in hex") from None
    builder = biscuit.BiscuitBuilder(
        "agent({agent}); agent_key({key});", {"agent": _check_name("agent name", agent),
                                               "key": agent_public_hex}
    )  # fmt: skip
    for tool in capabilities.tools:
        builder.add_fact(biscuit.Fact("right({tool})", {"tool": tool}))
    for source, parameters in Capabilities(
        bounds=capabilities.bounds, expires=capabilities.expires, instance=capabilities.instance
    ).checks():
        builder.add_check(biscuit.Check(source, parameters))
    return str(builder.build(root.private_key).to_base64())


def attenuate(token: str, root_public: biscuit.PublicKey, capabilities: Capabilities) -> str:
    """The token narrowed by ``capabilities``: any holder can narrow it, with no secret (the
    root's public key checks the chain before a block is added)."""
    checks = capabilities.checks()
    if not checks:
        raise CapabilityError("an attenuation must narrow something")
    try:
        parsed = biscuit.Biscuit.from_base64(token.strip(), root_public)
    except Exception:
        raise CapabilityError("the agent token is forged or malformed") from None
    block = biscuit.BlockBuilder("")
    for source, parameters in checks:
        block.add_check(biscuit.Check(source, parameters))
    return str(parsed.append(block).to_base64())


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a verified token speaks for: recorded with every event of its requests."""

    agent: str
    agent_key: str
    instance: str
    token_id: str
    """The token's first revocation id (the same for every attenuation of one issued token)."""

    def label(self) -> str:
        return f"{self.agent}/{self.instance}"


class TokenVerifier:
    """Checks tokens against a deployment's root public key; authorizes calls."""

    def __init__(self, root_public: biscuit.PublicKey) -> None:
        self.root_public = root_public

    def _parse(self, token: str) -> biscuit.Biscuit:
        if len(token) > MAX_TOKEN_CHARS:
            raise CapabilityError("the agent token is too large")
        try:
            return biscuit.Biscuit.from_base64(token.strip(), self.root_public)
        except Exception:
            raise CapabilityError("the agent token is forged or malformed") from None

    def _authorizer(
        self, parsed: biscuit.Biscuit, instance: str, tool: str | None, arguments: Mapping[str, Any]
    ) -> biscuit.Authorizer:
        builder = biscuit.AuthorizerBuilder(
            "time({now}); instance({instance});", {"now": _now(), "instance": instance}
        )
        if tool is None:
            # Who the token speaks for, before any call: the checks scoped to calls hold.
            builder.add_fact(biscuit.Fact("identify(true)"))
            builder.add_policy(biscuit.Policy("allow if agent($a)"))
        else:
            builder.add_fact(biscuit.Fact("tool({tool})", {"tool": tool}))
            for name, value in arguments.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if not math.isfinite(value) or abs(value) >= 2**62:
                    raise CapabilityError(f"argument {name} is not a number a bound can check")
                # Rounded up: a bound of 500 refuses 500.5.
                builder.add_fact(
                    biscuit.Fact("arg({name}, {value})", {"name": name, "value": math.ceil(value)})
                )
            builder.add_policy(biscuit.Policy("allow if tool($t), right($t)"))
        # biscuit-python 0.4's type stubs omit the limits API its builder has.
        limits = builder.limits()  # type: ignore[attr-defined]
        limits.max_time = _DATALOG_TIME_LIMIT
        builder.set_limits(limits)  # type: ignore[attr-defined]
        return builder.build(parsed)

    def verify(self, token: str, instance: str, proof: str) -> Grant:
        """The grant of a token presented for run ``instance`` with the agent's ``proof``;
        raises CapabilityError if the token is forged, expired or bound to another run, or the
        proof is not the agent's."""
        _check_name("instance", instance)
        parsed = self._parse(token)
        authorizer = self._authorizer(parsed, instance, None, {})
        try:
            authorizer.authorize()
        except biscuit.AuthorizationError as exc:
            raise CapabilityError(_why(exc)) from None
        agent = _single(authorizer, "agent")
        key = _single(authorizer, "agent_key")
        try:
            padded = proof + "=" * (-len(proof) % 4)
            public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))
            public.verify(
                base64.urlsafe_b64decode(padded), f"swisscheese-instance:{instance}".encode()
            )
        except (InvalidSignature, ValueError):
            raise CapabilityError(f"the instance proof is not {agent!r}'s") from None
        revocation = parsed.revocation_ids
        return Grant(agent, key, instance, str(revocation[0]) if revocation else "")

    def authorize(self, token: str, grant: Grant, call: ToolCall) -> None:
        """Raise CapabilityError unless the token lets ``grant``'s run make ``call``."""
        parsed = self._parse(token)
        authorizer = self._authorizer(parsed, grant.instance, call.name, call.arguments)
        try:
            authorizer.authorize()
        except biscuit.AuthorizationError as exc:
            raise CapabilityError(f"{call.name!r}: {_why(exc)}") from None


_DATALOG_TIME_LIMIT = dt.timedelta(milliseconds=50)
"""biscuit's default of 1 ms is a scheduler's time slice: on a busy machine a valid token was
refused now and then ("Reached Datalog execution limits"). The fact and iteration limits still
bound what a token can make the authorizer do; the time limit is the backstop."""


def _single(authorizer: biscuit.Authorizer, predicate: str) -> str:
    facts = authorizer.query(biscuit.Rule(f"found($x) <- {predicate}($x)"))
    if len(facts) != 1:
        raise CapabilityError(f"the agent token names {len(facts)} {predicate}s, not one")
    return str(facts[0].terms[0])


def _why(exc: Exception) -> str:
    text = str(exc)
    if "no matching policy" in text or ".contains($t)" in text:
        return "not a capability of this token"
    if "$now <=" in text:
        return "the agent token has expired"
    if "instance(" in text:
        return "the agent token is bound to another run"
    if "arg(" in text:
        return "an argument is above the token's bound"
    return "the agent token's checks fail"


def parse_bounds(values: Sequence[str]) -> dict[str, float]:
    """``TOOL.ARGUMENT=NUMBER`` options as bounds."""
    bounds: dict[str, float] = {}
    for value in values:
        key, sep, number = value.partition("=")
        try:
            limit = float(number)
        except ValueError:
            limit = math.nan
        if not sep or not _BOUND.match(key) or not math.isfinite(limit):
            raise CapabilityError(f"a bound is TOOL.ARGUMENT=NUMBER, not {value!r}")
        bounds[key] = limit
    return bounds
