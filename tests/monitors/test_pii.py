from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.core import Content, Context
from swisscheese.monitors.pii import PiiConfig, PiiMonitor, iban_valid, luhn_valid

MONITOR = PiiMonitor(PiiConfig())


def kinds(text: str) -> list[str]:
    return [f.category for f in MONITOR.inspect_sync(Content(text), Context())]


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError


@given(st.sampled_from(["4", "51", "37", "6011"]), st.integers(min_value=10**10, max_value=10**12))
def test_valid_cards_are_found_and_one_digit_changes_are_not(prefix: str, n: int) -> None:
    number = luhn_complete(prefix + str(n)[: 15 - len(prefix)])
    assert kinds(f"card {number} thanks") == ["pii.payment_card"]
    last = number[-1]
    broken = number[:-1] + str((int(last) + 1) % 10)
    assert "pii.payment_card" not in kinds(f"card {broken} thanks")


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
    ],
)
def test_valid_ibans(iban: str) -> None:
    assert iban_valid(iban)
    assert kinds(f"pay to {iban} please") == ["pii.iban"]


def test_iban_checksum_and_length_are_checked() -> None:
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert not iban_valid("DE8937040044053201300")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail jane.doe+tag@mail.example.co.uk now", "pii.email"),
        ("call +44 20 7946 0958 today", "pii.phone"),
        ("call (415) 555-2671 today", "pii.phone"),
        ("ssn 123-45-6789", "pii.us_ssn"),
        ("server 8.8.8.8 answered", "pii.ip_address"),
        ("v6 2001:4860:4860::8888 up", "pii.ip_address"),
    ],
)
def test_each_kind(text: str, kind: str) -> None:
    assert kinds(text) == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "Version 1.2.3 released on 2024-05-01 at 10:30:15.",
        "Invalid ssn 000-12-3456 and 666-12-3456.",
        "Order #123456789 ships in 3-5 days.",
        "Python v3.11.7.1 is not an address.",
    ],
)
def test_lookalikes_are_not_pii(text: str) -> None:
    assert kinds(text) == []


def test_private_addresses_score_low() -> None:
    (f,) = MONITOR.inspect_sync(Content("host 192.168.1.10"), Context())
    assert f.score < 0.5
    quiet = PiiMonitor(PiiConfig(private_ips=False))
    assert quiet.inspect_sync(Content("host 192.168.1.10"), Context()) == []
