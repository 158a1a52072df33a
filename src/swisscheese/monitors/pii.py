"""Personal data with validators: e-mail, phone, payment card (Luhn), IBAN (mod 97), US SSN,
IP addresses. A MODIFY rule replaces each with a typed placeholder such as ``[EMAIL]``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Literal

from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor
from swisscheese.monitors._text import claim

Kind = Literal["email", "phone", "payment_card", "iban", "us_ssn", "ip_address"]
ALL_KINDS: tuple[Kind, ...] = ("email", "phone", "payment_card", "iban", "us_ssn", "ip_address")

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(?\b[2-9]\d{2}\)?[ .-]\d{3}[ .-]\d{4})(?![\w])"
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_DIGIT_RUN = re.compile(r"\d[ .-]?\d[ .-]?\d[ .-]?\d")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

# IBAN lengths by country (ISO 13616 registry).
_IBAN_LENGTH = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

_CARD_PREFIXES = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9]|2)|35)")

_PLACEHOLDERS: dict[Kind, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "payment_card": "[CARD]",
    "iban": "[IBAN]",
    "us_ssn": "[SSN]",
    "ip_address": "[IP]",
}


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "").upper()
    if _IBAN_LENGTH.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


class PiiConfig(MonitorConfig):
    kinds: tuple[Kind, ...] = ALL_KINDS
    """Which kinds of personal data to look for."""
    private_ips: bool = True
    """Also report private, loopback and documentation addresses (at a low score)."""


Match = tuple[int, int, float, dict[str, str]]


class PiiMonitor(Inline):
    name = "pii"
    stages = frozenset(Stage)

    def __init__(self, config: PiiConfig) -> None:
        self.config = config
        finders: dict[Kind, Callable[[str], Iterator[Match]]] = {
            "email": self._emails,
            "payment_card": self._cards,
            "iban": self._ibans,
            "us_ssn": self._ssns,
            "ip_address": self._ips,
            "phone": self._phones,
        }
        # Order matters: earlier kinds claim their spans first (a card is not also a phone).
        self._finders = [(k, finders[k]) for k in finders if k in config.kinds]

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        text = content.text
        findings: list[Finding] = []
        taken: list[tuple[int, int]] = []
        # Every kind but e-mail and IPv6 needs four digits close together.
        numeric = _DIGIT_RUN.search(text) is not None
        for kind, finder in self._finders:
            if not numeric and kind != "email" and not (kind == "ip_address" and ":" in text):
                continue
            for start, end, score, detail in finder(text):
                if not claim(taken, start, end):
                    continue
                findings.append(
                    Finding(
                        self.name,
                        f"pii.{kind}",
                        score,
                        (Span(start, end),),
                        {"replacement": _PLACEHOLDERS[kind], **detail},
                    )
                )
        return findings

    @staticmethod
    def _emails(text: str) -> Iterator[Match]:
        if "@" not in text:
            return
        for m in _EMAIL.finditer(text):
            yield m.start(), m.end(), 0.95, {}

    @staticmethod
    def _cards(text: str) -> Iterator[Match]:
        for m in _CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group())
            if 13 <= len(digits) <= 19 and _CARD_PREFIXES.match(digits) and luhn_valid(digits):
                yield m.start(), m.end(), 0.98, {}

    @staticmethod
    def _ibans(text: str) -> Iterator[Match]:
        for m in _IBAN.finditer(text):
            if iban_valid(m.group()):
                yield m.start(), m.end(), 0.99, {"country": m.group()[:2]}

    @staticmethod
    def _ssns(text: str) -> Iterator[Match]:
        for m in _SSN.finditer(text):
            yield m.start(), m.end(), 0.9, {}

    def _ips(self, text: str) -> Iterator[Match]:
        candidates = list(_IPV4.finditer(text)) if "." in text else []
        if text.count(":") >= 2:
            candidates += [m for m in _IPV6.finditer(text) if m.group().count(":") >= 2]
        for m in candidates:
            try:
                address = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if address.version == 4 and text[max(0, m.start() - 1) : m.start()] in ("v", "V"):
                continue  # a version number such as v1.2.3.4
            public = address.is_global
            if not public and not self.config.private_ips:
                continue
            yield m.start(), m.end(), (0.9 if public else 0.4), {"version": str(address.version)}

    @staticmethod
    def _phones(text: str) -> Iterator[Match]:
        for m in _PHONE.finditer(text):
            digits = sum(c.isdigit() for c in m.group())
            international = m.group().startswith("+")
            if (international and 8 <= digits <= 15) or (not international and digits == 10):
                yield m.start(), m.end(), 0.8, {}


@monitor(
    "pii",
    stages=list(Stage),
    categories=tuple(f"pii.{k}" for k in ALL_KINDS),
    config=PiiConfig,
    description="E-mail, phone, payment card (Luhn), IBAN (mod 97), US SSN, IP addresses",
)
def pii_monitor(config: PiiConfig) -> PiiMonitor:
    return PiiMonitor(config)
