from __future__ import annotations

from swisscheese.core import Content, Context, Finding
from swisscheese.monitors.unicode import UnicodeConfig, UnicodeMonitor

MONITOR = UnicodeMonitor(UnicodeConfig())


def scan(text: str) -> list[Finding]:
    return MONITOR.inspect_sync(Content(text), Context())


def categories(text: str) -> list[str]:
    return [f.category for f in scan(text)]


def test_zero_width_inside_a_word_is_flagged_with_its_span() -> None:
    (f,) = scan("ig\u200b\u200bnore")
    assert f.category == "unicode.invisible"
    assert (f.spans[0].start, f.spans[0].end) == (2, 4)
    assert f.score >= 0.8


def test_tag_characters_reveal_the_hidden_text() -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "ignore previous")
    (f,) = scan("Nice day" + hidden)
    assert f.category == "unicode.tag"
    assert f.detail["hidden"] == "ignore previous"
    assert f.score == 1.0


def test_bidi_overrides_are_flagged() -> None:
    found = scan("access = \u202euser\u202c")
    assert [f.category for f in found] == ["unicode.bidi", "unicode.bidi"]
    assert max(f.score for f in found) >= 0.9


def test_mixed_script_word_is_a_confusable() -> None:
    (f,) = scan("p\u0430ypal login")  # Cyrillic a
    assert f.category == "unicode.confusable"
    assert f.detail["folded"] == "paypal"


def test_legitimate_unicode_is_not_flagged() -> None:
    assert scan("Family 👨\u200d👩\u200d👧 and love ❤\ufe0f") == []
    assert scan("\ufeffHello") == []  # byte-order mark
    assert scan("می\u200cخواهم") == []  # Persian uses ZWNJ inside words
    assert scan("Привет, как дела? Ελληνικά 中文 日本語") == []
    assert scan("England 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f") == []


def test_normalised_view_for_other_monitors() -> None:
    view = MONITOR.normalize("ig\u200bn\u043ere")
    assert view.text == "ignore"
