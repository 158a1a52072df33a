"""The opening a compliant model writes: the request restated ("Sure, here is a tutorial on ...").

Real harmful answers echo the request's own words before the steps; generated compliance that
never names its topic teaches a detector that only the shape of an answer matters.
"""

from __future__ import annotations

import re

__all__ = ["restate"]

_HOW = re.compile(
    r"^(?:how (?:do|can|could|would|should|might) (?:i|you|one|we|someone)|how to|"
    r"(?:show|tell|teach) me(?: how)? to|(?:explain|describe)(?: in detail)? how to|"
    r"(?:teach|instruct)(?: \w+)?(?: on)? how to)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_MAKE = re.compile(
    r"^(?:please |can you |could you )?(?:write|create|develop|design|produce|draft|compose|"
    r"generate|provide|give|outline|build|prepare|publish|i need)(?: me| us)?\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
# Courtesies and format requests that trail a request and have no place in the restatement.
_TAIL = re.compile(
    r"\s+(?:in under \d+ words|please|thanks|explain simply|keep it short|use bullet points|"
    r"answer in english|be detailed|:\)|asap)[.!]?$",
    re.IGNORECASE,
)
_PRONOUNS = {"my": "your", "me": "you", "i": "you", "myself": "yourself", "i'm": "you're"}
_OPENINGS = ("Sure, here {be} {rest}", "Certainly! Here {be} {rest}", "Here {be} {rest}")
_HOW_OPENINGS = ("Sure, here is how to {rest}", "Here's how to {rest}", "OK, to {rest}, do this")


def _clause(request: str) -> str | None:
    """The request's first sentence that reads as an instruction or a how-question."""
    for sentence in re.split(r"(?<=[.!?])\s+|:\s+|,\s+(?=[A-Z])", request.strip()):
        sentence = sentence.strip().rstrip(".!?").strip()
        while _TAIL.search(sentence):
            sentence = _TAIL.sub("", sentence).rstrip(".!?").strip()
        if _HOW.match(sentence) or _MAKE.match(sentence):
            return sentence
    return None


def _second_person(text: str) -> str:
    return re.sub(
        r"\b(my|me|i|myself|i'm)\b",
        lambda m: _PRONOUNS[m.group(0).lower()],
        text,
        flags=re.IGNORECASE,
    )


def restate(request: str, variant: int = 0) -> str | None:
    """An opening that restates ``request``, or None when it is not an instruction or a
    how-question (questions like "Which exploit ..." have no natural restatement)."""
    clause = _clause(request)
    if clause is None:
        return None
    how = _HOW.match(clause)
    if how:
        rest = _second_person(how.group("rest"))
        return _HOW_OPENINGS[variant % len(_HOW_OPENINGS)].format(rest=rest)
    make = _MAKE.match(clause)
    assert make is not None
    rest = _second_person(make.group("rest"))
    words = [w.lower() for w in rest.split()[:2]]
    plural = words[0] not in {"a", "an", "the", "one", "this", "that"} and any(
        w.endswith("s") and not w.endswith("ss") for w in words
    )
    be = "are" if plural else "is"
    return _OPENINGS[variant % len(_OPENINGS)].format(be=be, rest=rest)
