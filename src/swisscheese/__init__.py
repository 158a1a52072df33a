"""swisscheese: layered, measured safeguards for deployed language models and agents."""

from swisscheese.core import Action, Content, Context, Finding, Stage, Verdict
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
