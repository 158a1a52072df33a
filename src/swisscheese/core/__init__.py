"""Pure core types and functions: no I/O, and nothing else of swisscheese imported."""

from swisscheese.core._monitor import BatchMonitor as BatchMonitor
from swisscheese.core._monitor import Context as Context
from swisscheese.core._monitor import InlineMonitor as InlineMonitor
from swisscheese.core._monitor import Monitor as Monitor
from swisscheese.core._types import Action as Action
from swisscheese.core._types import Content as Content
from swisscheese.core._types import Finding as Finding
from swisscheese.core._types import MonitorRun as MonitorRun
from swisscheese.core._types import Origin as Origin
from swisscheese.core._types import Receipt as Receipt
from swisscheese.core._types import Role as Role
from swisscheese.core._types import RuleDecision as RuleDecision
from swisscheese.core._types import RunStatus as RunStatus
from swisscheese.core._types import Span as Span
from swisscheese.core._types import Stage as Stage
from swisscheese.core._types import ToolCall as ToolCall
from swisscheese.core._types import Verdict as Verdict
from swisscheese.core._types import instance_of as instance_of
from swisscheese.core._types import left_out as left_out
from swisscheese.core.canonical import canonical_json as canonical_json
from swisscheese.core.canonical import digest as digest
from swisscheese.core.canonical import json_text as json_text
from swisscheese.core.canonical import text_digest as text_digest
from swisscheese.core.text import decode_bytes as decode_bytes
from swisscheese.core.text import valid_text as valid_text

__all__ = [
    "Action",
    "BatchMonitor",
    "Content",
    "Context",
    "Finding",
    "InlineMonitor",
    "Monitor",
    "MonitorRun",
    "Origin",
    "Receipt",
    "Role",
    "RuleDecision",
    "RunStatus",
    "Span",
    "Stage",
    "ToolCall",
    "Verdict",
    "canonical_json",
    "decode_bytes",
    "digest",
    "json_text",
    "left_out",
    "text_digest",
    "valid_text",
]
