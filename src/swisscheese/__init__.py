"""swisscheese: layered, measured safeguards for deployed language models and agents.

Importing the package is cheap: the Guard and the monitors (and their dependencies) load on
first use of those names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swisscheese.core import Action, Content, Context, Finding, Stage, Verdict

if TYPE_CHECKING:
    from swisscheese.guard import Guard
    from swisscheese.monitors import monitor

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Content",
    "Context",
    "Finding",
    "Guard",
    "Stage",
    "Verdict",
    "__version__",
    "monitor",
]


def __getattr__(name: str) -> Any:
    if name == "Guard":
        from swisscheese.guard import Guard

        return Guard
    if name == "monitor":
        from swisscheese.monitors import monitor

        return monitor
    raise AttributeError(f"module 'swisscheese' has no attribute {name!r}")
