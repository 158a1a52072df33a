"""Agent tokens at the gateway: who a request acts for, and which tool calls it may receive.

A request that acts for an agent run sends three headers: ``x-swisscheese-agent-token`` (its
capability token), ``x-swisscheese-agent-instance`` (the run) and ``x-swisscheese-agent-proof``
(the agent's signature over the run id). A token that is forged, expired, bound to another run
or presented without the agent's proof is a 401, recorded; every verdict of an admitted request
names the run; a tool call the model proposes that the token does not allow is refused and
recorded.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from starlette.requests import Request

from swisscheese.agents.identity import (
    TOKEN_HEADER,
    AgentCredentials,
    CapabilityError,
    Grant,
    TokenVerifier,
)
from swisscheese.core import ToolCall
from swisscheese.gateway._errors import ApiError


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified agent run a request acts for."""

    grant: Grant
    token: str
    verifier: TokenVerifier

    def refusal(self, call: ToolCall) -> str | None:
        """Why the token does not allow ``call``, or None."""
        try:
            self.verifier.authorize(self.token, self.grant, call)
        except CapabilityError as exc:
            return str(exc)
        return None


CALLER: ContextVar[Caller | None] = ContextVar("swisscheese_gateway_caller", default=None)


def caller_of(request: Request, verifier: TokenVerifier | None, required: bool) -> Caller | None:
    """The agent run the request acts for (None without a token, when none is required);
    ApiError 401 for a token that does not verify."""
    credentials = AgentCredentials.from_headers(request.headers)
    if credentials is None:
        if required:
            raise ApiError(
                401, f"this deployment serves agents only: send {TOKEN_HEADER}",
                code="invalid_agent_token",
            )  # fmt: skip
        return None
    if verifier is None:
        raise ApiError(401, "this deployment accepts no agent tokens", code="invalid_agent_token")
    try:
        grant = verifier.verify(credentials.token, credentials.instance, credentials.proof)
    except CapabilityError as exc:
        raise ApiError(401, str(exc), code="invalid_agent_token") from None
    return Caller(grant, credentials.token, verifier)
