"""Who the current request acts for: an agent's run, as ``name/instance``.

A context variable, so every verdict recorded while a request is handled names the agent
(set by the gateway and the MCP proxy once a token is verified; None otherwise).
"""

from __future__ import annotations

from contextvars import ContextVar

ACTING_AGENT: ContextVar[str | None] = ContextVar("swisscheese_acting_agent", default=None)
