"""The Guard: one explainable Verdict per content, from a policy's layers."""

from swisscheese.guard._approval import approval_excerpt as approval_excerpt
from swisscheese.guard._approval import approval_summary as approval_summary
from swisscheese.guard._guard import DEFAULT_MAX_CHARS as DEFAULT_MAX_CHARS
from swisscheese.guard._guard import Guard as Guard
from swisscheese.guard._guard import redacted as redacted
from swisscheese.guard._guard import text_of as text_of
from swisscheese.guard._guard import with_receipt as with_receipt
from swisscheese.guard._screening import decoder_inputs as decoder_inputs

__all__ = [
    "DEFAULT_MAX_CHARS",
    "Guard",
    "approval_excerpt",
    "approval_summary",
    "decoder_inputs",
    "redacted",
    "text_of",
    "with_receipt",
]
