"""The shared vocabulary of findings: attack classes, hazard categories and data categories.

Codes are dotted; a selector matches a code equal to it or nested under it, so a rule with
``categories: [pii]`` applies to ``pii.email`` and ``pii.iban`` alike. Hazard codes follow the
MLCommons AILuminate hazard taxonomy, with ``cyber`` split out of non-violent crimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    ATTACK = "attack"
    HAZARD = "hazard"
    DATA = "data"
    INTEGRITY = "integrity"


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    kind: Kind
    title: str


_CATEGORIES: tuple[Category, ...] = (
    # attack classes
    Category("injection", Kind.ATTACK, "Prompt injection"),
    Category("injection.direct", Kind.ATTACK, "Direct injection: instruction override"),
    Category("injection.indirect", Kind.ATTACK, "Indirect injection in retrieved content"),
    Category("injection.delimiter", Kind.ATTACK, "Delimiter or role spoofing"),
    Category("jailbreak", Kind.ATTACK, "Jailbreak template or persona"),
    Category("prompt_extraction", Kind.ATTACK, "System-prompt extraction"),
    Category("obfuscation", Kind.ATTACK, "Encoded or obfuscated payload"),
    # hazards (AILuminate)
    Category("violent_crimes", Kind.HAZARD, "Violent crimes"),
    Category("non_violent_crimes", Kind.HAZARD, "Non-violent crimes"),
    Category("sex_crimes", Kind.HAZARD, "Sex-related crimes"),
    Category("cse", Kind.HAZARD, "Child sexual exploitation"),
    Category("cbrne", Kind.HAZARD, "Indiscriminate weapons (CBRNE)"),
    Category("cyber", Kind.HAZARD, "Cyber attacks and malware"),
    Category("self_harm", Kind.HAZARD, "Suicide and self-harm"),
    Category("hate", Kind.HAZARD, "Hate"),
    Category("privacy", Kind.HAZARD, "Privacy violations"),
    Category("ip", Kind.HAZARD, "Intellectual property"),
    Category("elections", Kind.HAZARD, "Elections"),
    Category("specialized_advice", Kind.HAZARD, "Specialized advice"),
    Category("defamation", Kind.HAZARD, "Defamation"),
    Category("sexual_content", Kind.HAZARD, "Sexual content"),
    # sensitive data
    Category("pii", Kind.DATA, "Personal data"),
    Category("pii.email", Kind.DATA, "E-mail address"),
    Category("pii.phone", Kind.DATA, "Phone number"),
    Category("pii.payment_card", Kind.DATA, "Payment card number"),
    Category("pii.iban", Kind.DATA, "IBAN"),
    Category("pii.us_ssn", Kind.DATA, "US social security number"),
    Category("pii.ip_address", Kind.DATA, "IP address"),
    Category("secret", Kind.DATA, "Credential or secret"),
    Category("canary_leak", Kind.DATA, "Canary token leaked (system prompt exposure)"),
    # text integrity
    Category("unicode", Kind.INTEGRITY, "Unicode manipulation"),
    Category("unicode.invisible", Kind.INTEGRITY, "Invisible or zero-width characters"),
    Category("unicode.tag", Kind.INTEGRITY, "Unicode tag characters (hidden ASCII)"),
    Category("unicode.bidi", Kind.INTEGRITY, "Bidirectional control characters"),
    Category("unicode.confusable", Kind.INTEGRITY, "Mixed-script confusable characters"),
    Category("unicode.invalid", Kind.INTEGRITY, "Text that was not valid Unicode (replaced)"),
    # tool use
    Category("tool", Kind.INTEGRITY, "Tool-call policy"),
    Category("tool.denied", Kind.INTEGRITY, "Tool call not permitted"),
    Category("tool.denied.unlisted", Kind.INTEGRITY, "A tool the policy does not list"),
    Category("tool.denied.blocked", Kind.INTEGRITY, "A tool the policy blocks"),
    Category("tool.denied.malformed", Kind.INTEGRITY, "Arguments that are not a JSON object"),
    Category("tool.denied.schema", Kind.INTEGRITY, "Arguments against the tool's JSON Schema"),
    Category("tool.denied.bound", Kind.INTEGRITY, "A number out of bounds or in another unit"),
    Category("tool.denied.path", Kind.INTEGRITY, "A path outside the allowed directories"),
    Category("tool.denied.url", Kind.INTEGRITY, "A URL off the allow-list or to a private host"),
    Category(
        "tool.denied.sql", Kind.INTEGRITY, "SQL that writes, stacks or calls a denied function"
    ),
    Category("tool.approval", Kind.INTEGRITY, "Tool needs human approval"),
    # information flow across an agent's trace
    Category("flow", Kind.INTEGRITY, "Information-flow rule over an agent's trace"),
    Category("flow.denied", Kind.INTEGRITY, "A call the trace's information flow forbids"),
    Category("flow.approval", Kind.INTEGRITY, "A call that needs approval after what was read"),
    Category("ai_generated", Kind.INTEGRITY, "Text a language model probably wrote"),
)

CATEGORIES: dict[str, Category] = {c.code: c for c in _CATEGORIES}

HAZARDS: tuple[str, ...] = tuple(c.code for c in _CATEGORIES if c.kind is Kind.HAZARD)
ATTACKS: tuple[str, ...] = tuple(c.code for c in _CATEGORIES if c.kind is Kind.ATTACK)


def is_known(code: str) -> bool:
    return code in CATEGORIES


def is_data(code: str) -> bool:
    """True when ``code`` (or the family it belongs to) is a kind of data: a secret, personal
    data, the canary: values, rather than a property of a whole text."""
    known = CATEGORIES.get(code) or CATEGORIES.get(code.split(".", 1)[0])
    return known is not None and known.kind is Kind.DATA


def matches(code: str, selector: str) -> bool:
    """True when ``code`` is ``selector`` or nested under it (``pii`` matches ``pii.email``)."""
    return code == selector or code.startswith(selector + ".")


def matches_any(code: str, selectors: tuple[str, ...] | frozenset[str]) -> bool:
    return any(matches(code, s) for s in selectors)
