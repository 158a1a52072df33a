"""The agent layer: what an agent's tools may do, and where its code runs."""

from swisscheese.agents.sandbox import Limits as Limits
from swisscheese.agents.sandbox import RunResult as RunResult
from swisscheese.agents.sandbox import Sandbox as Sandbox
from swisscheese.agents.sandbox import SandboxError as SandboxError

__all__ = ["Limits", "RunResult", "Sandbox", "SandboxError"]
